"""Load generators of the benchmark: wrk when installed (apt-get install wrk), else a small asyncio client.

Both run ``connections`` clients in a closed loop for ``duration`` seconds, cycling through a list
of request paths, and report requests, requests/s, p50/p95/p99/max latency in ms and errors
(non-2xx answers and socket errors). Every run is bounded in time.

``headers`` (e.g. a session's ``Cookie``) go with every request. wrk counts answers of 400 and
above as errors; a run with headers counts redirects as errors too, since that is how a
session that does not log in is answered (a 302 to the login page).
"""

import asyncio
import json
import random
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent


def percentile(sorted_values, fraction):
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(fraction * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


def wrk_available():
    return shutil.which("wrk") is not None


def run_wrk(base_url, paths, *, connections, duration, threads=2, headers=None):
    threads = max(1, min(threads, connections))
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as listing:
        listing.write("\n".join(paths) + "\n")
    command = [
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{duration:g}s", "--timeout", "60s",
        *(option for name, value in (headers or {}).items() for option in ("-H", f"{name}: {value}")),
        "-s", str(HERE / "wrk_paths.lua"), base_url, "--", listing.name, *(["redirects"] if headers else []),
    ]  # fmt: skip
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=duration + 90, check=False)
    finally:
        Path(listing.name).unlink(missing_ok=True)
    line = next((line for line in result.stdout.splitlines() if line.startswith("{")), None)
    if line is None:
        raise RuntimeError(f"wrk failed ({result.returncode}): {result.stdout}\n{result.stderr}")
    raw = json.loads(line)
    if not raw["requests"]:  # wrk reports zeros when nothing completed
        for key in ("p50_us", "p95_us", "p99_us", "max_us"):
            raw[key] = float("nan")
    seconds = raw["duration_us"] / 1e6
    errors = sum(raw[key] for key in raw if key.startswith("errors_"))
    return {
        "client": "wrk",
        "requests": raw["requests"],
        "seconds": seconds,
        "rps": raw["requests"] / seconds if seconds else 0.0,
        "p50": raw["p50_us"] / 1000,
        "p95": raw["p95_us"] / 1000,
        "p99": raw["p99_us"] / 1000,
        "max": raw["max_us"] / 1000,
        "errors": errors,
        "non_2xx": raw["errors_status"] + raw.get("errors_redirect", 0),
        "bytes": raw["bytes"],
    }


class _Connection:
    def __init__(self, host, port):
        self.host, self.port = host, port
        self.reader = self.writer = None

    async def close(self):
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except OSError:
                pass
        self.reader = self.writer = None

    async def get(self, path, headers=None):
        """(status, body length); reconnects when the server closed the connection."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        self.writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nAccept: */*\r\n{extra}\r\n".encode()
        )
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        size = 0
        if "content-length" in headers:
            size = int(headers["content-length"])
            await self.reader.readexactly(size)
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                chunk = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                await self.reader.readexactly(chunk + 2)
                size += chunk
                if chunk == 0:
                    break
        else:
            size = len(await self.reader.read())
            headers["connection"] = "close"
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return status, size


async def _closed_loop(base_url, paths, connections, duration, headers=None):
    parts = urlsplit(base_url)
    deadline = time.monotonic() + duration
    latencies, errors, non_2xx, total_bytes = [], [0], [0], [0]

    async def client(number):
        connection = _Connection(parts.hostname, parts.port)
        index = random.Random(number).randrange(len(paths))
        while time.monotonic() < deadline:
            index = (index + 1) % len(paths)
            started = time.perf_counter()
            try:
                status, size = await asyncio.wait_for(connection.get(paths[index], headers), timeout=60)
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
                errors[0] += 1
                await connection.close()
                continue
            latencies.append((time.perf_counter() - started) * 1000)
            total_bytes[0] += size
            if not 200 <= status < 300:
                non_2xx[0] += 1
        await connection.close()

    started = time.monotonic()
    await asyncio.gather(*(client(n) for n in range(connections)))
    return latencies, time.monotonic() - started, errors[0] + non_2xx[0], non_2xx[0], total_bytes[0]


def run_python(base_url, paths, *, connections, duration, threads=None, headers=None):
    latencies, seconds, errors, non_2xx, total_bytes = asyncio.run(
        _closed_loop(base_url, paths, connections, duration, headers)
    )
    values = sorted(latencies)
    return {
        "client": "python",
        "requests": len(values),
        "seconds": seconds,
        "rps": len(values) / seconds if seconds else 0.0,
        "p50": percentile(values, 0.50),
        "p95": percentile(values, 0.95),
        "p99": percentile(values, 0.99),
        "max": values[-1] if values else float("nan"),
        "errors": errors,
        "non_2xx": non_2xx,
        "bytes": total_bytes,
    }


def run_load(base_url, paths, *, connections, duration, client="auto", threads=2, headers=None):
    if client == "wrk" or (client == "auto" and wrk_available()):
        return run_wrk(base_url, paths, connections=connections, duration=duration, threads=threads, headers=headers)
    return run_python(base_url, paths, connections=connections, duration=duration, headers=headers)


def rss_kib(pid, field="VmRSS"):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def stream(url, pids, *, timeout=600, max_seconds=None):
    """Downloads ``url`` once, counting CSV lines, while sampling the RSS of ``pids()`` every 50 ms.

    Returns rows (lines less the header), seconds, bytes, the RSS of the processes before, their
    peak during the download (the largest of any one process) and their VmHWM after. With
    ``max_seconds`` the download stops there (``truncated``: rows/s is then over what arrived).
    """
    before = {pid: rss_kib(pid) for pid in pids()}
    peak = dict(before)
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            for pid in pids():
                peak[pid] = max(peak.get(pid, 0), rss_kib(pid))
            stop.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    lines = size = 0
    status = None
    started = time.perf_counter()
    first_byte = None
    truncated = False
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status = response.status
            while True:
                block = response.read(1 << 16)
                if not block:
                    break
                if first_byte is None:
                    first_byte = time.perf_counter() - started
                size += len(block)
                lines += block.count(b"\n")
                if max_seconds is not None and time.perf_counter() - started > max_seconds:
                    truncated = True
                    break
    finally:
        elapsed = time.perf_counter() - started
        stop.set()
        sampler.join(timeout=2)
    grew = {pid: peak.get(pid, 0) - before.get(pid, 0) for pid in peak}
    busiest = max(grew, key=lambda pid: (grew[pid], peak.get(pid, 0))) if grew else None
    return {
        "status": status,
        "rows": max(lines - 1, 0),
        "truncated": truncated,
        "seconds": elapsed,
        "first_byte_s": first_byte,
        "bytes": size,
        "rows_per_s": max(lines - 1, 0) / elapsed if elapsed else 0.0,
        "rss_before_mib": before.get(busiest, 0) / 1024 if busiest else None,
        "rss_peak_mib": peak.get(busiest, 0) / 1024 if busiest else None,
        "hwm_mib": rss_kib(busiest, "VmHWM") / 1024 if busiest else None,
    }
