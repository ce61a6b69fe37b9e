"""What the benchmarks share: fixtures, the floor app, wrk, percentiles, the machine's load."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from cds_service.cli import service_for_hook
from cds_service.testing import free_port

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
REQUESTS = ROOT / "fixtures" / "requests"
WORKERS = 2


def fixture_path(name: str) -> Path:
    return next(REQUESTS.glob(f"{name}*.json"))


def service_path(path: Path) -> str:
    """The service a fixture's hook calls (appointment-book included)."""
    raw = path.read_bytes()
    hook = json.loads(raw.splitlines()[0] if path.suffix == ".jsonl" else raw)["hook"]
    return "/cds-services/" + service_for_hook(hook)


def with_new_ids(body: dict[str, Any], n: int) -> bytes:
    """The call (compact JSON, one line) with every prefetched record's id made new: records
    the service has not seen, so no validation verdict is remembered for them."""
    copy = json.loads(json.dumps(body))
    for bundle in (copy.get("prefetch") or {}).values():
        for entry in (bundle or {}).get("entry") or ():
            entry["resource"]["id"] = f"{entry['resource'].get('id', 'r')}-{n}"
    return json.dumps(copy, separators=(",", ":")).encode()


def new_records_file(name: str, calls: int, folder: Path) -> Path:
    """`calls` copies of a fixture, each with new record ids, one per line (post.lua)."""
    body = json.loads(fixture_path(name).read_bytes())
    path = folder / f"{name}-new-records.jsonl"
    path.write_bytes(b"\n".join(with_new_ids(body, n) for n in range(calls)) + b"\n")
    return path


def percentile(samples: Sequence[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def load_note() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


def service_env(tmp: Path) -> dict[str, str]:
    return {
        "CDS_DEV_MODE": "1",
        "CDS_DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3",
        "CDS_SANDBOX": "0",
    }


@contextmanager
def floor(workers: int = WORKERS, burn_ms: float = 0.0) -> Iterator[str]:
    """The bare Flask app (bench/floor_app.py) on a loopback port; `burn_ms` of CPU work per
    call makes it as busy as the service."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(BENCH / "floor_app.py"), "--port", str(port), "--workers",
         str(workers), "--burn-ms", str(burn_ms)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.post(url + "/cds-services/x", data=b"{}", timeout=1)
                break
            except requests.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the floor app did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@dataclass(frozen=True)
class Load:
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    failed: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def wrk(
    url: str,
    fixtures: Sequence[Path],
    connections: int,
    seconds: int,
    tokens: Path | None = None,
) -> Load:
    """Drives `url` with wrk (Debian's package): POSTs the fixtures in turn; with `tokens` (a
    file, one bearer token per line) each call carries the next token."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: `make bench` installs it (apt-get install wrk)")
    env = {
        **os.environ,
        "BODIES": ":".join(str(f) for f in fixtures),
        "PATHS": ":".join(service_path(f) for f in fixtures),
    }
    if tokens is not None:
        env["TOKENS"] = str(tokens)
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
         "-s", str(BENCH / "post.lua"), url],
        env=env, capture_output=True, text=True, check=True,
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    r = json.loads(line[len("RESULT "):])
    return Load(
        requests=r["requests"],
        seconds=r["duration_us"] / 1e6,
        p50_ms=r["p50_us"] / 1000,
        p90_ms=r["p90_us"] / 1000,
        p99_ms=r["p99_us"] / 1000,
        max_ms=r["max_us"] / 1000,
        failed=r["non2xx"] + r["socket_errors"],
    )
