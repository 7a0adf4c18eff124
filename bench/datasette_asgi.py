"""Datasette as an ASGI app factory, so that uvicorn can run several worker processes of it.

Datasette has no workers option (``datasette serve`` is one process); the benchmark's
"Datasette with as many processes as ours" runs this factory under
``uvicorn --factory --workers N``: N processes accepting on one socket, the same kernel-level
balancing gunicorn's workers get. Configured from the environment:

- ``BENCH_SQLITE``: the SQLite file, opened immutable (as ``datasette serve -i``);
- ``BENCH_DATASETTE_METADATA``: the metadata JSON with the canned queries;
- ``BENCH_DATASETTE_SETTINGS``: the settings, as JSON.
"""

import asyncio.base_events
import json
import os
import socket
from pathlib import Path

from datasette.app import Datasette


def app():
    metadata = json.loads(Path(os.environ["BENCH_DATASETTE_METADATA"]).read_text())
    settings = json.loads(os.environ.get("BENCH_DATASETTE_SETTINGS", "{}"))
    return Datasette(immutables=[os.environ["BENCH_SQLITE"]], metadata=metadata, settings=settings).app()


def _set_nodelay(sock):
    """TCP_NODELAY on every TCP connection, as asyncio does for a socket it created itself.

    With ``--workers`` uvicorn hands the listening socket to its worker processes rebuilt from a
    file descriptor, whose ``proto`` reads 0: asyncio then skips TCP_NODELAY on the accepted
    connections, and Nagle's algorithm with delayed ACKs adds ~40 ms to every response written
    in two parts. Setting it restores the single-process behaviour (``datasette serve``).
    """
    if sock.family in {socket.AF_INET, socket.AF_INET6} and sock.type == socket.SOCK_STREAM:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass


asyncio.base_events._set_nodelay = _set_nodelay
