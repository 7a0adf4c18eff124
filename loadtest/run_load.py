"""Load test: gunicorn in the production configuration on PostgreSQL, 32 clients for 60 s.

    loadtest/run_load.sh [--users 32] [--duration 60] [--workers N] [--port 8765] [--db osint_load]

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


def main():
    args = arguments()
    run_id = time.strftime("%Y%m%d%H%M%S")
    out = args.out or harness.LOADTEST / "results" / f"load-{run_id}"
    out.mkdir(parents=True, exist_ok=True)
    harness.LOG_FILE = out / "run.log"
    journal, samples_path = out / "journal.jsonl", out / "samples.json"
    port = args.port or harness.free_port()

    if not harness.pg_ready():
        sys.exit(f"PostgreSQL does not answer on {harness.PG_HOST}:{harness.PG_PORT}.")
    if not harness.redis_ready():
        sys.exit(f"Redis does not answer at {harness.REDIS_URL}.")

    started = time.monotonic()
    db_url, token = harness.prepare_database(args.db)
    extra = (["--threads", str(args.threads)] if args.threads > 1 else []) + args.gunicorn_arg
    server = harness.Gunicorn(
        harness.service_env(db_url, conn_max_age=args.conn_max_age),
        port=port,
        workers=args.workers,
        log_path=out / "gunicorn.log",
        extra_args=extra,
        app=args.app,
    )
    failures = []
    try:
        server.start()
        workers_before = server.worker_pids()
        load_before = harness.load_average()
        # CPU used per request, which does not depend on what else runs on the machine: the
        # gunicorn workers' CPU time, and that of the PostgreSQL backends serving them.
        backends_before = {pid: harness.cpu_seconds(pid) for pid in harness.backend_pids(args.db)}
        workers_cpu_before = sum(harness.cpu_seconds(pid) for pid in workers_before)
        env = {
            **os.environ,
            "LOADTEST_TOKEN": token,
            "LOADTEST_RUN_ID": run_id,
            "LOADTEST_JOURNAL": str(journal),
            "LOADTEST_SAMPLES": str(samples_path),
            "LOADTEST_SEED": str(args.seed),
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
            server.url,
            "--csv",
            str(out / "locust"),
            "--only-summary",
            "--loglevel",
            "WARNING",
        ]
        log(f"Running locust: {args.users} clients for {args.duration} s against {server.url} (load {load_before})")
        load_started = time.monotonic()
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
        workers_cpu = sum(harness.cpu_seconds(pid) for pid in server.worker_pids()) - workers_cpu_before
        backends_cpu = sum(
            harness.cpu_seconds(pid) - backends_before.get(pid, 0.0) for pid in harness.backend_pids(args.db)
        )
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
        workers_after = server.worker_pids()
        service_problems = server.log_problems()
    finally:
        server.stop()

    table = markdown(rows, total)
    print()
    print(
        f"Load: {args.users} clients, {args.duration} s, gunicorn {args.workers} workers x {args.threads} thread(s), "
        f"PostgreSQL, Redis cache; machine load average {load_before} before, {load_after} after."
    )
    print()
    print(table)
    print()
    service = harness.service_times(out / "gunicorn.log")
    print(
        f"Time in a gunicorn worker per request (no queueing): mean {fmt(service['mean'])} ms, p50 "
        f"{fmt(service['p50'])}, p95 {fmt(service['p95'])}, p99 {fmt(service['p99'])} ms over {service['requests']} "
        f"requests; with {args.workers} worker(s) x {args.threads} thread(s) the rest of each latency is queueing."
    )
    served = max(service["requests"], 1)
    cpu = {
        "gunicorn_ms_per_request": workers_cpu * 1000 / served,
        "postgres_ms_per_request": backends_cpu * 1000 / served,
    }
    cpu["total_ms_per_request"] = cpu["gunicorn_ms_per_request"] + cpu["postgres_ms_per_request"]
    cores = os.cpu_count() or 2
    print(
        f"CPU per request: {cpu['gunicorn_ms_per_request']:.1f} ms in gunicorn + "
        f"{cpu['postgres_ms_per_request']:.1f} ms in PostgreSQL = {cpu['total_ms_per_request']:.1f} ms, "
        f"so {cores} cores given to the service alone would "
        f"serve about {cores * 1000 / cpu['total_ms_per_request']:.0f} requests/s of this mix."
    )
    print(f"Throughput: {total['rps']:.1f} requests/s over {elapsed:.1f} s; statuses {dict(sorted(statuses.items()))}.")
    print(
        f"Writes: {verification['acked_creates']} creates and {verification['acked_patches']} If-Match patches "
        f"acknowledged; {verification['records_checked']} records checked: "
        f"{len(verification['missing'])} missing, {len(verification['mismatched'])} with other values, "
        f"{len(verification['phantoms'])} stored without acknowledgement."
    )

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

    summary = {
        "run_id": run_id,
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
        "wall_seconds": time.monotonic() - started,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    (out / "summary.md").write_text(table + "\n")
    print(f"Results in {out} (total {summary['wall_seconds']:.0f} s).")
    if failures:
        print("FAILED:\n- " + "\n- ".join(failures))
        sys.exit(1)
    print("PASSED: no failed request, every acknowledged write is stored with its values.")


if __name__ == "__main__":
    main()
