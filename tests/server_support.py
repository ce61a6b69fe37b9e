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


def _listening_inodes(port: int) -> list[str]:
    """The inodes of the IPv4 TCP sockets listening on `port` (Linux /proc/net/tcp)."""
    listening = "0A"
    with open("/proc/net/tcp", encoding="ascii") as table:
        next(table)  # the header
        return [
            fields[9]
            for line in table
            if (fields := line.split())[1].endswith(f":{port:04X}") and fields[3] == listening
        ]


def listening_sockets(port: int) -> int:
    """How many IPv4 TCP sockets listen on `port` on this machine."""
    return len(_listening_inodes(port))


def listener_pids(port: int) -> set[int]:
    """The processes holding a socket that listens on `port` (Linux /proc): a server's workers."""
    inodes = _listening_inodes(port)
    wanted = {f"socket:[{inode}]" for inode in inodes}
    pids = set()
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            if any(os.readlink(fd) in wanted for fd in fd_dir.iterdir()):
                pids.add(int(fd_dir.parent.name))
        except OSError:  # a process that ended meanwhile, or not ours to read
            continue
    return pids
