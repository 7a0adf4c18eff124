"""One primary, one streaming replica, PgBouncer and two app servers, as real processes.

``deploy/local-cluster.sh start`` (which ``.ci/run`` calls) gives this machine a streaming
replica of the test cluster on port 5433 and PgBouncer on 6432 in front of the primary. Two
gunicorn instances serve the test database: the primary through PgBouncer in transaction
mode, the replica directly, Redis shared. Each response names the databases its reads used and
what PostgreSQL says each is (``X-Database: replica1 (standby)``: ``pg_is_in_recovery()`` on
the connection the request used).

Without PostgreSQL, or without the replica and PgBouncer, these tests are skipped and say why;
in CI (``CI`` set) a missing replica or pooler fails them instead.
"""

import os
import subprocess
import sys
import time
import uuid
from functools import partial
from pathlib import Path

import psycopg
import pytest
import requests
from django.conf import settings
from django.contrib.auth.models import Permission, User
from rest_framework.authtoken.models import Token

from events.models import Source

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "loadtest"))

import harness  # noqa: E402

HOST = "127.0.0.1"
PRIMARY_PORT = int(os.environ.get("PRIMARY_PORT", "5432"))
REPLICA_PORT = int(os.environ.get("REPLICA_PORT", "5433"))
POOLER_PORT = int(os.environ.get("POOLER_PORT", "6432"))


def pg_version():
    """The cluster's major version, as deploy/local-cluster.sh picks it."""
    if os.environ.get("PG_VERSION"):
        return os.environ["PG_VERSION"]
    return max(os.listdir("/etc/postgresql"), key=float) if Path("/etc/postgresql").is_dir() else ""


REPLICA_CLUSTER = os.environ.get("REPLICA_CLUSTER", "replica")
REDIS_URL = "redis://127.0.0.1:6379/13"
USER_RATE = 40  # per minute, per user, on the pair of servers
MAX_LAG = 5  # seconds: beside the rest of the suite, the replica may fall a few seconds behind
PINNED_SECONDS = 3

REPLICA = "replica1 (standby)"
PRIMARY = "default (primary)"

# One worker runs them all: a test that stops the replica must not run beside one that reads it.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("replicas")]


def unavailable(reason):
    if os.environ.get("CI"):
        pytest.fail(f"{reason}: .ci/run starts them with deploy/local-cluster.sh")
    pytest.skip(f"{reason} (deploy/local-cluster.sh start sets them up)")


def connect(port, dbname="postgres", **kwargs):
    return psycopg.connect(host=HOST, port=port, user="postgres", dbname=dbname, connect_timeout=3, **kwargs)


def replica_cluster(action):
    fast = ["-m", "fast"] if action == "stop" else []
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", pg_version(), REPLICA_CLUSTER, action, *fast],
        check=True,
        capture_output=True,
        timeout=60,
    )
    if action == "start":
        # pg_ctlcluster returns once the server runs; it answers once recovery is consistent.
        assert harness.wait_for(lambda: harness.pg_ready(host=HOST, port=REPLICA_PORT), timeout=60)


def replica_has(table, pk, dbname, timeout=10.0):
    """Waits until the replica has replayed the row."""

    def found():
        try:
            with connect(REPLICA_PORT, dbname) as conn:
                return conn.execute(f"SELECT 1 FROM {table} WHERE id = %s", [pk]).fetchone() is not None
        except psycopg.OperationalError:  # still starting
            return False

    return harness.wait_for(found, timeout=timeout, interval=0.1)


@pytest.fixture(scope="module")
def servers(django_db_setup, django_db_blocker):
    """Two gunicorns on the test database: primary through PgBouncer, the replica direct."""
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("read replicas are PostgreSQL's: this run is on SQLite")
    if not harness.pg_ready(host=HOST, port=REPLICA_PORT):
        unavailable(f"no streaming replica answers on {HOST}:{REPLICA_PORT}")
    with connect(REPLICA_PORT) as conn:
        if not conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]:
            unavailable(f"the server on {HOST}:{REPLICA_PORT} is not a replica")
    if not harness.pg_ready(host=HOST, port=POOLER_PORT):
        unavailable(f"no PgBouncer answers on {HOST}:{POOLER_PORT}")
    if not harness.redis_ready():
        unavailable("Redis does not answer on 127.0.0.1:6379")
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    name = settings.DATABASES["default"]["NAME"]
    env = harness.service_env(f"postgres://postgres@{HOST}:{POOLER_PORT}/{name}")
    env.update(
        {
            "DATABASE_TRANSACTION_POOLER": "1",
            "DATABASE_REPLICA_URLS": f"postgres://postgres@{HOST}:{REPLICA_PORT}/{name}",
            "DATABASE_ROUTING_HEADER": "1",
            "DATABASE_REPLICA_CHECK_SECONDS": "0.5",
            "DATABASE_REPLICA_MAX_LAG": str(MAX_LAG),
            "DATABASE_READ_YOUR_WRITES_SECONDS": str(PINNED_SECONDS),
            "DJANGO_THROTTLE_USER": f"{USER_RATE}/minute",
            "REDIS_URL": REDIS_URL,
        }
    )
    logs = Path(os.environ.get("TMPDIR", "/tmp")) / f"osint-replicas-{os.getpid()}"
    logs.mkdir(exist_ok=True)
    pair = [
        harness.Gunicorn(env, port=harness.free_port(), workers=2, log_path=logs / f"gunicorn-{n}.log")
        for n in ("a", "b")
    ]
    problems = []
    try:
        for server in pair:
            server.start(timeout=90)
        yield pair
        problems = [line for server in pair for line in server.log_problems()]
    finally:
        for server in pair:
            server.stop()
        # PgBouncer keeps server connections to the test database, which PostgreSQL would not
        # drop at the end of the run: close them.
        with connect(POOLER_PORT, "pgbouncer", autocommit=True) as admin:
            admin.execute(f'KILL "{name}"')
            admin.execute(f'RESUME "{name}"')
    assert not problems, f"the servers logged problems: {problems[:10]}"


def make_user(prefix):
    user = User.objects.create_user(f"{prefix}-{uuid.uuid4().hex[:8]}")
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="events"))
    return {"Authorization": f"Token {Token.objects.create(user=user).key}"}


def new_source(server, auth, session=None, **fields):
    slug = f"source-{uuid.uuid4().hex[:10]}"
    payload = {"name": slug.replace("-", " ").title(), "slug": slug, "kind": "media", **fields}
    response = (session or requests).post(f"{server.url}/api/sources/", json=payload, headers=auth, timeout=10)
    assert response.status_code == 201, response.text
    return response


def wait_for_database(server, path, expected, timeout=15.0, headers=None, interval=0.2):
    """Polls until the reads of ``path`` use ``expected``; every answer on the way must be a 200."""
    seen = []

    def served():
        response = requests.get(f"{server.url}{path}", headers=headers, timeout=10)
        assert response.status_code == 200, response.text
        seen.append(response.headers["X-Database"])
        return response.headers["X-Database"] == expected

    found = harness.wait_for(served, timeout=timeout, interval=interval)
    assert found, f"{path} never read from {expected}: {seen[-5:]}"


def test_reads_reach_the_replica_and_writes_the_primary(servers):
    source = Source.objects.create(name="Replicated source", slug="replicated", kind="media")
    name = settings.DATABASES["default"]["NAME"]
    assert replica_has("events_source", source.pk, name)
    for server in servers:
        wait_for_database(server, f"/api/sources/{source.pk}/", REPLICA)
        for path in (f"/api/sources/{source.pk}/", "/api/sources/", "/api/events/?limit=5"):
            response = requests.get(f"{server.url}{path}", timeout=10)
            assert response.status_code == 200, response.text
            assert response.headers["X-Database"] == REPLICA, path
        assert requests.get(f"{server.url}/api/sources/{source.pk}/", timeout=10).json()["name"] == "Replicated source"

    created = new_source(servers[0], make_user("writer"))
    assert created.headers["X-Database"] == PRIMARY
    assert "osint_primary" in created.cookies
    assert Source.objects.filter(pk=created.json()["id"]).exists()


def test_a_read_right_after_a_write_sees_it_on_either_server(servers):
    auth = make_user("reader-of-own-writes")
    cookies = requests.Session()
    for number in range(6):
        writer, reader = servers[number % 2], servers[(number + 1) % 2]
        created = new_source(writer, auth, session=cookies).json()
        # A token client keeps no cookie: the shared cache remembers that its user wrote.
        by_token = requests.get(f"{reader.url}/api/sources/{created['id']}/", headers=auth, timeout=10)
        assert by_token.status_code == 200, by_token.text
        assert by_token.json()["name"] == created["name"]
        assert by_token.headers["X-Database"] == PRIMARY
        # A client that keeps cookies sends back the one the write set, even anonymously.
        anonymous = requests.get(
            f"{reader.url}/api/sources/?slug={created['slug']}", cookies=cookies.cookies, timeout=10
        )
        assert [row["id"] for row in anonymous.json()["results"]] == [created["id"]]
        assert anonymous.headers["X-Database"] == PRIMARY

    # The window closes: the same user reads from the replica again. Beside the rest of the
    # suite the replica may lag past MAX_LAG for a while, so anonymous reads wait for it first:
    # polled with the token, the wait would spend the user's rate (12 requests spent so far).
    time.sleep(PINNED_SECONDS + 0.5)
    for server in servers:
        wait_for_database(server, f"/api/sources/{created['id']}/", REPLICA, timeout=30)
        wait_for_database(server, f"/api/sources/{created['id']}/", REPLICA, headers=auth, timeout=10, interval=1)


def test_a_stopped_replica_is_routed_around_and_rejoins(servers):
    source = Source.objects.create(name="Read while the replica is down", slug="read-while-down", kind="media")
    assert replica_has("events_source", source.pk, settings.DATABASES["default"]["NAME"])
    wait_for_database(servers[0], "/api/sources/", REPLICA)
    replica_cluster("stop")
    try:
        deadline = time.monotonic() + 4
        answers = []
        while time.monotonic() < deadline:
            for server in servers:
                for path in (f"/api/sources/{source.pk}/", "/api/sources/?limit=3", "/api/events/"):
                    response = requests.get(f"{server.url}{path}", timeout=10)
                    assert response.status_code == 200, f"{path}: {response.status_code} {response.text[:200]}"
                    answers.append(response.headers["X-Database"])
        assert set(answers) == {PRIMARY}
        # A write while it is down, read back from the primary by anyone.
        created = new_source(servers[1], make_user("writer-while-down")).json()
        assert requests.get(f"{servers[0].url}/api/sources/{created['id']}/", timeout=10).status_code == 200
    finally:
        replica_cluster("start")
    for server in servers:
        wait_for_database(server, f"/api/sources/{source.pk}/", REPLICA, timeout=30)
    assert requests.get(f"{servers[1].url}/api/sources/{created['id']}/", timeout=10).status_code == 200


def test_a_replica_lagging_too_far_is_left_out(servers):
    name = settings.DATABASES["default"]["NAME"]
    wait_for_database(servers[0], "/api/sources/", REPLICA)
    with connect(REPLICA_PORT, name, autocommit=True) as replica:
        replica.execute("SELECT pg_wal_replay_pause()")
        try:
            source = Source.objects.create(name="Written while the replica is paused", slug="paused", kind="media")
            time.sleep(MAX_LAG + 1)
            # Anonymous, no cookie: it would read the replica, which has not replayed the write.
            for server in servers:
                wait_for_database(server, f"/api/sources/?slug={source.slug}", PRIMARY, timeout=5)
                found = requests.get(f"{server.url}/api/sources/?slug={source.slug}", timeout=10).json()
                assert [row["id"] for row in found["results"]] == [source.pk]
        finally:
            replica.execute("SELECT pg_wal_replay_resume()")
    for server in servers:
        wait_for_database(server, f"/api/sources/{source.pk}/", REPLICA, timeout=15)


def test_throttling_counts_across_both_servers(servers):
    auth = make_user("busy")
    statuses = [
        requests.get(f"{servers[number % 2].url}/api/sources/?limit=1", headers=auth, timeout=10).status_code
        for number in range(USER_RATE + 2)
    ]
    # Counted per server, every one of these would pass: each server sees about half of them.
    assert 429 in statuses, statuses
    allowed = statuses.index(429)
    assert USER_RATE // 2 < allowed <= USER_RATE, statuses
    assert set(statuses[:allowed]) == {200} and set(statuses[allowed:]) == {429}, statuses
    refused = requests.get(f"{servers[0].url}/api/sources/?limit=1", headers=auth, timeout=10)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0


def test_etags_and_if_match_agree_across_servers(servers):
    auth = make_user("editor")
    a, b = servers
    created = new_source(a, auth)
    url = f"/api/sources/{created.json()['id']}/"
    etag = created.headers["ETag"]
    assert requests.get(f"{a.url}{url}", headers=auth, timeout=10).headers["ETag"] == etag
    assert requests.get(f"{b.url}{url}", headers=auth, timeout=10).headers["ETag"] == etag
    assert requests.get(f"{b.url}{url}", headers={**auth, "If-None-Match": etag}, timeout=10).status_code == 304

    changed = requests.patch(
        f"{b.url}{url}", json={"description": "from b"}, headers={**auth, "If-Match": etag}, timeout=10
    )
    assert changed.status_code == 200, changed.text
    assert changed.headers["ETag"] != etag
    stale = requests.patch(
        f"{a.url}{url}", json={"description": "from a"}, headers={**auth, "If-Match": etag}, timeout=10
    )
    assert stale.status_code == 412
    current = requests.patch(
        f"{a.url}{url}",
        json={"description": "from a"},
        headers={**auth, "If-Match": changed.headers["ETag"]},
        timeout=10,
    )
    assert current.status_code == 200
    assert Source.objects.get(pk=created.json()["id"]).description == "from a"


def test_the_sync_feed_is_the_same_on_both_servers(servers):
    auth = make_user("mirror")
    kept = new_source(servers[0], auth).json()
    gone = new_source(servers[1], auth).json()
    assert requests.delete(f"{servers[0].url}/api/sources/{gone['id']}/", headers=auth, timeout=10).status_code == 204
    assert replica_has("events_source", kept["id"], settings.DATABASES["default"]["NAME"])
    time.sleep(0.5)  # the deletion, committed after the row, replays too

    def feed(server):
        # Behind a load balancer both servers see the same Host, so their links are the same.
        get = partial(requests.get, headers={"Host": "localhost"}, timeout=10)
        changed = get(f"{server.url}/api/sources/", params={"modified_since": kept["created_at"]})
        deleted = get(f"{server.url}/api/deletions/", params={"since": kept["created_at"]})
        assert changed.status_code == deleted.status_code == 200
        return changed.json(), deleted.json()

    first, second = feed(servers[0]), feed(servers[1])
    assert first == second
    assert [row["id"] for row in first[0]["results"]] == [kept["id"]]
    assert [(row["resource"], row["id"]) for row in first[1]["results"]] == [("sources", gone["id"])]


def test_the_primary_is_reached_through_pgbouncer(servers):
    name = settings.DATABASES["default"]["NAME"]

    def admin(command):
        with connect(POOLER_PORT, "pgbouncer", autocommit=True) as console:
            cursor = console.execute(command)
            columns = [column.name for column in cursor.description]
            return [dict(zip(columns, row, strict=True)) for row in cursor]

    assert {row["key"]: row["value"] for row in admin("SHOW CONFIG")}["pool_mode"] == "transaction"
    new_source(servers[1], make_user("pooled"))
    pools = [row for row in admin("SHOW POOLS") if row["database"] == name]
    assert pools and sum(row["sv_active"] + row["sv_idle"] + row["sv_used"] for row in pools) >= 1
    # The primary's backends for the test database are PgBouncer's, not the app servers'.
    with connect(PRIMARY_PORT) as conn:
        applications = {
            row[0]
            for row in conn.execute(
                "SELECT application_name FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [name]
            )
        }
    assert applications


def test_replica_urls_must_name_postgresql_replicas_of_a_postgresql_primary():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    env.update(DATABASE_URL="sqlite:///unused.sqlite3", DATABASE_REPLICA_URLS="postgres://postgres@127.0.0.1:5433/x")
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "DATABASE_REPLICA_URLS are PostgreSQL replicas of a PostgreSQL DATABASE_URL" in result.stderr
