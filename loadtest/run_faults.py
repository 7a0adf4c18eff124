"""Fault test: PostgreSQL goes away under load, and comes back; gunicorn is never restarted.

    loadtest/run_faults.sh [--clients 6] [--outage 5] [--cluster main|private]

1. Prepares a database (default ``osint_faults``) like run_load.py and serves it with gunicorn
   in the production configuration (persistent connections, health checks on).
2. Runs a light load (default 6 clients, each pausing 50 ms between requests) of reads and
   writes, recording every response: time, status, content type and whether the body is
   clean JSON.
3. After a warm-up, stops PostgreSQL, waits ``--outage`` seconds and starts it again
   (``pg_ctlcluster ... main stop`` / ``start``; ``--restart`` uses ``restart`` instead).
4. Once it is back, terminates the service's database connections with
   ``pg_terminate_backend`` (the database stays up) to check that dead connections are replaced.
5. Checks: no 500 (nor any other 5xx than 503, nor a dropped connection) at any time; every
   503 is a JSON body with ``detail`` and ``Retry-After``, without a traceback or HTML; the
   service answers successfully again within ``--recovery-limit`` seconds of PostgreSQL being
   back and has no failure after that; the gunicorn master and workers are the same processes
   as before; every acknowledged write is in the database with its values.

PostgreSQL is started again whatever happens (``finally`` and signal handlers; run_faults.sh
adds a shell trap). With ``--cluster main`` (the default) the machine's cluster is restarted,
which cuts every other client of it: the script first waits (``--quiet-wait``) for other
databases' sessions to end. ``--cluster private`` runs a throwaway cluster of its own on
another port instead, so that nobody else is disturbed.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402
import workload  # noqa: E402
from harness import log  # noqa: E402

LEAKS = ("Traceback", "<html", "<!DOCTYPE", 'File "', "psycopg", "OperationalError", "5432")


def arguments():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=6, help="Concurrent clients (default 6).")
    parser.add_argument("--pause", type=float, default=0.05, help="Seconds each client waits between requests.")
    parser.add_argument("--warmup", type=float, default=10, help="Seconds of load before the outage (default 10).")
    parser.add_argument("--outage", type=float, default=5, help="Seconds between stop and start (default 5).")
    parser.add_argument("--restart", action="store_true", help="Use `pg_ctlcluster restart` instead of stop/start.")
    parser.add_argument(
        "--after", type=float, default=15, help="Seconds of load after PostgreSQL is back (default 15)."
    )
    parser.add_argument("--no-terminate", action="store_true", help="Skip the pg_terminate_backend phase.")
    parser.add_argument("--terminate-window", type=float, default=10, help="Seconds of load after terminating.")
    parser.add_argument("--recovery-limit", type=float, default=10, help="Seconds allowed to recover (default 10).")
    parser.add_argument("--cluster", choices=["main", "private"], default="main")
    parser.add_argument("--quiet-wait", type=float, default=120, help="Max seconds to wait for other sessions to end.")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--db", default="osint_faults")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=2)
    return parser.parse_args()


# --- PostgreSQL control -------------------------------------------------------------------------


def run(command: list[str], timeout: float = 90) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if result.returncode != 0:
        log(f"{' '.join(command)} -> {result.returncode}: {result.stdout.strip()} {result.stderr.strip()}")
    return result


class MainCluster:
    """The machine's cluster, through pg_ctlcluster."""

    host, port = harness.PG_HOST, harness.PG_PORT

    def __init__(self):
        versions = sorted(os.listdir("/etc/postgresql"))
        if not versions:
            raise SystemExit("No cluster in /etc/postgresql.")
        self.version = versions[-1]

    def ctl(self, action: str) -> subprocess.CompletedProcess:
        return run(["pg_ctlcluster", "--skip-systemctl-redirect", self.version, "main", action])

    def stop(self):
        return self.ctl("stop")

    def start(self):
        return self.ctl("start")

    def restart(self):
        return self.ctl("restart")

    def ensure_running(self):
        if not harness.pg_ready(host=self.host, port=self.port):
            log("PostgreSQL is not running: starting it")
            self.start()
            harness.wait_for(lambda: harness.pg_ready(host=self.host, port=self.port), timeout=60, interval=0.5)

    def cleanup(self):
        self.ensure_running()

    def describe(self) -> str:
        return f"the machine's cluster {self.version}/main on {self.host}:{self.port}"


class PrivateCluster:
    """A throwaway cluster in a temporary folder, on a port of its own; removed at the end."""

    host = "127.0.0.1"

    def __init__(self):
        versions = sorted(os.listdir("/usr/lib/postgresql"))
        self.bin = Path("/usr/lib/postgresql") / versions[-1] / "bin"
        self.port = harness.free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="osint-faults-pg-"))
        shutil.chown(self.dir, "postgres", "postgres")
        self.data = self.dir / "data"
        self.logfile = self.dir / "postgres.log"
        as_postgres = ["runuser", "-u", "postgres", "--"]
        self.as_postgres = as_postgres
        run([*as_postgres, str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres"], 120)
        self.start()
        if not harness.wait_for(lambda: harness.pg_ready(host=self.host, port=self.port), timeout=30):
            raise SystemExit(f"The private cluster did not start; see {self.logfile}")

    def ctl(self, *args: str) -> subprocess.CompletedProcess:
        return run([*self.as_postgres, str(self.bin / "pg_ctl"), "-D", str(self.data), *args])

    def start(self):
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"
        return self.ctl("-o", options, "-l", str(self.logfile), "-w", "start")

    def stop(self):
        return self.ctl("-m", "fast", "-w", "stop")

    def restart(self):
        self.stop()
        return self.start()

    def ensure_running(self):
        if not harness.pg_ready(host=self.host, port=self.port):
            self.start()

    def cleanup(self):
        if harness.pg_ready(host=self.host, port=self.port):
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def describe(self) -> str:
        return f"a private cluster on {self.host}:{self.port} ({self.data})"


def other_sessions(cluster, own_db: str) -> list[str]:
    """Client sessions of other databases: the people a restart would cut off."""
    import psycopg

    with psycopg.connect(
        host=cluster.host, port=cluster.port, user=harness.PG_USER, dbname="postgres", autocommit=True
    ) as conn:
        rows = conn.execute(
            "SELECT datname, application_name, state FROM pg_stat_activity "
            "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() "
            "AND datname IS DISTINCT FROM %s AND datname IS DISTINCT FROM 'postgres'",
            [own_db],
        ).fetchall()
    return [f"{db} ({app or '?'}, {state})" for db, app, state in rows]


def terminate_backends(cluster, db: str) -> int:
    import psycopg

    with psycopg.connect(
        host=cluster.host, port=cluster.port, user=harness.PG_USER, dbname="postgres", autocommit=True
    ) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND backend_type = 'client backend' AND pid <> pg_backend_pid()",
            [db],
        ).fetchall()
    return sum(1 for (done,) in rows if done)


class Prober(threading.Thread):
    """Watches PostgreSQL with pg_isready every 0.1 s: when it went down, and when it came back."""

    def __init__(self, cluster, recorder, limit: float = 120):
        super().__init__(name="prober", daemon=True)
        self.cluster, self.recorder, self.limit = cluster, recorder, limit
        self.stop = threading.Event()
        self.down_at = self.up_at = None

    def run(self):
        deadline = time.monotonic() + self.limit
        while not self.stop.is_set() and time.monotonic() < deadline:
            ready = harness.pg_ready(host=self.cluster.host, port=self.cluster.port)
            now = self.recorder.now()
            if not ready and self.down_at is None:
                self.down_at = now
            elif ready and self.down_at is not None and self.up_at is None:
                self.up_at = now
                return
            time.sleep(0.1)


# --- The clients --------------------------------------------------------------------------------


class Recorder:
    def __init__(self, origin: float):
        self.origin = origin
        self.responses: list[dict] = []
        self.lock = threading.Lock()

    def now(self) -> float:
        return time.monotonic() - self.origin

    def add(self, **response):
        with self.lock:
            self.responses.append(response)


class Client(threading.Thread):
    def __init__(self, number, *, port, token, run_id, catalogue, journal, recorder, stop, deadline, pause, seed):
        super().__init__(name=f"client-{number}", daemon=True)
        self.number, self.port, self.token, self.run_id = number, port, token, run_id
        self.catalogue, self.journal, self.recorder = catalogue, journal, recorder
        self.stop_event, self.deadline, self.pause = stop, deadline, pause
        self.rng = random.Random(seed * 1000 + number)
        self.writes = 0
        self.own: list[workload.OwnReport] = []
        self.uncertain: set[int] = set()  # reports with a PATCH answered by an error
        self.max_requests = 20_000

    def request(self, name, method, path, body=None, headers=None):
        headers = dict(headers or {})
        if body is not None:
            headers["Content-Type"] = "application/json"
            body = json.dumps(body)
        started = self.recorder.now()
        entry = {"name": name, "t0": started, "status": 0, "client": self.number}
        data, response_headers = b"", {}
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
            entry["status"] = response.status
            response_headers = {k.lower(): v for k, v in response.getheaders()}
        except (OSError, http.client.HTTPException) as error:
            entry["error"] = f"{type(error).__name__}: {error}"
        finally:
            connection.close()
        entry["t1"] = self.recorder.now()
        entry["content_type"] = response_headers.get("content-type", "")
        if entry["status"] >= 300 and entry["status"] != 304:
            text = data.decode(errors="replace")
            entry["body"] = text[:300]
            entry["clean"] = self.clean_error(entry["status"], text, response_headers)
        self.recorder.add(**entry)
        try:
            parsed = json.loads(data) if data and entry["content_type"].startswith("application/json") else None
        except ValueError:
            parsed = None
        return entry["status"], parsed, response_headers

    @staticmethod
    def clean_error(status, text, headers) -> bool:
        if not headers.get("content-type", "").startswith("application/json"):
            return False
        try:
            body = json.loads(text)
        except ValueError:
            return False
        if any(leak in text for leak in LEAKS):
            return False
        if status == 503:
            return isinstance(body, dict) and "detail" in body and "retry-after" in headers
        return True

    def run(self):
        count = 0
        while not self.stop_event.is_set() and time.monotonic() < self.deadline and count < self.max_requests:
            count += 1
            choice = self.rng.choices(
                ["events", "event", "reports", "sources", "create_report", "patch_report", "create_event"],
                weights=[25, 10, 20, 10, 14, 12, 9],
            )[0]
            getattr(self, choice)()
            time.sleep(self.pause)

    def marker(self):
        self.writes += 1
        return f"lt:{self.run_id}:{self.number}:{self.writes}"

    @property
    def auth(self):
        return {"Authorization": f"Token {self.token}"}

    def events(self):
        name, path = workload.event_list(self.rng)
        self.request(name, "GET", path)

    def event(self):
        name, path = workload.event_detail(self.rng, self.catalogue)
        self.request(name, "GET", path)

    def reports(self):
        name, path = workload.report_list_by_unit(self.rng, self.catalogue)
        self.request(name, "GET", path)

    def sources(self):
        name, path = workload.source_list(self.rng)
        self.request(name, "GET", path)

    def create_report(self):
        marker = self.marker()
        payload, expect = workload.new_report(self.rng, self.catalogue, marker)
        status, body, headers = self.request(
            "POST /api/casualty-reports/", "POST", "/api/casualty-reports/", payload, self.auth
        )
        acked = status == 201 and body is not None
        self.journal.record(
            op="create",
            resource="casualty-reports",
            id=body.get("id") if acked else None,
            marker=marker,
            expect=expect,
            acked=acked,
            status=status,
        )
        if acked:
            self.own.append(workload.own_report(body, headers["etag"], marker))
            self.catalogue.add("casualty-reports", body["id"])

    def patch_report(self):
        if not self.own:
            return self.create_report()
        report = self.rng.choice(self.own)
        payload, expect = workload.report_patch(self.rng, self.catalogue, report)
        status, body, headers = self.request(
            "PATCH /api/casualty-reports/<id>/ If-Match",
            "PATCH",
            f"/api/casualty-reports/{report.id}/",
            payload,
            {**self.auth, "If-Match": report.etag},
        )
        acked = status == 200 and body is not None
        self.journal.record(
            op="patch",
            resource="casualty-reports",
            id=report.id,
            marker=report.marker,
            expect=expect,
            acked=acked,
            status=status,
            uncertain_before=report.id in self.uncertain,
        )
        if acked:
            workload.apply_patch(report, body, headers["etag"], expect)
            return
        if status == 412 or status >= 500 or status == 0:
            # The PATCH may or may not have been stored (a 503 after the commit): read the record
            # again so that the next If-Match holds its current ETag.
            self.uncertain.add(report.id)
            self.refresh(report)

    def refresh(self, report: workload.OwnReport):
        status, body, headers = self.request(
            "GET /api/casualty-reports/<id>/ (refresh)", "GET", f"/api/casualty-reports/{report.id}/"
        )
        if status == 200 and body is not None:
            report.etag = headers["etag"]
            revision = re.search(r" rev (\d+)", body["description"])
            report.revision = int(revision[1]) if revision else 0
            report.citation_id = body["citations"][0]["id"]
            report.citations = [
                {"source": c["source"]["id"], "role": c["role"], "quote": c["quote"]} for c in body["citations"]
            ]

    def create_event(self):
        marker = self.marker()
        payload, expect = workload.new_event(self.rng, self.catalogue, marker)
        status, body, _ = self.request("POST /api/events/", "POST", "/api/events/", payload, self.auth)
        acked = status == 201 and body is not None
        self.journal.record(
            op="create",
            resource="events",
            id=body.get("id") if acked else None,
            marker=marker,
            expect=expect,
            acked=acked,
            status=status,
        )
        if acked:
            self.catalogue.add("events", body["id"])


# --- Analysis -----------------------------------------------------------------------------------


def ok(response) -> bool:
    return 200 <= response["status"] < 300 or response["status"] == 304


def analyse(responses, marks, args) -> tuple[dict, list[str]]:
    failures = []
    stop_at, ready_at = marks["stop_begin"], marks["ready"]
    phases = {"before": [], "outage": [], "after": [], "terminate": []}
    # A request belongs to the outage if it was still running when PostgreSQL was stopped, and to
    # the pg_terminate_backend phase if it was still running when the connections were killed.
    for response in responses:
        if response["t1"] < stop_at:
            phases["before"].append(response)
        elif response["t0"] < ready_at:
            phases["outage"].append(response)
        elif "terminate" in marks and response["t1"] >= marks["terminate"]:
            phases["terminate"].append(response)
        else:
            phases["after"].append(response)
    by_phase = {name: dict(sorted(Counter(r["status"] for r in rows).items())) for name, rows in phases.items()}

    statuses = Counter(r["status"] for r in responses)
    five_hundreds = [r for r in responses if r["status"] == 500]
    other_5xx = [r for r in responses if r["status"] >= 500 and r["status"] not in (500, 503)]
    dropped = [r for r in responses if r["status"] == 0]
    unclean = [r for r in responses if not ok(r) and not r.get("clean", True)]
    # 412s are judged from the journal (see main): expected only after an uncertain PATCH.
    unexpected_4xx = [r for r in responses if 400 <= r["status"] < 500 and r["status"] != 412]
    if five_hundreds:
        failures.append(f"{len(five_hundreds)} responses were 500: {five_hundreds[:3]}")
    if other_5xx:
        failures.append(f"{len(other_5xx)} responses were 5xx other than 503: {other_5xx[:3]}")
    if dropped:
        failures.append(f"{len(dropped)} requests got no HTTP response: {dropped[:3]}")
    if unclean:
        failures.append(f"{len(unclean)} error responses were not clean JSON: {unclean[:3]}")
    if unexpected_4xx:
        failures.append(f"{len(unexpected_4xx)} unexpected 4xx: {unexpected_4xx[:3]}")
    if phases["before"] and not all(ok(r) for r in phases["before"]):
        failures.append(f"failures before the outage: {by_phase['before']}")

    outage_failures = [r for r in phases["outage"] if not ok(r)]
    if not outage_failures:
        failures.append("no request failed during the outage: did PostgreSQL really stop?")
    first_503 = min((r["t1"] for r in responses if r["status"] == 503), default=None)

    # Recovery: from the moment PostgreSQL accepts connections again (pg_isready) to the end of
    # the last failed response; 0 when nothing failed after that moment. Requests that were
    # waiting in gunicorn's queue may succeed even before pg_isready reports it.
    until = marks.get("terminate", marks["end"])
    in_window = [r for r in responses if r["t1"] >= marks["start_begin"] and r["t1"] < until]
    failed_after = [r for r in phases["after"] if not ok(r)]
    last_failure = max((r["t1"] for r in in_window if not ok(r)), default=None)
    successes = [r["t1"] for r in in_window if ok(r) and (last_failure is None or r["t1"] > last_failure)]
    first_ok = min((r["t1"] for r in in_window if ok(r)), default=None)
    if not successes:
        recovery = None
        failures.append("no request succeeded after PostgreSQL came back")
    else:
        recovery = max(0.0, (last_failure if last_failure is not None else ready_at) - ready_at)
        if recovery > args.recovery_limit:
            failures.append(f"recovery took {recovery:.1f} s (limit {args.recovery_limit} s)")
    last_failure_rel = None if last_failure is None else round(last_failure - ready_at, 3)

    terminate = None
    if "terminate" in marks:
        window = phases["terminate"]
        failed = [r for r in window if not ok(r)]
        terminate = {
            "backends_terminated": marks.get("terminated", 0),
            "requests": len(window),
            "failed": len(failed),
            "failed_statuses": dict(Counter(r["status"] for r in failed)),
            "failed_detail": [
                {"name": r["name"], "status": r["status"], "t0": round(r["t0"] - marks["terminate"], 3)}
                for r in failed[:10]
            ],
        }

    summary = {
        "statuses": dict(sorted(statuses.items())),
        "by_phase": by_phase,
        "outage_seconds": round(ready_at - stop_at, 2),
        "refusing_seconds": None if marks.get("pg_down") is None else round(ready_at - marks["pg_down"], 2),
        "first_503_after_stop": None if first_503 is None else round(first_503 - stop_at, 3),
        "first_success_after_ready": None if first_ok is None else round(first_ok - ready_at, 3),
        "last_failure_after_ready": last_failure_rel,
        "failures_after_ready": len(failed_after),
        "recovery_seconds": None if recovery is None else round(recovery, 3),
        "terminate": terminate,
    }
    return summary, failures


def main():
    args = arguments()
    run_id, out = harness.start_run(args.out, "faults")

    def on_signal(signum, frame):
        raise SystemExit(f"stopped by signal {signum}")

    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(signum, on_signal)

    if not harness.redis_ready():
        sys.exit(f"Redis does not answer at {harness.REDIS_URL}.")
    cluster = None
    server = None
    stop = threading.Event()
    clients = []
    failures = []
    marks = {}
    recorder = None
    summary = {}
    try:
        if args.cluster == "private":
            log("Creating a private PostgreSQL cluster")
            cluster = PrivateCluster()
        else:
            cluster = MainCluster()
            cluster.ensure_running()
        log(f"PostgreSQL under test: {cluster.describe()}")
        db_url, token = harness.prepare_database(args.db, host=cluster.host, port=cluster.port)
        server = harness.Gunicorn(
            harness.service_env(db_url),
            port=args.port or harness.free_port(),
            workers=args.workers,
            log_path=out / "gunicorn.log",
        )
        server.start()
        workers_before = server.worker_pids()
        catalogue = workload.Catalogue.fetch(lambda path: json.loads(harness.http_get(server.url + path)[1]))
        journal = workload.Journal(out / "journal.jsonl")

        if args.cluster == "main" and args.quiet_wait > 0:
            busy = other_sessions(cluster, args.db)
            if busy:
                log(f"Other sessions on the cluster, waiting up to {args.quiet_wait:.0f} s for them: {busy}")
                quiet = harness.wait_for(
                    lambda: not other_sessions(cluster, args.db), timeout=args.quiet_wait, interval=2
                )
                if not quiet:
                    log(f"WARNING: restarting anyway; these sessions will be cut: {other_sessions(cluster, args.db)}")

        origin = time.monotonic()
        recorder = Recorder(origin)
        total = args.warmup + args.outage + 30 + args.after + (0 if args.no_terminate else args.terminate_window)
        deadline = origin + total + 30  # hard bound on the clients, whatever happens below
        clients = [
            Client(
                n,
                port=server.port,
                token=token,
                run_id=run_id,
                catalogue=catalogue,
                journal=journal,
                recorder=recorder,
                stop=stop,
                deadline=deadline,
                pause=args.pause,
                seed=args.seed,
            )
            for n in range(1, args.clients + 1)
        ]
        log(f"{args.clients} clients running against {server.url}; outage in {args.warmup:.0f} s")
        for client in clients:
            client.start()
        time.sleep(args.warmup)

        prober = Prober(cluster, recorder)
        prober.start()
        marks["stop_begin"] = recorder.now()
        if args.restart:
            log("pg_ctlcluster restart")
            cluster.restart()
            marks["stopped"] = marks["start_begin"] = marks["stop_begin"]
        else:
            log("Stopping PostgreSQL")
            cluster.stop()
            marks["stopped"] = recorder.now()
            log(f"PostgreSQL stopped ({marks['stopped'] - marks['stop_begin']:.1f} s); down for {args.outage:.0f} s")
            time.sleep(args.outage)
            marks["start_begin"] = recorder.now()
            log("Starting PostgreSQL")
            cluster.start()
        harness.wait_for(lambda: prober.up_at is not None, timeout=60, interval=0.1)
        prober.stop.set()
        prober.join(timeout=10)
        marks["ctl_returned"] = recorder.now()
        marks["pg_down"] = prober.down_at
        # When PostgreSQL accepted connections again, as seen by pg_isready every 0.1 s.
        marks["ready"] = prober.up_at if prober.up_at is not None else recorder.now()
        log(
            f"PostgreSQL refused connections from {prober.down_at:.1f} s to {marks['ready']:.1f} s "
            f"({marks['ready'] - marks['stop_begin']:.1f} s after the stop began)"
        )
        time.sleep(args.after)

        if not args.no_terminate:
            marks["terminate"] = recorder.now()
            marks["terminated"] = terminate_backends(cluster, args.db)
            log(f"Terminated {marks['terminated']} backends of {args.db} (PostgreSQL stays up)")
            time.sleep(args.terminate_window)
        marks["end"] = recorder.now()
        stop.set()
        for client in clients:
            client.join(timeout=40)
        journal.close()

        workers_after = server.worker_pids()
        master_alive = server.alive()
        # A 412 is only expected after an earlier PATCH of the same record got an error
        # (that PATCH may have been stored, so the client's ETag may be stale).
        journal_entries = [json.loads(line) for line in (out / "journal.jsonl").read_text().splitlines()]
        allowed = sum(1 for e in journal_entries if e["op"] == "patch" and e["status"] == 412 and e["uncertain_before"])
        unexplained_412 = sum(
            1 for e in journal_entries if e["op"] == "patch" and e["status"] == 412 and not e["uncertain_before"]
        )
        summary, problems = analyse(recorder.responses, marks, args)
        failures += problems
        summary["precondition_failed_after_uncertain_patch"] = allowed
        if unexplained_412:
            failures.append(f"{unexplained_412} PATCHes got 412 although no earlier PATCH of theirs had failed")
        if not master_alive or workers_after != workers_before:
            failures.append(
                f"gunicorn was restarted: workers {workers_before} -> {workers_after}, master alive {master_alive}"
            )
        summary["gunicorn"] = {
            "workers_before": workers_before,
            "workers_after": workers_after,
            "master_alive": master_alive,
        }
        summary["service_log_problems"] = server.log_problems()
        if summary["service_log_problems"]:
            failures.append(f"the service log shows problems: {summary['service_log_problems'][:5]}")

        log("Checking every acknowledged write against the database")
        verification = harness.verify_writes(db_url, out / "journal.jsonl", run_id=run_id)
        summary["writes"] = {
            key: (len(value) if isinstance(value, list) else value) for key, value in verification.items()
        }
        summary["writes"]["unacked_committed_detail"] = verification["unacked_committed"][:20]
        if not verification["ok"]:
            failures.append(
                f"acknowledged writes missing or changed: {verification['missing'][:5]} "
                f"{verification['mismatched'][:3]}"
            )
        if verification["unacked_committed"]:
            failures.append(
                f"{len(verification['unacked_committed'])} writes were answered with an error yet stored "
                f"(a client retrying them would write twice): {verification['unacked_committed'][:3]}"
            )
        if verification["phantoms"]:
            failures.append(f"writes stored without any answer: {verification['phantoms'][:5]}")
        summary["marks"] = {k: round(v, 3) if isinstance(v, float) else v for k, v in marks.items()}
    finally:
        stop.set()
        for client in clients:
            client.join(timeout=40)
        if server is not None:
            server.stop()
        if cluster is not None:
            cluster.cleanup()
            log(
                f"PostgreSQL {'removed' if args.cluster == 'private' else 'running'} (pg_isready: {harness.pg_ready()})"
            )

    if recorder is not None:
        (out / "responses.json").write_text(json.dumps(recorder.responses))
    summary["failures"] = failures
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    print_summary(summary, args)
    print(f"Results in {out}.")
    if failures:
        print("FAILED:\n- " + "\n- ".join(str(f) for f in failures))
        sys.exit(1)
    print("PASSED: clean 503s during the outage, no 500, recovered without a restart, no acknowledged write lost.")


def print_summary(summary, args):
    print()
    print(
        f"Outage: {summary['outage_seconds']} s from the stop command to PostgreSQL accepting connections again "
        f"({summary['refusing_seconds']} s refusing them), {args.clients} clients."
    )
    print("| phase | responses by status |")
    print("| --- | --- |")
    for phase, statuses in summary["by_phase"].items():
        print(f"| {phase} | {statuses} |")
    print()
    print(f"All responses: {summary['statuses']}")
    print(
        f"Times relative to the stop / to PostgreSQL accepting connections again (pg_isready): first 503 "
        f"{summary['first_503_after_stop']} s after the stop; last failure {summary['last_failure_after_ready']} s, "
        f"first success {summary['first_success_after_ready']} s after it was back; recovered in "
        f"{summary['recovery_seconds']} s; {summary['failures_after_ready']} failed requests sent after it was back."
    )
    if summary["terminate"]:
        t = summary["terminate"]
        print(
            f"pg_terminate_backend: {t['backends_terminated']} connections killed; then {t['requests']} requests, "
            f"{t['failed']} failed {t['failed_statuses']}."
        )
    w = summary["writes"]
    print(
        f"Writes: {w['acked_creates']} creates and {w['acked_patches']} patches acknowledged, {w['missing']} missing, "
        f"{w['mismatched']} changed; {w['unacked']} answered with an error, of which {w['unacked_committed']} "
        f"were stored anyway."
    )
    print(
        f"gunicorn: workers {summary['gunicorn']['workers_before']} before, "
        f"{summary['gunicorn']['workers_after']} after."
    )


if __name__ == "__main__":
    main()
