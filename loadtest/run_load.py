"""Load test: gunicorn in the production configuration on PostgreSQL, 32 clients for 60 s.

    loadtest/run_load.sh [--users 32] [--duration 60] [--workers N] [--port 8765] [--db osint_load]
    loadtest/run_load.sh --topology both     # one server, then two servers with a replica

``--topology`` picks what serves the load: ``single`` (the default) is one gunicorn on the
primary; ``replicated`` is two gunicorns, each with ``--workers`` workers, reaching the primary
through PgBouncer in transaction mode and reading from a streaming replica
(``deploy/local-cluster.sh start`` sets both up on this machine), the clients taking the two
servers in turn; ``both`` runs one after the other on fresh databases and prints them side by
side. ``--stop-replica-at S`` stops the replica S seconds into the replicated load and starts
it again ``--replica-down`` seconds later: the run must still have no failed request and no
lost write, and the replica must serve reads again.

1. Drops and recreates the database (default ``osint_load``), migrates it, loads the seed data
   and creates a user ``loadtest`` with every events permission and a token.
2. Serves osint.wsgi with gunicorn on 127.0.0.1 with DJANGO_PRODUCTION=1 (a generated secret,
   DJANGO_ALLOWED_HOSTS=127.0.0.1,localhost, no HTTPS redirect), throttling raised out of the
   way, the Redis cache, and persistent database connections.
3. Runs locust headless with loadtest/locustfile.py: mixed reads and writes (see there).
4. Checks every acknowledged write against the database (loadtest/verify_writes.py).
5. Prints throughput and p50/p95/p99 latency, overall and per request type, as a markdown
   table, and writes everything to the output folder.

Exits 1 on any failed request (non-2xx, other than the expected 304 of a conditional GET),
any acknowledged write missing or different in the database, or any write stored without
its acknowledgement.
"""

import argparse
import json
import math
import os
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402
from harness import log  # noqa: E402


def arguments():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=32, help="Concurrent clients (default 32).")
    parser.add_argument("--spawn-rate", type=float, default=None, help="Clients started per second (default: all).")
    parser.add_argument("--duration", type=int, default=60, help="Seconds of load (default 60).")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="gunicorn workers (default nproc).")
    parser.add_argument("--threads", type=int, default=1, help="Threads per gunicorn worker (default 1: sync).")
    parser.add_argument("--port", type=int, default=0, help="Port for gunicorn (default: a free one).")
    parser.add_argument(
        "--topology",
        choices=("single", "replicated", "both"),
        default="single",
        help="One server on the primary, two servers with PgBouncer and a replica, or both in turn.",
    )
    parser.add_argument(
        "--stop-replica-at",
        type=float,
        default=None,
        help="With the replica: stop it this many seconds into the load, and start it again "
        "--replica-down seconds later; the run then also fails unless the replica serves reads again.",
    )
    parser.add_argument("--replica-down", type=float, default=5.0, help="Seconds the replica stays stopped (5).")
    parser.add_argument("--db", default="osint_load", help="Database to drop and recreate (default osint_load).")
    parser.add_argument("--conn-max-age", type=int, default=600, help="DATABASE_CONN_MAX_AGE (default 600).")
    parser.add_argument("--out", type=Path, default=None, help="Output folder (default loadtest/results/load-<time>).")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--app", default="osint.wsgi:application", help="WSGI application for gunicorn.")
    parser.add_argument(
        "--gunicorn-arg", action="append", default=[], help="Extra gunicorn argument, e.g. --gunicorn-arg=--threads=4."
    )
    return parser.parse_args()


def fmt(value: float) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:,.0f}"


def summarise(samples: list, elapsed: float) -> tuple[list[dict], dict]:
    by_name = defaultdict(list)
    for name, _status, response_time, _failed in samples:
        by_name[name].append(response_time)
    failures = Counter(name for name, _s, _t, failed in samples if failed)
    rows = []
    for name in sorted(by_name):
        row = harness.latency_row(by_name[name])
        row.update(name=name, rps=row["requests"] / elapsed, failures=failures[name])
        rows.append(row)
    total = harness.latency_row([t for _n, _s, t, _f in samples])
    total.update(name="all requests", rps=total["requests"] / elapsed, failures=sum(failures.values()))
    return rows, total


def markdown(rows: list[dict], total: dict) -> str:
    lines = [
        "| request | requests | req/s | p50 ms | p95 ms | p99 ms | max ms | failures |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in [*rows, total]:
        name = f"**{row['name']}**" if row is total else f"`{row['name']}`"
        lines.append(
            f"| {name} | {row['requests']:,} | {row['rps']:.1f} | {fmt(row['p50'])} | {fmt(row['p95'])} "
            f"| {fmt(row['p99'])} | {fmt(row['max'])} | {row['failures']} |"
        )
    return "\n".join(lines)


REPLICA_PORT = int(os.environ.get("LOADTEST_REPLICA_PORT", "5433"))
POOLER_PORT = int(os.environ.get("LOADTEST_POOLER_PORT", "6432"))


def servers_for(args, topology: str, db_url: str, out: Path) -> list:
    """The gunicorns of a topology (not started)."""
    extra = (["--threads", str(args.threads)] if args.threads > 1 else []) + args.gunicorn_arg
    env = harness.service_env(db_url, conn_max_age=args.conn_max_age)
    if topology == "single":
        ports = [args.port or harness.free_port()]
    else:
        name = db_url.rsplit("/", 1)[1]
        env.update(
            {
                "DATABASE_URL": harness.database_url(name, port=POOLER_PORT),
                "DATABASE_TRANSACTION_POOLER": "1",
                "DATABASE_REPLICA_URLS": harness.database_url(name, port=REPLICA_PORT),
            }
        )
        ports = [harness.free_port(), harness.free_port()]
    return [
        harness.Gunicorn(
            env,
            port=port,
            workers=args.workers,
            log_path=out / f"gunicorn-{number}.log",
            extra_args=extra,
            app=args.app,
        )
        for number, port in enumerate(ports, start=1)
    ]


def run_topology(args, topology: str, run_id: str, out: Path) -> dict:
    """Serves the load with one topology; its summary (also written to ``out``)."""
    out.mkdir(parents=True, exist_ok=True)
    journal, samples_path = out / "journal.jsonl", out / "samples.json"
    started = time.monotonic()
    db_url, token = harness.prepare_database(args.db)
    servers = servers_for(args, topology, db_url, out)
    failures = []
    ports = [harness.PG_PORT] + ([REPLICA_PORT] if topology == "replicated" else [])
    try:
        for server in servers:
            server.start()
        workers_before = [server.worker_pids() for server in servers]
        load_before = harness.load_average()
        # CPU used per request, which does not depend on what else runs on the machine: the
        # gunicorn workers' CPU time, and that of the PostgreSQL backends serving them (on the
        # replica too) and of PgBouncer.
        backends_before = {
            (port, pid): harness.cpu_seconds(pid) for port in ports for pid in harness.backend_pids(args.db, port=port)
        }
        workers_cpu_before = sum(harness.cpu_seconds(pid) for pids in workers_before for pid in pids)
        pooler_before = sum(harness.cpu_seconds(pid) for pid in pooler_pids()) if topology == "replicated" else 0.0
        env = {
            **os.environ,
            "LOADTEST_TOKEN": token,
            "LOADTEST_RUN_ID": run_id,
            "LOADTEST_JOURNAL": str(journal),
            "LOADTEST_SAMPLES": str(samples_path),
            "LOADTEST_SEED": str(args.seed),
            "LOADTEST_HOSTS": ",".join(server.url for server in servers) if len(servers) > 1 else "",
        }
        command = [
            str(harness.BIN / "locust"),
            "-f",
            str(harness.LOADTEST / "locustfile.py"),
            "--headless",
            "--users",
            str(args.users),
            "--spawn-rate",
            str(args.spawn_rate or args.users),
            "--run-time",
            f"{args.duration}s",
            "--stop-timeout",
            "30",
            "--host",
            servers[0].url,
            "--csv",
            str(out / "locust"),
            "--only-summary",
            "--loglevel",
            "WARNING",
        ]
        urls = ", ".join(server.url for server in servers)
        log(
            f"Running locust ({topology}): {args.users} clients for {args.duration} s against {urls} "
            f"(load {load_before})"
        )
        outage = ReplicaOutage(args) if topology == "replicated" and args.stop_replica_at is not None else None
        load_started = time.monotonic()
        if outage:
            outage.schedule()
        with open(out / "locust.log", "w") as locust_log:
            locust = subprocess.run(
                command,
                cwd=harness.ROOT,
                env=env,
                stdout=locust_log,
                stderr=subprocess.STDOUT,
                timeout=args.duration + 120,
                check=False,
            )
        load_seconds = time.monotonic() - load_started
        workers_cpu = (
            sum(harness.cpu_seconds(pid) for server in servers for pid in server.worker_pids()) - workers_cpu_before
        )
        backends_cpu = sum(
            harness.cpu_seconds(pid) - backends_before.get((port, pid), 0.0)
            for port in ports
            for pid in harness.backend_pids(args.db, port=port)
        )
        pooler_cpu = (sum(harness.cpu_seconds(pid) for pid in pooler_pids()) - pooler_before) if pooler_before else 0.0
        load_after = harness.load_average()
        log(f"locust finished with exit code {locust.returncode} after {load_seconds:.1f} s (load {load_after})")

        samples = json.loads(samples_path.read_text()) if samples_path.exists() else []
        if not samples:
            failures.append(f"locust recorded no request; see {out / 'locust.log'}")
        elapsed = float(args.duration)
        try:
            with open(out / "locust_stats.csv") as stats:
                # The aggregated row's request count over its req/s: the time locust measured.
                row = [line.split(",") for line in stats.read().splitlines() if ",Aggregated," in line][0]
                requests, rps = float(row[2]), float(row[9])
                if rps > 0:
                    elapsed = requests / rps
        except (OSError, IndexError, ValueError):
            pass
        rows, total = summarise(samples, elapsed)
        statuses = Counter(status for _n, status, _t, _f in samples)
        failed = [(name, status) for name, status, _t, failed in samples if failed]

        log("Checking every acknowledged write against the database")
        verification = harness.verify_writes(db_url, journal, run_id=run_id)
        workers_after = [server.worker_pids() for server in servers]
        service_problems = [line for server in servers for line in server.log_problems()]
    finally:
        if outage:
            outage.finish()
        for server in servers:
            server.stop()
        if topology == "replicated":
            release_pooled_connections(args.db)

    service = harness.service_times([server.log_path for server in servers])
    served = max(service["requests"], 1)
    cpu = {
        "gunicorn_ms_per_request": workers_cpu * 1000 / served,
        "postgres_ms_per_request": backends_cpu * 1000 / served,
        "pgbouncer_ms_per_request": pooler_cpu * 1000 / served,
    }
    cpu["total_ms_per_request"] = sum(cpu.values())

    if locust.returncode != 0:
        failures.append(f"locust exited with {locust.returncode}")
    if failed:
        failures.append(f"{len(failed)} failed requests: {dict(Counter(failed).most_common(10))}")
    if not verification["ok"]:
        failures.append(f"writes: missing {verification['missing'][:10]}, mismatched {verification['mismatched'][:5]}")
    if verification["phantoms"]:
        failures.append(f"writes stored without acknowledgement: {verification['phantoms'][:10]}")
    if workers_after != workers_before:
        failures.append(f"gunicorn workers changed during the run: {workers_before} -> {workers_after}")
    if service_problems:
        failures.append(f"the service log shows problems: {service_problems[:10]}")
    if outage:
        failures.extend(outage.problems())

    summary = {
        "run_id": run_id,
        "topology": topology,
        "servers": len(servers),
        "users": args.users,
        "duration": args.duration,
        "workers": args.workers,
        "threads": args.threads,
        "elapsed": elapsed,
        "load_average": {"before": load_before, "after": load_after},
        "total": total,
        "per_request": rows,
        "service_time": service,
        "cpu": cpu,
        "statuses": statuses,
        "verification": verification,
        "failures": failures,
        "replica_outage": outage.events if outage else None,
        "wall_seconds": time.monotonic() - started,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    (out / "summary.md").write_text(markdown(rows, total) + "\n")
    return summary


class ReplicaOutage:
    """Stops the replica cluster under load and starts it again; checks it serves reads afterwards."""

    def __init__(self, args):
        self.at, self.down, self.db = args.stop_replica_at, args.replica_down, args.db
        self.cluster = os.environ.get("LOADTEST_REPLICA_CLUSTER", "replica")
        self.version = os.environ.get("PG_VERSION") or max(os.listdir("/etc/postgresql"), key=float)
        self.events: list[str] = []
        self.timers: list[threading.Timer] = []
        self.transactions_at_start = -1

    def ctl(self, action: str) -> None:
        fast = ["-m", "fast"] if action == "stop" else []
        command = ["pg_ctlcluster", "--skip-systemctl-redirect", self.version, self.cluster, action, *fast]
        result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        self.events.append(f"{time.strftime('%H:%M:%S')} replica {action}: exit {result.returncode}")
        log(self.events[-1])

    def schedule(self) -> None:
        self.timers = [threading.Timer(self.at, self.ctl, ["stop"]), threading.Timer(self.at + self.down, self.restart)]
        for timer in self.timers:
            timer.daemon = True
            timer.start()

    def restart(self) -> None:
        self.ctl("start")
        harness.wait_for(lambda: harness.pg_ready(port=REPLICA_PORT), timeout=30)
        self.transactions_at_start = self.replica_transactions()

    def replica_transactions(self) -> int:
        """Transactions committed on the replica in the database (read-only ones: a standby's)."""
        import psycopg

        try:
            with psycopg.connect(
                host=harness.PG_HOST, port=REPLICA_PORT, user=harness.PG_USER, dbname="postgres", connect_timeout=5
            ) as conn:
                row = conn.execute("SELECT xact_commit FROM pg_stat_database WHERE datname = %s", [self.db]).fetchone()
                return int(row[0]) if row else 0
        except psycopg.Error:
            return -1

    def finish(self) -> None:
        for timer in self.timers:
            timer.join(timeout=self.at + self.down + 60)
        if not harness.pg_ready(port=REPLICA_PORT):
            self.ctl("start")  # whatever happened, the replica is left running

    def problems(self) -> list[str]:
        """Run after the servers stopped, so that their backends' statistics are counted."""
        problems = []
        if not any("stop: exit 0" in event for event in self.events):
            problems.append(f"the replica was not stopped: {self.events}")
        if not any("start: exit 0" in event for event in self.events):
            problems.append(f"the replica was not started again: {self.events}")
        elif not self.replica_transactions() > self.transactions_at_start >= 0:
            problems.append("the replica served no read after it was started again")
        return problems


def pooler_pids() -> list[int]:
    """PgBouncer's processes on this machine."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/comm"):
        try:
            if stat.read_text().strip() == "pgbouncer":
                pids.append(int(stat.parent.name))
        except OSError:
            pass
    return pids


def release_pooled_connections(db: str) -> None:
    """PgBouncer keeps server connections to the database; the next run drops and recreates it."""
    import psycopg

    with psycopg.connect(
        host=harness.PG_HOST, port=POOLER_PORT, user=harness.PG_USER, dbname="pgbouncer", autocommit=True
    ) as admin:
        admin.execute(f'KILL "{db}"')
        admin.execute(f'RESUME "{db}"')


def describe(summary: dict) -> str:
    if summary["topology"] == "single":
        return f"one gunicorn ({summary['workers']} workers x {summary['threads']} thread(s)) on the primary"
    return (
        f"two gunicorns ({summary['workers']} workers x {summary['threads']} thread(s) each), the primary "
        "through PgBouncer (transaction mode), reads from a streaming replica"
    )


def report(summary: dict) -> None:
    args_line = (
        f"Load: {summary['users']} clients, {summary['duration']} s, {describe(summary)}, PostgreSQL, Redis cache; "
        f"machine load average {summary['load_average']['before']} before, {summary['load_average']['after']} after."
    )
    print()
    print(f"## {summary['topology']}")
    print()
    print(args_line)
    print()
    print(markdown(summary["per_request"], summary["total"]))
    print()
    service, cpu, verification, total = (
        summary["service_time"],
        summary["cpu"],
        summary["verification"],
        summary["total"],
    )
    print(
        f"Time in a gunicorn worker per request (no queueing): mean {fmt(service['mean'])} ms, p50 "
        f"{fmt(service['p50'])}, p95 {fmt(service['p95'])}, p99 {fmt(service['p99'])} ms over {service['requests']} "
        "requests; the rest of each latency is queueing."
    )
    cores = os.cpu_count() or 2
    pooler = f" + {cpu['pgbouncer_ms_per_request']:.1f} ms in PgBouncer" if cpu["pgbouncer_ms_per_request"] else ""
    print(
        f"CPU per request: {cpu['gunicorn_ms_per_request']:.1f} ms in gunicorn + "
        f"{cpu['postgres_ms_per_request']:.1f} ms in PostgreSQL{pooler} = {cpu['total_ms_per_request']:.1f} ms, "
        f"so {cores} cores given to the service alone would "
        f"serve about {cores * 1000 / cpu['total_ms_per_request']:.0f} requests/s of this mix "
        f"({1000 / cpu['total_ms_per_request']:.0f} per core)."
    )
    if summary["replica_outage"]:
        print(f"Replica outage under load: {'; '.join(summary['replica_outage'])}.")
    statuses = dict(sorted(summary["statuses"].items()))
    print(f"Throughput: {total['rps']:.1f} requests/s over {summary['elapsed']:.1f} s; statuses {statuses}.")
    print(
        f"Writes: {verification['acked_creates']} creates and {verification['acked_patches']} If-Match patches "
        f"acknowledged; {verification['records_checked']} records checked: "
        f"{len(verification['missing'])} missing, {len(verification['mismatched'])} with other values, "
        f"{len(verification['phantoms'])} stored without acknowledgement."
    )


def comparison(summaries: list[dict]) -> str:
    lines = [
        "| topology | req/s | p50 ms | p95 ms | p99 ms | CPU ms/request | requests/s per core | failures "
        "| lost writes |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for summary in summaries:
        total, cpu, verification = summary["total"], summary["cpu"], summary["verification"]
        lost = len(verification["missing"]) + len(verification["mismatched"])
        lines.append(
            f"| {describe(summary)} | {total['rps']:.1f} | {fmt(total['p50'])} | {fmt(total['p95'])} "
            f"| {fmt(total['p99'])} | {cpu['total_ms_per_request']:.1f} | {1000 / cpu['total_ms_per_request']:.0f} "
            f"| {total['failures']} | {lost} |"
        )
    return "\n".join(lines)


def main():
    args = arguments()
    run_id, out = harness.start_run(args.out, "load")
    topologies = ["single", "replicated"] if args.topology == "both" else [args.topology]

    if not harness.pg_ready():
        sys.exit(f"PostgreSQL does not answer on {harness.PG_HOST}:{harness.PG_PORT}.")
    if not harness.redis_ready():
        sys.exit(f"Redis does not answer at {harness.REDIS_URL}.")
    if "replicated" in topologies and not (harness.pg_ready(port=REPLICA_PORT) and harness.pg_ready(port=POOLER_PORT)):
        sys.exit(
            f"No replica on port {REPLICA_PORT} or no PgBouncer on {POOLER_PORT}: run deploy/local-cluster.sh start."
        )

    started = time.monotonic()
    summaries = []
    for topology in topologies:
        # Each topology gets its own run id, so that its writes are told apart from the other's.
        summaries.append(
            run_topology(args, topology, f"{run_id}{topology[0]}", out / topology if len(topologies) > 1 else out)
        )
    for summary in summaries:
        report(summary)
    if len(summaries) > 1:
        table = comparison(summaries)
        (out / "comparison.md").write_text(table + "\n")
        print()
        print("## Side by side")
        print()
        print(table)
    print(f"Results in {out} (total {time.monotonic() - started:.0f} s).")
    failures = [f"{summary['topology']}: {failure}" for summary in summaries for failure in summary["failures"]]
    if failures:
        print("FAILED:\n- " + "\n- ".join(failures))
        sys.exit(1)
    print("PASSED: no failed request, every acknowledged write is stored with its values.")


if __name__ == "__main__":
    main()
