"""Faults the service must survive, reproduced in the test suite.

- An import killed (SIGKILL) in the middle of a batch leaves no partial record, and running it
  again reaches what a clean import stores. The import runs in a subprocess against its own
  copy of the test database: a file copy of the in-memory database on SQLite, a clone
  (``CREATE DATABASE ... TEMPLATE``) on PostgreSQL.
- On PostgreSQL, a connection killed between two requests (``pg_terminate_backend``) is replaced
  on the next request, and a database that cannot be reached is answered with a clean 503 and
  served again as soon as it is back. These go through Django's real WSGI handler, as gunicorn
  calls it: the test client leaves out the connection housekeeping done at each request.

loadtest/run_faults.sh does the same against gunicorn while restarting PostgreSQL.
"""

import csv
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from http import HTTPStatus
from pathlib import Path
from urllib.parse import quote
from wsgiref.util import setup_testing_defaults

import pytest
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.management import call_command
from django.db import connection, connections

from events.models import CasualtyReport

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_NAME = "ucdp_ged_v23_1_sample200.csv"
SAMPLE = next(
    (
        path
        for path in (ROOT / "tests" / "data" / SAMPLE_NAME, ROOT.parent / "shared" / "data" / SAMPLE_NAME)
        if path.exists()
    ),
    None,
)
ROWS = 60  # of the sample, imported in batches of BATCH_SIZE rows
BATCH_SIZE = 10
# The import is killed inside the transaction of this batch, after it inserted events and citations.
PAUSED_BATCH = 3
TIMEOUT = 120
needs_postgres = pytest.mark.skipif(
    "postgresql" not in settings.DATABASES["default"]["ENGINE"], reason="needs PostgreSQL"
)

# Runs import_ucdp in a subprocess. With a batch number N, once batch N has inserted its events
# (and their history, one statement a batch) and then citations, inside that batch's
# transaction, before its commit, it reports how many events the transaction sees and waits to
# be killed; the hook watches SQL statements, not the importer's code. With a "go" file, it
# starts Django at once but waits for the file to import.
IMPORT = """
import json, os, sys, time
from pathlib import Path
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "osint.settings")
sys.path.insert(0, os.getcwd())
import django
django.setup()
from django.core.management import call_command
from django.db import connection
from events.management.commands import import_ucdp

ready, pause_in, go, csv_path, batch_size = sys.argv[1:]
pause_in, batches = int(pause_in), 0
if go != "-":
    deadline = time.monotonic() + 120
    while not Path(go).exists():
        if time.monotonic() > deadline:
            sys.exit("never told to go")
        time.sleep(0.02)

def pause_mid_batch(execute, sql, params, many, context):
    global batches
    result = execute(sql, params, many, context)
    table = sql.split()[2].strip('"') if sql.lstrip().upper().startswith("INSERT INTO") else None
    if table == "events_historicalevent":
        batches += 1
    elif pause_in and table == "events_citation" and batches == pause_in:
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM events_event")
            seen = cursor.fetchone()[0]
        Path(ready).write_text(json.dumps({"in_transaction": connection.in_atomic_block, "events_seen": seen}))
        time.sleep(600)
    return result

with connection.execute_wrapper(pause_mid_batch):
    call_command("import_ucdp", csv_path, "--batch-size", batch_size, "--no-progress", verbosity=0)
"""


def subprocess_env(database_url):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    env.update(DATABASE_URL=database_url, DJANGO_LOG_LEVEL="ERROR", PYTHONDONTWRITEBYTECODE="1")
    return env


def import_ucdp(database_url, csv_path, *, pause_in=0, ready="-", go="-"):
    """``import_ucdp`` in a subprocess (see IMPORT)."""
    return subprocess.Popen(
        [sys.executable, "-c", IMPORT, str(ready), str(pause_in), str(go), str(csv_path), str(BATCH_SIZE)],
        cwd=ROOT,
        env=subprocess_env(database_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process):
    try:
        out, err = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
    assert process.returncode == 0, f"import_ucdp failed ({process.returncode}):\n{out}\n{err}"
    return out


def first_rows(source, target, count):
    """The header and the first ``count`` records of a CSV file (records may span lines)."""
    with open(source, newline="", encoding="utf-8") as infile, open(target, "w", newline="", encoding="utf-8") as out:
        reader, writer = csv.reader(infile), csv.writer(out)
        for number, row in enumerate(reader):
            if number > count:
                break
            writer.writerow(row)
    return target


def snapshot(query):
    """Counts of every table the import writes, and each event with its reports and citations.

    ``query(sql)`` returns the rows of a query. Sources are named by slug, not id: ids taken by
    a transaction that was rolled back are not reused.
    """
    counts = {
        table: query(f"SELECT COUNT(*) FROM {table}")[0][0]
        for table in (
            "events_event",
            "events_casualtyreport",
            "events_citation",
            "events_source",
            "events_historicalevent",
            "events_historicalcasualtyreport",
            "events_historicalcitation",
            "events_historicalsource",
        )
    }
    events = {}
    for external_id, report, role, slug, title in query(
        "SELECT e.external_id, NULL, c.role, s.slug, c.title FROM events_event e "
        "LEFT JOIN events_citation c ON c.event_id = e.id LEFT JOIN events_source s ON s.id = c.source_id "
        "UNION ALL "
        "SELECT e.external_id, r.external_id, c.role, s.slug, c.title FROM events_event e "
        "JOIN events_casualtyreport r ON r.event_id = e.id "
        "LEFT JOIN events_citation c ON c.casualty_report_id = r.id "
        "LEFT JOIN events_source s ON s.id = c.source_id"
    ):
        events.setdefault(external_id, []).append((report or "", role or "", slug or "", title or ""))
    orphans = query(
        "SELECT COUNT(*) FROM events_casualtyreport r WHERE r.external_id LIKE 'ucdp-ged:%' AND NOT EXISTS "
        "(SELECT 1 FROM events_event e WHERE e.id = r.event_id)"
    )[0][0]
    return {"counts": counts, "events": {key: sorted(rows) for key, rows in events.items()}, "orphan_reports": orphans}


def django_query(sql):
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


class ScratchDatabase:
    """A copy of the (migrated, empty) test database that a subprocess can open."""

    def __init__(self, url, query, drop):
        self.url, self.query, self.drop = url, query, drop

    def snapshot(self):
        return snapshot(self.query)


def sqlite_scratch(tmp_path):
    path = tmp_path / "scratch.sqlite3"
    target = sqlite3.connect(path)
    connection.ensure_connection()
    connection.connection.backup(target)
    target.close()

    def query(sql):
        with sqlite3.connect(path) as db:
            return db.execute(sql).fetchall()

    return ScratchDatabase(f"sqlite:///{path}", query, lambda: None)


def postgres_params(settings_dict, name):
    return {
        "host": settings_dict["HOST"] or "127.0.0.1",
        "port": settings_dict["PORT"] or 5432,
        "user": settings_dict["USER"],
        "password": settings_dict["PASSWORD"] or None,
        "dbname": name,
        "connect_timeout": 10,
    }


def postgres_scratch():
    import psycopg

    settings_dict = connection.settings_dict
    template = settings_dict["NAME"]
    clone = f"{template}_scratch_{uuid.uuid4().hex[:8]}"[:63]
    admin = postgres_params(settings_dict, "postgres")
    # CREATE DATABASE ... TEMPLATE needs the template to have no session: close ours.
    connections.close_all()
    with psycopg.connect(**admin, autocommit=True) as db:
        for attempt in range(50):
            try:
                db.execute(f'CREATE DATABASE "{clone}" TEMPLATE "{template}"')
                break
            except psycopg.errors.ObjectInUse:
                if attempt == 49:
                    raise
                time.sleep(0.1)

    def query(sql):
        with psycopg.connect(**postgres_params(settings_dict, clone)) as db:
            return db.execute(sql).fetchall()

    def drop():
        with psycopg.connect(**admin, autocommit=True) as db:
            db.execute(f'DROP DATABASE IF EXISTS "{clone}" WITH (FORCE)')

    user = quote(settings_dict["USER"] or "", safe="")
    password = f":{quote(settings_dict['PASSWORD'], safe='')}" if settings_dict["PASSWORD"] else ""
    url = f"postgres://{user}{password}@{admin['host']}:{admin['port']}/{clone}"
    return ScratchDatabase(url, query, drop)


@pytest.fixture
def scratch_database(tmp_path, django_db_setup, django_db_blocker):
    """A copy of the test database for a subprocess; made before the test's transaction opens."""
    with django_db_blocker.unblock():
        if connection.vendor == "sqlite":
            if not connection.is_in_memory_db():
                pytest.skip("the SQLite test database is a file here; this test copies the in-memory one")
            scratch = sqlite_scratch(tmp_path)
        elif connection.vendor == "postgresql":
            scratch = postgres_scratch()
        else:
            pytest.skip(f"no scratch copy for {connection.vendor}")
    yield scratch
    with django_db_blocker.unblock():
        scratch.drop()


def test_an_import_killed_mid_batch_leaves_no_partial_record_and_a_rerun_completes_it(scratch_database, db, tmp_path):
    if SAMPLE is None:
        pytest.skip(f"{SAMPLE_NAME} is neither in tests/data nor in shared/data")
    sample = first_rows(SAMPLE, tmp_path / "sample.csv", ROWS)
    killed = scratch_database
    assert killed.snapshot()["counts"]["events_event"] == 0

    ready, go = tmp_path / "paused.json", tmp_path / "go"
    victim = import_ucdp(killed.url, sample, pause_in=PAUSED_BATCH, ready=ready)
    rerun = import_ucdp(killed.url, sample, go=go)  # starts Django now, imports when told
    try:
        try:
            # Meanwhile, the reference: a clean import of the same file into the test database.
            call_command("import_ucdp", str(sample), batch_size=BATCH_SIZE, no_progress=True, verbosity=0)
            expected = snapshot(django_query)
            assert expected["counts"]["events_event"] == ROWS

            deadline = time.monotonic() + TIMEOUT
            while not ready.exists() and victim.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)
            assert ready.exists(), f"the import never reached batch {PAUSED_BATCH}: {victim.communicate()}"
            paused = json.loads(ready.read_text())
        finally:
            victim.send_signal(signal.SIGKILL)
            victim.communicate(timeout=TIMEOUT)
        assert victim.returncode == -signal.SIGKILL
        assert paused["in_transaction"], "the import was killed inside a batch's transaction"

        after_kill = killed.snapshot()
        imported = after_kill["counts"]["events_event"]
        # The batches before the killed one are stored whole; the killed one left nothing.
        assert imported == (PAUSED_BATCH - 1) * BATCH_SIZE
        assert paused["events_seen"] > imported, "the killed batch had written events before it died"
        assert after_kill["orphan_reports"] == 0
        for external_id, rows in after_kill["events"].items():
            assert rows == expected["events"][external_id], f"{external_id} is incomplete"
        assert after_kill["counts"]["events_historicalevent"] == imported

        go.touch()
        finish(rerun)
    finally:
        if rerun.poll() is None:
            rerun.kill()
            rerun.communicate()
    assert killed.snapshot() == expected


# --- Connections: through Django's WSGI handler, as gunicorn calls it -----------------------------


def wsgi_request(path, method="GET", body=None, token=None):
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path.split("?")[0], "QUERY_STRING": path.partition("?")[2]}
    setup_testing_defaults(environ)  # HTTP_HOST 127.0.0.1
    payload = json.dumps(body).encode() if body is not None else b""
    environ.update({"wsgi.input": io.BytesIO(payload), "CONTENT_LENGTH": str(len(payload))})
    if body is not None:
        environ["CONTENT_TYPE"] = "application/json"
    if token:
        environ["HTTP_AUTHORIZATION"] = f"Token {token}"
    status_headers = {}

    def start_response(status, headers, exc_info=None):
        status_headers.update(status=int(status.split()[0]), headers=dict(headers))

    response = WSGIHandler()(environ, start_response)
    try:
        content = b"".join(response)
    finally:
        response.close()  # sends request_finished, as a WSGI server does
    return status_headers["status"], status_headers["headers"], content


@pytest.fixture
def persistent_connections(monkeypatch):
    """The production settings: connections kept between requests, checked before reuse."""
    assert settings.DATABASES["default"]["CONN_HEALTH_CHECKS"], "settings turn connection health checks on"
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 600)
    monkeypatch.setitem(connection.settings_dict, "CONN_HEALTH_CHECKS", True)
    connection.close()  # the next connection is made with these settings
    yield
    connection.close()


def backend_pid():
    return connection.connection.info.backend_pid


def terminate(pid):
    import psycopg

    with psycopg.connect(**postgres_params(connection.settings_dict, "postgres"), autocommit=True) as db:
        assert db.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()[0]
        for _ in range(100):
            if not db.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone():
                return
            time.sleep(0.05)
    raise AssertionError(f"backend {pid} did not exit")


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_a_connection_killed_between_requests_is_replaced_on_the_next_one(persistent_connections, curator):
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=curator).key
    status, _, _ = wsgi_request("/api/sources/")
    assert status == HTTPStatus.OK
    first = backend_pid()
    status, _, _ = wsgi_request("/api/events/")
    assert status == HTTPStatus.OK
    assert backend_pid() == first, "the connection is kept between requests"

    terminate(first)
    status, _, content = wsgi_request("/api/sources/")
    assert status == HTTPStatus.OK, content
    assert backend_pid() != first, "a new connection replaced the dead one"

    terminate(backend_pid())
    report = {"country": "KP", "category": "killed", "best": 12, "kind": "estimate", "description": "after a kill"}
    status, _, content = wsgi_request("/api/casualty-reports/", "POST", report, token=token)
    assert status == HTTPStatus.CREATED, content
    assert CasualtyReport.objects.filter(description="after a kill").count() == 1


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_an_unreachable_database_is_a_clean_503_and_service_resumes_when_it_is_back(
    persistent_connections, curator, monkeypatch
):
    import socket

    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=curator).key
    assert wsgi_request("/api/events/")[0] == HTTPStatus.OK

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    real_port = connection.settings_dict["PORT"]
    terminate(backend_pid())
    monkeypatch.setitem(connection.settings_dict, "PORT", closed_port)
    for path, method, body in [
        ("/api/events/", "GET", None),
        ("/api/casualty-reports/?unit=1", "GET", None),
        (
            "/api/casualty-reports/",
            "POST",
            {"country": "KP", "category": "killed", "best": 7, "kind": "count", "description": "during the outage"},
        ),
    ]:
        started = time.monotonic()
        status, headers, content = wsgi_request(path, method, body, token=token)
        assert status == HTTPStatus.SERVICE_UNAVAILABLE, content
        assert time.monotonic() - started < 10, "fails fast"
        assert headers["Content-Type"] == "application/json"
        assert headers["Retry-After"]
        assert set(json.loads(content)) == {"detail"}
        assert b"Traceback" not in content and str(closed_port).encode() not in content

    monkeypatch.setitem(connection.settings_dict, "PORT", real_port)
    status, _, content = wsgi_request("/api/events/")
    assert status == HTTPStatus.OK, content
    assert not CasualtyReport.objects.filter(description="during the outage").exists()
