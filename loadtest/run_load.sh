#!/usr/bin/env bash
# Load test: see loadtest/run_load.py (or run with --help). About 2 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
exec timeout --signal=INT --kill-after=30 600 .venv/bin/python loadtest/run_load.py "$@"
