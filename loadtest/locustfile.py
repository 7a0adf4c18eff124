"""Mixed reads and writes against the API, for ``run_load.py`` (or by hand).

    LOADTEST_TOKEN=<token with the events permissions> \\
    .venv/bin/locust -f loadtest/locustfile.py --headless -u 32 -r 32 -t 60s --host http://127.0.0.1:8765

Reads are anonymous: event lists with filters, event details, casualty reports of a unit, text
search, sources (the public, which the writers' pinning cookie does not follow); the writers
read their own records back with their token. Writes use the token: casualty reports with an
inline citation, PATCHes of them with ``If-Match`` (each client only changes the reports it
created, so the ETag it holds is always current and a 412 is an error), and events with a unit
and a citation.

Environment:
- ``LOADTEST_TOKEN`` (required for writes), ``LOADTEST_RUN_ID`` (marker prefix, default a timestamp)
- ``LOADTEST_JOURNAL``: where every write is recorded (JSON lines; default loadtest-journal.jsonl)
- ``LOADTEST_SAMPLES``: where every request's name, status and time are written at the end
- ``LOADTEST_WAIT``: seconds between two tasks of a client (default 0: closed loop)
- ``LOADTEST_SEED``: random seed
- ``LOADTEST_HOSTS``: comma-separated base URLs of several app servers; each client sends its
  requests to them in turn (a round-robin load balancer), keeping one cookie jar for all, so
  that a write on one server is read back, or patched with its ETag, on another
"""

import itertools
import json
import os
import random
import sys
import time
from pathlib import Path

from locust import FastHttpUser, constant, events, task

sys.path.insert(0, str(Path(__file__).resolve().parent))

import workload  # noqa: E402

TOKEN = os.environ.get("LOADTEST_TOKEN", "")
RUN_ID = os.environ.get("LOADTEST_RUN_ID") or time.strftime("%Y%m%d%H%M%S")
JOURNAL_PATH = Path(os.environ.get("LOADTEST_JOURNAL", "loadtest-journal.jsonl"))
SAMPLES_PATH = os.environ.get("LOADTEST_SAMPLES")
SEED = int(os.environ.get("LOADTEST_SEED", "1"))
HOSTS = [host.rstrip("/") for host in os.environ.get("LOADTEST_HOSTS", "").split(",") if host.strip()]

state = {"catalogue": None, "journal": None}
samples = []  # (name, status, response time in ms, failed)
client_numbers = itertools.count(1)


@events.test_start.add_listener
def on_test_start(environment, **kwargs):
    import requests

    def get_json(path):
        response = requests.get(environment.host.rstrip("/") + path, timeout=30)
        response.raise_for_status()
        return response.json()

    state["catalogue"] = workload.Catalogue.fetch(get_json)
    state["journal"] = workload.Journal(JOURNAL_PATH)


@events.request.add_listener
def on_request(name, response_time, response, exception, **kwargs):
    status = getattr(response, "status_code", 0) or 0
    samples.append((name, status, response_time, exception is not None))


@events.quitting.add_listener
def on_quitting(environment, **kwargs):
    if state["journal"] is not None:
        state["journal"].close()
    if SAMPLES_PATH:
        Path(SAMPLES_PATH).write_text(json.dumps(samples))


class ApiClient(FastHttpUser):
    wait_time = constant(float(os.environ.get("LOADTEST_WAIT", "0")))
    network_timeout = 60.0
    connection_timeout = 10.0

    def on_start(self):
        self.number = next(client_numbers)
        self.rng = random.Random(SEED * 1000 + self.number)
        self.writes = itertools.count(1)
        self.own_reports: list[workload.OwnReport] = []
        self.auth = {"Authorization": f"Token {TOKEN}"}
        # Clients start on different servers, then take them in turn.
        self.servers = itertools.islice(itertools.cycle(HOSTS), self.number, None) if HOSTS else None

    def url(self, path: str) -> str:
        """The path on the next server in turn; on the one --host names without LOADTEST_HOSTS."""
        return next(self.servers) + path if self.servers else path

    @property
    def catalogue(self) -> workload.Catalogue:
        return state["catalogue"]

    def marker(self) -> str:
        return f"lt:{RUN_ID}:{self.number}:{next(self.writes)}"

    def read(self, name, path, expected=200, headers=None):
        with self.client.get(self.url(path), name=name, headers=headers, catch_response=True) as response:
            if response.status_code != expected:
                response.failure(f"{response.status_code}: {response.text[:200]}")
            return response

    # Reads: 43 of 55.

    @task(12)
    def events_with_filters(self):
        self.read(*workload.event_list(self.rng))

    @task(7)
    def event_detail(self):
        self.read(*workload.event_detail(self.rng, self.catalogue))

    @task(10)
    def casualty_reports_of_a_unit(self):
        self.read(*workload.report_list_by_unit(self.rng, self.catalogue))

    @task(3)
    def casualty_report_detail(self):
        self.read(*workload.report_detail(self.rng, self.catalogue))

    @task(6)
    def text_search(self):
        self.read(*workload.search(self.rng))

    @task(4)
    def sources(self):
        self.read(*workload.source_list(self.rng))

    @task(1)
    def own_report_not_modified(self):
        """The writer's conditional GET with the ETag of its last write: the record has not changed since.

        With its token: a writer reads its own writes (on the primary, with replicas).
        """
        if not self.own_reports:
            return
        report = self.rng.choice(self.own_reports)
        self.read(
            "GET /api/casualty-reports/<id>/ If-None-Match",
            f"/api/casualty-reports/{report.id}/",
            expected=304,
            headers={**self.auth, "If-None-Match": report.etag},
        )

    # Writes: 12 of 55.

    @task(5)
    def create_casualty_report(self):
        marker = self.marker()
        payload, expect = workload.new_report(self.rng, self.catalogue, marker)
        with self.client.post(
            self.url("/api/casualty-reports/"),
            json=payload,
            headers=self.auth,
            name="POST /api/casualty-reports/",
            catch_response=True,
        ) as response:
            if response.status_code != 201:
                response.failure(f"{response.status_code}: {response.text[:200]}")
                self.journal("create", "casualty-reports", None, marker, expect, response)
                return
            body = response.json()
            self.journal("create", "casualty-reports", body["id"], marker, expect, response)
            self.own_reports.append(workload.own_report(body, response.headers["ETag"], marker))
            self.catalogue.add("casualty-reports", body["id"])

    @task(4)
    def patch_casualty_report(self):
        if not self.own_reports:
            return self.create_casualty_report()
        report = self.rng.choice(self.own_reports)
        payload, expect = workload.report_patch(self.rng, self.catalogue, report)
        with self.client.patch(
            self.url(f"/api/casualty-reports/{report.id}/"),
            json=payload,
            headers={**self.auth, "If-Match": report.etag},
            name="PATCH /api/casualty-reports/<id>/ If-Match",
            catch_response=True,
        ) as response:
            self.journal("patch", "casualty-reports", report.id, report.marker, expect, response, expected=200)
            if response.status_code != 200:
                response.failure(f"{response.status_code}: {response.text[:200]}")
                return
            workload.apply_patch(report, response.json(), response.headers["ETag"], expect)

    @task(3)
    def create_event(self):
        marker = self.marker()
        payload, expect = workload.new_event(self.rng, self.catalogue, marker)
        with self.client.post(
            self.url("/api/events/"), json=payload, headers=self.auth, name="POST /api/events/", catch_response=True
        ) as response:
            body = response.json() if response.status_code == 201 else {}
            self.journal("create", "events", body.get("id"), marker, expect, response)
            if response.status_code != 201:
                response.failure(f"{response.status_code}: {response.text[:200]}")
                return
            self.catalogue.add("events", body["id"])

    def journal(self, op, resource, pk, marker, expect, response, expected=201):
        # The anonymous reads of this mix stand for the public, not for the writer: the cookie
        # that would send them to the primary after a write is dropped.
        self.client.cookiejar.clear()
        state["journal"].record(
            op=op,
            resource=resource,
            id=pk,
            marker=marker,
            expect=expect,
            acked=response.status_code == expected,
            status=response.status_code,
        )
