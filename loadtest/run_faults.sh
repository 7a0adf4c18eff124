#!/usr/bin/env bash
# Fault test: see loadtest/run_faults.py (or run with --help). About 1.5 minutes.
# PostgreSQL is started again on exit, whatever happens (the Python script does it too).
set -uo pipefail
cd "$(dirname "$0")/.."
ensure_postgres() {
    if ! pg_isready -q -h 127.0.0.1 -p 5432; then
        echo "run_faults.sh: PostgreSQL is down, starting it" >&2
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort | tail -n1)" main start
        for _ in $(seq 60); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
    fi
}
trap ensure_postgres EXIT
timeout --signal=INT --kill-after=30 600 .venv/bin/python loadtest/run_faults.py "$@"
