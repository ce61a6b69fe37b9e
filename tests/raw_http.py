"""HTTP/1.1 requests written byte by byte on a socket, for framings that client libraries refuse
to send (a malformed chunk, a chunk shorter than it says)."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def chunked(data: bytes, size: int = 8192) -> bytes:
    """`data` in well-formed chunks, with the last-chunk marker."""
    pieces = [
        b"%x\r\n%s\r\n" % (len(data[i : i + size]), data[i : i + size])
        for i in range(0, len(data), size)
    ]
    return b"".join(pieces) + b"0\r\n\r\n"


def send(base_url: str, path: str, body: bytes, headers: dict[str, str] | None = None,
         timeout: float = 30) -> RawResponse:
    """POSTs `body` exactly as given (`Transfer-Encoding: chunked` unless `headers` say
    otherwise) and reads the response. The server may answer before reading all of `body`.

    The connection is not marked `close`: a server that answered early then reads what is left
    of a body (gunicorn does, up to 64 KiB) rather than resetting the connection, which could
    discard its answer before it is read."""
    url = urlsplit(base_url)
    head = {
        "Host": url.netloc,
        "Content-Type": "application/json",
        "Transfer-Encoding": "chunked",
        **(headers or {}),
    }
    request = f"POST {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in head.items())
    with socket.create_connection((url.hostname, url.port), timeout=timeout) as sock:
        try:
            sock.sendall(request.encode("latin-1") + b"\r\n" + body)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # answered (and closed) before the whole body was sent
        return _read_response(sock)


def _read_response(sock: socket.socket) -> RawResponse:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"connection closed before a response: {data[:200]!r}")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
    length = int(headers.get("content-length", "-1"))
    while length < 0 or len(rest) < length:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        rest += chunk
    return RawResponse(status, headers, rest if length < 0 else rest[:length])
