"""Rate limits counted with one atomic increment of a cache counter per request.

DRF's own rate throttles keep each client's request times in the cache as a list, read it,
prune it and write it back on every request: the cost of a request grows with the rate
allowed (a list of up to 3,000 times, unpickled and pickled again each time), and two app
servers sharing Redis can both read the same list and count one request where there were two.

These throttles count in fixed windows instead, with django-ratelimit's counters
(``cache.add``, then ``cache.incr``: atomic in Redis, so every app server sharing it counts
every request). The rates and settings are DRF's (``DEFAULT_THROTTLE_RATES``), and a client
over its rate still gets a 429 with ``Retry-After``: the seconds left in its window. A window
of each client starts at a time of its own (django-ratelimit spreads them), so that clients do
not all get their allowance back at once. As with any fixed window, a client can make up to
twice its rate across the end of one window and the start of the next.
"""

from django_ratelimit.core import get_usage
from rest_framework import throttling


class CountedRateThrottle(throttling.SimpleRateThrottle):
    """``SimpleRateThrottle`` with its history list replaced by a counter per window."""

    usage = None

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        self.usage = get_usage(
            request,
            group=self.scope,
            key=lambda group, request: key,
            rate=(self.num_requests, self.duration),
            # A read the replica failed is run again on the primary (osint/replicas.py): the
            # client made one request, counted on the first run.
            increment=not getattr(request, "replica_retry", False),
        )
        return self.usage is None or not self.usage["should_limit"]

    def wait(self):
        if self.usage is None:
            return None
        return max(self.usage["time_left"], 1)


class AnonRateThrottle(CountedRateThrottle, throttling.AnonRateThrottle):
    """Clients without credentials, by address (``anon`` rate)."""


class UserRateThrottle(CountedRateThrottle, throttling.UserRateThrottle):
    """Signed-in users, by user (``user`` rate). Anonymous clients are the ``anon`` throttle's
    alone: DRF's would count them a second time, under the higher rate."""

    def get_cache_key(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return None
        return super().get_cache_key(request, view)
