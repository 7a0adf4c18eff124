"""Schemathesis runs every operation of the served schema, in all its phases, against the service.

A real server (gunicorn, two workers) on a database of its own holding the seed data, driven
over HTTP with a curator's token, so that writes get past authentication and the stateful
phase can follow the links from each create to its record. The phases are Schemathesis's
own: examples, coverage (every boundary of every parameter), fuzzing and stateful sequences;
the checks and the few choices made about them are in schemathesis/schemathesis.toml. The
run passes only with no failure at all.

``SCHEMATHESIS_SEED`` picks another seed (the default keeps CI reproducible).
"""

import os
import re
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
CONFIG = Path(__file__).parent / "schemathesis" / "schemathesis.toml"
BIN = Path(sys.executable).parent
RUN_TIMEOUT = 900


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def database_url(tmp_path):
    """A database of the test run's kind that nothing else uses, dropped afterwards."""
    if connection.vendor != "postgresql":
        yield f"sqlite:///{tmp_path / 'schemathesis.sqlite3'}"
        return
    settings = connection.settings_dict
    host, port, user = settings["HOST"] or "127.0.0.1", settings["PORT"] or 5432, settings["USER"] or "postgres"
    name = f"osint_schemathesis_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(host=host, port=port, user=user, dbname="postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgres://{user}@{host}:{port}/{name}"
    finally:
        with psycopg.connect(host=host, port=port, user=user, dbname="postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def server(database_url, tmp_path):
    """The service under gunicorn on the seed data; yields its address and a curator's token."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "DATABASE_"))}
    # Thousands of requests a minute, from one client: throttling would answer most with 429.
    env.update(DATABASE_URL=database_url, DJANGO_THROTTLE_ANON="1000000/minute", DJANGO_THROTTLE_USER="1000000/minute")

    def manage(*args):
        result = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    manage("migrate", "--noinput", "-v0")
    manage("load_seed")
    token = manage("create_local_admin").split()[-1]
    port = free_port()
    log = (tmp_path / "gunicorn.log").open("w")
    process = subprocess.Popen(
        [BIN / "gunicorn", "osint.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{url}/api/", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        else:
            pytest.fail("gunicorn did not start: " + (tmp_path / "gunicorn.log").read_text())
        yield url, token
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def test_every_operation_in_every_phase_finds_nothing(server, tmp_path):
    url, token = server
    command = [
        BIN / "schemathesis", "--config-file", CONFIG, "run", f"{url}/api/schema/?format=json",
        "--header", f"Authorization: Token {token}",
        "--phases", "examples,coverage,fuzzing,stateful",
        "--seed", os.environ.get("SCHEMATHESIS_SEED", "1"),
        "--report", "junit", "--report-dir", tmp_path / "report",
    ]  # fmt: skip
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    summary = result.stdout[result.stdout.find("=== FAILURES") :] or result.stdout[-4000:]
    assert result.returncode == 0, summary[-12000:] + result.stderr[-2000:]
    selected, total = re.search(r"Selected: (\d+)/(\d+)", result.stdout).groups()
    assert selected == total == re.search(r"Tested: (\d+)", result.stdout)[1], "every operation is tested"
    for phase in ("Coverage", "Fuzzing", "Stateful"):
        assert f"✅ {phase}" in result.stdout, f"the {phase.lower()} phase ran and passed"
