"""A FHIR server on loopback that answers every search with an empty Bundle and counts the
connections it accepts and the requests it answers (HTTP/1.1 keep-alive), for tests of the
fetcher's connection pools. Made with `hold=True`, it answers nothing until `release()` (a
server that hangs) and counts the requests it holds at once.

    with CountingFhirServer() as server:
        ... server.base_url ...
        server.connections, server.requests, server.most_held
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

EMPTY = json.dumps({"resourceType": "Bundle", "type": "searchset", "total": 0}).encode()


class CountingFhirServer:
    def __init__(self, hold: bool = False) -> None:
        self.connections = 0
        self.requests = 0
        self.held = 0  # requests waiting for `release()` now
        self.most_held = 0
        self._released = threading.Event()
        if not hold:
            self._released.set()
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive

            def setup(self) -> None:
                super().setup()
                with server._lock:
                    server.connections += 1

            def do_GET(self) -> None:
                with server._lock:
                    server.requests += 1
                    server.held += 1
                    server.most_held = max(server.most_held, server.held)
                server._released.wait(60)
                with server._lock:
                    server.held -= 1
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/fhir+json")
                    self.send_header("Content-Length", str(len(EMPTY)))
                    self.end_headers()
                    self.wfile.write(EMPTY)
                except OSError:  # a held request's client gave up: nobody to answer
                    self.close_connection = True

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/fhir"

    def release(self) -> None:
        """Answers the requests held and every later one at once."""
        self._released.set()

    def __enter__(self) -> CountingFhirServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()
        self._httpd.shutdown()
        self._httpd.server_close()
