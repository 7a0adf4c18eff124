"""Shared machinery of the load and fault scripts: a database, a gunicorn, statistics.

Everything here talks to this machine only (127.0.0.1) and every wait is bounded.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOADTEST = ROOT / "loadtest"
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv" / "bin" / "python").exists() else sys.executable
BIN = Path(PYTHON).parent

PG_HOST = os.environ.get("LOADTEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("LOADTEST_PG_PORT", "5432"))
PG_USER = os.environ.get("LOADTEST_PG_USER", "postgres")
REDIS_URL = os.environ.get("LOADTEST_REDIS_URL", "redis://127.0.0.1:6379/0")


LOG_FILE: Path | None = None  # also written here when set


def log(message: str) -> None:
    line = f"[{time.strftime('%H:%M:%S')}] {message}"
    print(line, flush=True)
    if LOG_FILE is not None:
        with open(LOG_FILE, "a") as file:
            file.write(line + "\n")


def start_run(out: Path | None, prefix: str) -> tuple[str, Path]:
    """A run id from the clock and the run's output folder (default results/<prefix>-<id>), logged to."""
    global LOG_FILE
    run_id = time.strftime("%Y%m%d%H%M%S")
    out = out or LOADTEST / "results" / f"{prefix}-{run_id}"
    out.mkdir(parents=True, exist_ok=True)
    LOG_FILE = out / "run.log"
    return run_id, out


def database_url(name: str, *, host: str = PG_HOST, port: int = PG_PORT) -> str:
    return f"postgres://{PG_USER}@{host}:{port}/{name}"


def pg_ready(*, host: str = PG_HOST, port: int = PG_PORT, timeout: float = 2.0) -> bool:
    try:
        return (
            subprocess.run(
                ["pg_isready", "-q", "-h", host, "-p", str(port), "-t", "1"], timeout=timeout, check=False
            ).returncode
            == 0
        )
    except subprocess.TimeoutExpired:
        return False


def wait_for(predicate, *, timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def redis_ready() -> bool:
    """A PING over a plain socket: no client library needed."""
    url = REDIS_URL.removeprefix("redis://").split("/")[0]
    host, _, port = url.partition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port or 6379)), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def recreate_database(name: str, *, host: str = PG_HOST, port: int = PG_PORT) -> None:
    """Drop (terminating its connections) and create a database."""
    import psycopg

    with psycopg.connect(
        host=host, port=port, user=PG_USER, dbname="postgres", autocommit=True, connect_timeout=10
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def manage(*args: str, env: dict, timeout: float = 300, capture: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=capture,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"manage.py {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


def base_env(db_url: str) -> dict:
    """The caller's environment without any Django setting, plus the database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_"))}
    env["DATABASE_URL"] = db_url
    return env


CREATE_USER = """
from django.contrib.auth.models import Permission, User
from rest_framework.authtoken.models import Token
user, _ = User.objects.get_or_create(username="loadtest")
user.set_unusable_password()
user.save()
user.user_permissions.set(Permission.objects.filter(content_type__app_label="events"))
Token.objects.filter(user=user).delete()
print(Token.objects.create(user=user).key)
"""


def prepare_database(name: str, *, host: str = PG_HOST, port: int = PG_PORT) -> tuple[str, str]:
    """A fresh database with the schema, the seed data and a token holding every events permission.

    Returns the database URL and the token.
    """
    url = database_url(name, host=host, port=port)
    log(f"Recreating database {name} on {host}:{port}")
    recreate_database(name, host=host, port=port)
    env = base_env(url)
    started = time.monotonic()
    manage("migrate", "--noinput", "-v0", env=env)
    log(f"Migrated in {time.monotonic() - started:.1f} s")
    manage("loaddata", "seed", "-v0", env=env)
    token = manage("shell", "-c", CREATE_USER, env=env).stdout.strip().splitlines()[-1]
    log("Seed data loaded; user 'loadtest' has every events permission and a token")
    return url, token


def service_env(db_url: str, *, conn_max_age: int = 600) -> dict:
    """The production configuration, served over plain HTTP on loopback."""
    env = base_env(db_url)
    env.update(
        {
            "DJANGO_PRODUCTION": "1",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DJANGO_SECURE_SSL_REDIRECT": "0",
            "DJANGO_THROTTLE_ANON": "1000000/minute",
            "DJANGO_THROTTLE_USER": "1000000/minute",
            "DJANGO_LOG_LEVEL": "WARNING",
            "REDIS_URL": REDIS_URL,
            "DATABASE_CONN_MAX_AGE": str(conn_max_age),
        }
    )
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_get(url: str, *, timeout: float = 5.0, headers: dict | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


class Gunicorn:
    """gunicorn serving osint.wsgi on 127.0.0.1:port, in its own process group."""

    def __init__(
        self,
        env: dict,
        *,
        port: int,
        workers: int,
        log_path: Path,
        extra_args: list[str] | None = None,
        app: str = "osint.wsgi:application",
    ):
        self.env, self.port, self.workers, self.log_path, self.app = env, port, workers, log_path, app
        self.extra_args = extra_args or []
        self.process: subprocess.Popen | None = None
        self._log = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, timeout: float = 60) -> None:
        self._log = open(self.log_path, "w")  # noqa: SIM115 (closed in stop())
        command = [
            str(BIN / "gunicorn"),
            self.app,
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(self.workers),
            "--timeout",
            "30",
            "--graceful-timeout",
            "10",
            "--no-control-socket",  # several gunicorns on one machine would share its default path
            "--access-logfile",
            "-",
            "--access-logformat",
            '%(s)s %(m)s "%(U)s" %(L)s',
            *self.extra_args,
        ]
        log(f"Starting gunicorn: {' '.join(command[1:])}")
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

        def ready():
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}; see {self.log_path}")
            try:
                status, _ = http_get(f"{self.url}/api/sources/?limit=1", timeout=2)
            except OSError:
                return False
            return status == 200

        if not wait_for(ready, timeout=timeout, interval=0.3):
            self.stop()
            raise RuntimeError(f"gunicorn did not answer within {timeout} s; see {self.log_path}")
        # Every worker must be up before the clock starts.
        wait_for(lambda: len(self.worker_pids()) >= self.workers, timeout=timeout)
        log(f"gunicorn ready at {self.url} (master {self.process.pid}, workers {self.worker_pids()})")

    def worker_pids(self) -> list[int]:
        if self.process is None:
            return []
        try:
            children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        except OSError:
            return []
        return sorted(int(pid) for pid in children)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_problems(self) -> list[str]:
        """Lines of the service's own log that show a crash: tracebacks, 500s, worker timeouts."""
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return []
        needles = ("Traceback", "Internal Server Error", "WORKER TIMEOUT", "Worker exiting", "Booting worker")
        problems = [line for line in lines if any(needle in line for needle in needles)]
        # The first boot of each worker is expected.
        boots = [line for line in problems if "Booting worker" in line]
        return [line for line in problems if "Booting worker" not in line] + boots[self.workers :]


def service_times(log_paths: Path | list[Path]) -> dict:
    """Time each request spent in a gunicorn worker (the access log's %(L)s), in ms: no queueing.

    Over the logs of one gunicorn or several.
    """
    times = []
    for log_path in log_paths if isinstance(log_paths, list) else [log_paths]:
        try:
            lines = log_path.read_text(errors="replace").splitlines()
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) >= 4 and parts[0].isdigit() and len(parts[0]) == 3:
                try:
                    times.append(float(parts[-1]) * 1000)
                except ValueError:
                    pass
    row = latency_row(times)
    row["mean"] = sum(times) / len(times) if times else float("nan")
    return row


def verify_writes(db_url: str, journal: Path, *, run_id: str, timeout: float = 120) -> dict:
    """Runs verify_writes.py against the database; its JSON report."""
    result = subprocess.run(
        [PYTHON, str(LOADTEST / "verify_writes.py"), str(journal), "--run-id", run_id],
        cwd=ROOT,
        env=base_env(db_url),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    try:
        return json.loads(result.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        raise RuntimeError(
            f"verify_writes.py failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        ) from None


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(fraction * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


def latency_row(times_ms: list[float]) -> dict:
    values = sorted(times_ms)
    return {
        "requests": len(values),
        "p50": percentile(values, 0.50),
        "p95": percentile(values, 0.95),
        "p99": percentile(values, 0.99),
        "max": values[-1] if values else float("nan"),
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def backend_pids(db: str, *, host: str = PG_HOST, port: int = PG_PORT) -> list[int]:
    """PostgreSQL server processes serving connections to ``db`` (they run on this machine)."""
    import psycopg

    with psycopg.connect(host=host, port=port, user=PG_USER, dbname="postgres", connect_timeout=10) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND backend_type = 'client backend' "
            "AND pid <> pg_backend_pid()",
            [db],
        ).fetchall()
    return [pid for (pid,) in rows]


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"
