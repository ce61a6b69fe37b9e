"""Normal calls while slow and idle peers hold connections open.

100 clients connect and send nothing (reconnecting whenever the server closes them after its
keepalive timeout, so 100 stay open), 20 clients send fixture 01's headers and then its body
at 1 byte a second; meanwhile wrk posts fixture 01 at 8 connections. Prints the normal calls'
latency with and without the slow peers (goal: p99 <= 100 ms), and how long the server takes
to close a connection that sent half a body and went silent (its read timeout).

    python bench/slow_peers.py [--seconds 10] [--idle 100] [--trickling 20]
"""

from __future__ import annotations

import argparse
import socket
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from support import WORKERS, fixture_path, load_note, service_env, service_path, wrk

from cds_service.testing import served


def address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return str(parts.hostname), int(parts.port or 80)


def idle_client(url: str, stop: threading.Event) -> None:
    while not stop.is_set():
        with socket.create_connection(address(url)) as sock:
            sock.settimeout(1)
            while not stop.is_set():
                try:
                    if sock.recv(1) == b"":
                        break  # closed by the server: connect again
                except TimeoutError:
                    continue
                except OSError:
                    break


def trickling_client(url: str, path: str, body: bytes, stop: threading.Event) -> None:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    while not stop.is_set():
        try:
            with socket.create_connection(address(url)) as sock:
                sock.sendall(head)
                for i in range(len(body)):
                    if stop.wait(1.0):
                        return
                    sock.sendall(body[i : i + 1])
        except OSError:
            continue


def stalled_close_seconds(url: str, path: str) -> float:
    with socket.create_connection(address(url)) as sock:
        sock.settimeout(120)
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
            "Content-Length: 1000\r\n\r\n{\"hook\": ".encode()
        )
        started = time.monotonic()
        while sock.recv(65536):
            pass
        return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--idle", type=int, default=100)
    parser.add_argument("--trickling", type=int, default=20)
    args = parser.parse_args()
    path = fixture_path("01")
    body, route = path.read_bytes(), service_path(path)
    print(f"Slow and idle peers ({load_note()})")
    with tempfile.TemporaryDirectory() as tmp, served(
        service_env(Path(tmp)), workers=WORKERS
    ) as url:
        wrk(url, [path], 8, 2)
        quiet = wrk(url, [path], 8, args.seconds)
        stop = threading.Event()
        peers = [
            threading.Thread(target=idle_client, args=(url, stop), daemon=True)
            for _ in range(args.idle)
        ] + [
            threading.Thread(target=trickling_client, args=(url, route, body, stop), daemon=True)
            for _ in range(args.trickling)
        ]
        for peer in peers:
            peer.start()
        time.sleep(2)
        busy = wrk(url, [path], 8, args.seconds)
        stop.set()
        closed_after = stalled_close_seconds(url, route)
    print(f"  without slow peers: {quiet.rate:,.0f} req/s, p50 {quiet.p50_ms:.1f} ms, "
          f"p99 {quiet.p99_ms:.1f} ms")
    print(f"  with {args.idle} idle + {args.trickling} trickling: {busy.rate:,.0f} req/s, "
          f"p50 {busy.p50_ms:.1f} ms, p99 {busy.p99_ms:.1f} ms, max {busy.max_ms:.1f} ms, "
          f"failed {busy.failed}  ({'met' if busy.p99_ms <= 100 else 'NOT MET'}: p99 <= 100 ms)")
    print(f"  a connection that stopped sending mid-body was closed after {closed_after:.1f} s "
          "(read timeout 10 s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
