"""Runs the real service (gunicorn, as `make run` does) on a loopback port, for the test suite
and the benchmarks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import requests

READY_PATH = "/readyz"  # outside the JWT check


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def served(
    env: Mapping[str, str],
    *,
    port: int | None = None,
    workers: int = 1,
    metrics_port: int = 0,
    server_args: Sequence[str] = (),
    inherit_env: bool = True,
    timeout: float = 30,
    log_path: Path | None = None,
    access_log: bool = False,
) -> Iterator[str]:
    """Yields the base URL of the service started with `env` (added to this process's
    environment unless `inherit_env` is false), its stderr going to `log_path` if given.
    `metrics_port` 0 leaves /metrics off; `server_args` are more `cds-service serve` options.
    `access_log`: its stdout (the access log) goes there too. Stops it on exit."""
    port = port or free_port()
    args = ["serve", "--port", str(port), "--workers", str(workers)]
    args += ["--metrics-port", str(metrics_port), *server_args]
    # A file, not a pipe nobody reads: it cannot fill up.
    with open(log_path, "w+b") if log_path else tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cds_service.cli", *args],
            env={**(os.environ if inherit_env else {}), **env},
            stdout=log if access_log else subprocess.DEVNULL,
            stderr=log,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    requests.get(url + READY_PATH, timeout=1)
                    break
                except requests.ConnectionError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        log.seek(0)
                        tail = log.read().decode(errors="replace")[-3000:]
                        raise RuntimeError(f"the service did not start:\n{tail}") from None
                    time.sleep(0.1)
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=20)
