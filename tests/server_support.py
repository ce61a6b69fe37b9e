"""Helpers for tests of the server model: raw connections and a FHIR server that never answers."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fixture_files import fixture_request


def connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (socket timeout: 30 s)."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


@contextmanager
def silent_fhir_server() -> Iterator[str]:
    """A FHIR base URL whose server accepts connections (the kernel's backlog) and never
    answers a byte: the EHR's FHIR server hanging."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(512)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/fhir"
    finally:
        listener.close()


def fetching_call(fhir_server: str) -> dict[str, Any]:
    """Fixture 01 without prefetch: the service must fetch everything from `fhir_server`."""
    body = fixture_request("01-crps-left-apixaban")
    body.pop("prefetch")
    body["fhirServer"] = fhir_server
    return body


def _inodes(port: int, state: str) -> list[str]:
    """The inodes of the IPv4 TCP sockets on local `port` in `state` (Linux /proc/net/tcp:
    0A listening, 01 established)."""
    with open("/proc/net/tcp", encoding="ascii") as table:
        next(table)  # the header
        return [
            fields[9]
            for line in table
            if (fields := line.split())[1].endswith(f":{port:04X}") and fields[3] == state
        ]


def _listening_inodes(port: int) -> list[str]:
    return _inodes(port, "0A")


def listening_sockets(port: int) -> int:
    """How many IPv4 TCP sockets listen on `port` on this machine."""
    return len(_listening_inodes(port))


def listener_pids(port: int) -> set[int]:
    """The processes holding a socket that listens on `port` (Linux /proc): a server's arbiter
    and workers."""
    return set(_holders(_listening_inodes(port)))


def connections_per_process(port: int) -> dict[int, int]:
    """How many connections to local `port` each process holds open (its accepted sockets)."""
    return _holders(_inodes(port, "01"))


def _holders(inodes: list[str]) -> dict[int, int]:
    """Process id -> how many of these socket inodes it holds."""
    wanted = {f"socket:[{inode}]" for inode in inodes}
    held: dict[int, int] = {}
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            count = sum(os.readlink(fd) in wanted for fd in fd_dir.iterdir())
        except OSError:  # a process that ended meanwhile, or not ours to read
            continue
        if count:
            held[int(fd_dir.parent.name)] = count
    return held


def worker_pids(port: int) -> set[int]:
    """The server's workers on `port`: the listening processes whose parent (the arbiter, which
    holds the socket too) listens on it as well."""
    listening = listener_pids(port)
    return {pid for pid in listening if _parent(pid) in listening}


def _parent(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return int(stat.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None
