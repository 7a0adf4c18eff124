"""Read replicas: which database each query goes to.

With ``DATABASE_REPLICA_URLS`` set (see ``settings.py``), the databases ``replica1``,
``replica2``, ... are PostgreSQL streaming replicas of ``default``, the primary. The rules:

- Only the reads of a GET, HEAD or OPTIONS request to ``/api/`` may go to a replica. Writes,
  every read of any other request (the admin, authentication, management commands such as
  migrations and imports) and every read inside a transaction go to the primary.
- Read your writes: a client that has just written reads from the primary for
  ``DATABASE_READ_YOUR_WRITES_SECONDS``. Two mechanisms, both shared by every app server: the
  response to a write sets the cookie ``osint_primary`` (django-multidb-router's pinning cookie,
  for browsers and cookie-keeping clients), and the user who wrote is remembered in the shared
  cache (Redis), so that a token client that keeps no cookie is pinned too.
- A replica is checked at most every ``DATABASE_REPLICA_CHECK_SECONDS`` by each process: one
  that cannot be reached, is not in recovery (it was promoted, or is not a replica at all) or
  lags by more than ``DATABASE_REPLICA_MAX_LAG`` seconds is left out until a later check finds
  it well; with none left, reads go to the primary. A request whose read fails on a replica
  between two checks is answered from the primary instead: the replica is checked at once, and
  the view runs again, pinned.

Pinning itself (a thread-local flag, ``use_primary_db``) and the cookie come from
django-multidb-router; the choice among healthy replicas is this module's.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from dataclasses import dataclass

import multidb
from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connections
from multidb.middleware import READ_ONLY_METHODS, PinningRouterMiddleware
from multidb.pinning import pin_this_thread, this_thread_is_pinned, unpin_this_thread
from rest_framework import authentication

from osint.middleware import DatabaseUnavailableMiddleware

logger = logging.getLogger(__name__)

# Apps whose reads always go to the primary, whatever the request: logging in, tokens and
# permissions must see a change the moment it is made.
PRIMARY_APPS = frozenset({"auth", "authtoken", "sessions", "admin", "contenttypes"})

# The lag of a replica, in seconds: none when it has replayed everything it received, else the
# time since the last transaction it replayed. A replica whose WAL receiver is not streaming
# (it lost the primary) is as old as its last replayed transaction.
LAG_SQL = """
SELECT pg_is_in_recovery(),
       CASE
           WHEN NOT pg_is_in_recovery() THEN NULL
           WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()
                AND EXISTS (SELECT FROM pg_stat_wal_receiver WHERE status = 'streaming') THEN 0
           ELSE COALESCE(EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp()), 0)
       END
"""

_state = threading.local()  # replica_allowed: bool, used: set of aliases read this request


def replica_aliases() -> list[str]:
    return list(getattr(settings, "REPLICA_DATABASES", ()))


def enabled() -> bool:
    return bool(replica_aliases())


@dataclass
class Health:
    healthy: bool = False
    checked: float = float("-inf")  # time.monotonic() of the last check
    reason: str = "not checked yet"


class ReplicaPool:
    """The replicas this process knows of, each with the outcome of its last check."""

    def __init__(self, aliases: list[str]):
        self.aliases = aliases
        self.health = {alias: Health() for alias in aliases}
        self._turn = itertools.count()

    def check(self, alias: str) -> Health:
        """Asks the replica whether it is in recovery and how far behind it is."""
        max_lag = float(getattr(settings, "DATABASE_REPLICA_MAX_LAG", 10))
        connection = connections[alias]
        try:
            with connection.cursor() as cursor:
                cursor.execute(LAG_SQL)
                in_recovery, lag = cursor.fetchone()
        except (OperationalError, InterfaceError) as error:
            # The broken connection is dropped, so that the next check connects afresh.
            try:
                connection.close()
            except Exception:  # noqa: BLE001 (closing a dead connection may fail in any way)
                pass
            health = Health(
                False,
                time.monotonic(),
                f"unreachable: {(str(error).strip().splitlines() or [type(error).__name__])[0]}",
            )
        else:
            if not in_recovery:
                health = Health(False, time.monotonic(), "not in recovery: it is not a replica of the primary")
            elif lag > max_lag:
                health = Health(False, time.monotonic(), f"{lag:.1f} s behind (more than {max_lag:g} s)")
            else:
                health = Health(True, time.monotonic(), f"{lag:.1f} s behind")
        previous = self.health[alias]
        if health.healthy != previous.healthy:
            logger.log(
                logging.INFO if health.healthy else logging.WARNING,
                "Replica %s %s (%s)",
                alias,
                "is in use" if health.healthy else "is left out",
                health.reason,
            )
        self.health[alias] = health
        return health

    def current(self, alias: str) -> Health:
        interval = float(getattr(settings, "DATABASE_REPLICA_CHECK_SECONDS", 2))
        health = self.health[alias]
        if time.monotonic() - health.checked >= interval:
            health = self.check(alias)
        return health

    def choose(self) -> str:
        """A healthy replica, taking turns; the primary when none is."""
        count = len(self.aliases)
        start = next(self._turn)
        for offset in range(count):
            alias = self.aliases[(start + offset) % count]
            if self.current(alias).healthy:
                return alias
        return DEFAULT_DB_ALIAS


_pool: ReplicaPool | None = None
_pool_lock = threading.Lock()


def pool() -> ReplicaPool:
    global _pool
    if _pool is None or _pool.aliases != replica_aliases():
        with _pool_lock:
            if _pool is None or _pool.aliases != replica_aliases():
                _pool = ReplicaPool(replica_aliases())
    return _pool


def reads_may_use_replica() -> bool:
    return (
        getattr(_state, "replica_allowed", False)
        and not this_thread_is_pinned()
        and not connections[DEFAULT_DB_ALIAS].in_atomic_block
    )


class ReplicaRouter(multidb.PinningReplicaRouter):
    """Reads of a safe API request to a healthy replica; everything else to the primary."""

    def db_for_read(self, model, **hints):
        if model._meta.app_label in PRIMARY_APPS or not reads_may_use_replica():
            return DEFAULT_DB_ALIAS
        alias = pool().choose()
        if alias != DEFAULT_DB_ALIAS:
            _state.used.add(alias)
        return alias


def used_replicas() -> set[str]:
    return set(getattr(_state, "used", ()))


def pin_key(user_pk) -> str:
    return f"replicas:wrote:{user_pk}"


def pinning_seconds() -> int:
    return int(getattr(settings, "MULTIDB_PINNING_SECONDS", 10))


class ReplicaRoutingMiddleware(PinningRouterMiddleware):
    """Decides, per request, whether its reads may use a replica; pins clients that just wrote.

    django-multidb-router's middleware pins a request that writes or carries its cookie, and
    sets the cookie on the response to a write. This one also pins every request that is not a
    safe API request, pins a user who wrote within the window (the shared cache remembers
    them), answers from the primary when a replica fails mid-request, and names the database
    that served the reads in ``X-Database`` when ``DATABASE_ROUTING_HEADER`` is on.
    """

    def process_request(self, request):
        super().process_request(request)
        _state.used = set()
        _state.replica_allowed = request.method in READ_ONLY_METHODS and request.path.startswith("/api/")

    def process_exception(self, request, exception):
        """A replica that failed under a safe request: check it now, and run the view again pinned."""
        if not isinstance(exception, (OperationalError, InterfaceError)) or request.method not in READ_ONLY_METHODS:
            return None
        failed = [alias for alias in used_replicas() if not pool().check(alias).healthy]
        if not failed:
            return None  # the primary failed: DatabaseUnavailableMiddleware answers 503
        logger.warning("A read on %s failed (%s); answering from the primary", ", ".join(failed), exception)
        pin_this_thread()
        _state.used = set()  # what answers is the second run, on the primary
        request.replica_retry = True  # counted once against the client's rate (events/api/throttling.py)
        match = request.resolver_match
        try:
            response = match.func(request, *match.args, **match.kwargs)
            if hasattr(response, "render") and callable(response.render):
                response = response.render()
        except (OperationalError, InterfaceError):
            return DatabaseUnavailableMiddleware.unavailable()
        return response

    def process_response(self, request, response):
        response = super().process_response(request, response)
        user = getattr(request, "user", None)
        if request.method not in READ_ONLY_METHODS and user is not None and user.is_authenticated:
            cache.set(pin_key(user.pk), 1, timeout=pinning_seconds())
        if getattr(settings, "DATABASE_ROUTING_HEADER", False):
            response["X-Database"] = describe(used_replicas() or {DEFAULT_DB_ALIAS})
        _state.replica_allowed = False
        _state.used = set()
        unpin_this_thread()
        return response


def describe(aliases: set[str]) -> str:
    """Each database the request read from, and what it says it is: ``replica1 (standby)``."""
    parts = []
    for alias in sorted(aliases):
        try:
            with connections[alias].cursor() as cursor:
                cursor.execute("SELECT pg_is_in_recovery()")
                role = "standby" if cursor.fetchone()[0] else "primary"
        except Exception:  # noqa: BLE001 (a diagnostic: it must never fail the response)
            role = "unknown"
        parts.append(f"{alias} ({role})")
    return ", ".join(parts)


class PinWritersMixin:
    """An authenticated user who wrote within the window reads from the primary, on any server."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None and enabled() and not this_thread_is_pinned() and cache.get(pin_key(result[0].pk)):
            pin_this_thread()
        return result


class TokenAuthentication(PinWritersMixin, authentication.TokenAuthentication):
    pass


class SessionAuthentication(PinWritersMixin, authentication.SessionAuthentication):
    pass
