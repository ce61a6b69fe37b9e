"""Memory per worker over a soak: the service under wrk at 64 connections, mixed fixtures
(every fixture request answered with cards, in turn; not the 2.2 MB one), for N minutes;
prints each worker's resident memory (RSS) every interval, and the growth over the run.

    python bench/soak.py [--minutes 10] [--connections 64] [--interval 60]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from support import REQUESTS, WORKERS, load_note, service_env, wrk

from cds_service.testing import served


def worker_rss_mib(master: int) -> dict[int, float]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    rss = {}
    for pid in map(int, children):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss[pid] = int(line.split()[1]) / 1024
    return rss


def master_pid(port: int) -> int:
    out = subprocess.run(
        ["pgrep", "-f", f"cds_service.cli serve --port {port} "], capture_output=True, text=True
    ).stdout.split()
    return min(map(int, out))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--interval", type=float, default=60)
    args = parser.parse_args()
    fixtures = [
        p for p in sorted(REQUESTS.glob("*.json"))
        if not p.name.startswith("27-") and expected_status(p) == 200
    ]
    seconds = int(args.minutes * 60)
    print(f"Soak: {args.connections} connections, {len(fixtures)} fixtures, {seconds} s; "
          f"{load_note()}")
    from cds_service.testing import free_port

    port = free_port()
    with tempfile.TemporaryDirectory() as tmp, served(
        service_env(Path(tmp)), port=port, workers=WORKERS
    ) as url:
        master = master_pid(port)
        result: list = []
        load = threading.Thread(
            target=lambda: result.append(wrk(url, fixtures, args.connections, seconds))
        )
        samples: list[dict[int, float]] = [worker_rss_mib(master)]
        print(f"  t=0 s  RSS MiB per worker: {fmt(samples[-1])}")
        started = time.monotonic()
        load.start()
        while load.is_alive():
            load.join(timeout=args.interval)
            samples.append(worker_rss_mib(master))
            print(f"  t={time.monotonic() - started:.0f} s  RSS MiB per worker: "
                  f"{fmt(samples[-1])}", flush=True)
    done = result[0]
    print(f"Load: {done.rate:,.0f} req/s, p50 {done.p50_ms:.1f} ms, p99 {done.p99_ms:.1f} ms, "
          f"failed {done.failed}; {load_note()}")
    warm = samples[1]
    last = samples[-1]
    for pid in warm:
        print(f"  worker {pid}: {warm[pid]:.1f} MiB after the first interval, "
              f"{last.get(pid, float('nan')):.1f} MiB at the end")
    return 0


def expected_status(request: Path) -> int:
    expected = json.loads((REQUESTS.parent / "expected" / request.name).read_text())
    return int(expected.get("status", 200))


def fmt(rss: dict[int, float]) -> str:
    return ", ".join(f"{pid}: {mib:.1f}" for pid, mib in sorted(rss.items()))


if __name__ == "__main__":
    raise SystemExit(main())
