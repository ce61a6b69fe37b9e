"""`make bench`: the service against the bare-Flask floor, same server, same bodies, one run.

Both run under cds_service/server.py (gunicorn, gevent workers, 2 workers); wrk posts the
fixture bodies over loopback. Prints each workload's throughput and latency, and the ratios
the service is held to:

- fixture 01 (typical, 5 KB) at 8 connections: throughput >= 0.5x the floor, p99 <= 15 ms;
- fixture 27 (heavy, 2.2 MB) at 4 connections: p50 <= 1.5x the floor's.

The machine may be shared: the floor and the service run alternately in the same run, and the
load average is printed with the figures.

    python bench/throughput.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from support import WORKERS, Load, fixture_path, floor, load_note, service_env, wrk

from cds_service.testing import served

WORKLOADS = (("01", 8), ("27", 4))


def row(label: str, floor_load: Load, service: Load) -> str:
    return (
        f"| {label} | {floor_load.rate:,.0f} req/s, p50 {floor_load.p50_ms:.1f} ms, "
        f"p99 {floor_load.p99_ms:.1f} ms | {service.rate:,.0f} req/s, p50 {service.p50_ms:.1f} "
        f"ms, p99 {service.p99_ms:.1f} ms | {service.rate / floor_load.rate:.2f}x throughput, "
        f"{service.p50_ms / floor_load.p50_ms:.2f}x p50 |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    print(f"Before: {load_note()}")
    results: dict[str, tuple[Load, Load]] = {}
    with tempfile.TemporaryDirectory() as tmp, floor() as floor_url, served(
        service_env(Path(tmp)), workers=WORKERS
    ) as service_url:
        for name, connections in WORKLOADS:
            body = [fixture_path(name)]
            wrk(floor_url, body, connections, 2)  # warm both: connections, caches
            wrk(service_url, body, connections, 2)
            floor_load = wrk(floor_url, body, connections, args.seconds)
            service = wrk(service_url, body, connections, args.seconds)
            results[name] = (floor_load, service)
    print(f"After: {load_note()}\n")
    print(f"gunicorn, gevent workers x{WORKERS}, wrk over loopback, {args.seconds} s each\n")
    print("| workload | bare Flask | this service | ratio |")
    print("| --- | --- | --- | --- |")
    for name, connections in WORKLOADS:
        print(row(f"fixture {name}, {connections} connections", *results[name]))
    failed = sum(f.failed + s.failed for f, s in results.values())
    f01, s01 = results["01"]
    f27, s27 = results["27"]
    goals = [
        ("fixture 01 throughput >= 0.5x floor", s01.rate / f01.rate >= 0.5),
        ("fixture 01 p99 <= 15 ms", s01.p99_ms <= 15),
        ("fixture 27 p50 <= 1.5x floor", s27.p50_ms / f27.p50_ms <= 1.5),
        ("no failed call", failed == 0),
    ]
    print()
    for goal, met in goals:
        print(f"  {'met    ' if met else 'NOT MET'}  {goal}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
