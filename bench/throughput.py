"""`make bench`: the service against the bare-Flask floor, same server, same bodies, one run.

Both run under cds_service/server.py (gunicorn, gevent workers, 2 workers); wrk posts the
fixture bodies over loopback. Prints each workload's throughput and latency, and the ratios
the service is held to:

- fixture 01 (typical, 5 KB) at 8 connections: p99 <= 15 ms (its throughput against the floor
  is reported, no longer held to a ratio);
- fixture 27 (heavy, 2.2 MB) at 4 connections: p50 <= 1.5x the floor's.

In each round of fixture 01 a busy floor runs too: the bare app plus `--burn-ms` (0.9 ms) of
CPU work per call, about what the service spends (a fixed count of steps, timed at the
machine's best speed: a busy machine slows it as it slows the service); the two p99s are
compared. On a machine whose
cores the load generator shares, any saturated server has a latency tail; the busy floor shows
how long it is here.

Fixture 01 is also run with new record ids on every call ("01-new", 5,000 copies): the service
remembers validation verdicts per record, and the same body over and over is its best case;
this row is its worst (every record validated), reported beside the goals.

The machine may be shared and noisy: the floor and the service take turns, `--rounds` times
(floor, service, floor, service, ...), each round's ratio is printed, and the goals are judged
on the median round. The load average is printed with the figures.

    python bench/throughput.py [--seconds 6] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from support import (
    WORKERS,
    Load,
    fixture_path,
    floor,
    load_note,
    new_records_file,
    service_env,
    wrk,
)

from cds_service.testing import served

WORKLOADS = (("01", 8), ("01-new", 8), ("27", 4))
NEW_RECORD_CALLS = 5000  # more records than the service remembers verdicts for


def row(label: str, floor_load: Load, service: Load) -> str:
    return (
        f"| {label} | {floor_load.rate:,.0f} req/s, p50 {floor_load.p50_ms:.1f} ms, "
        f"p99 {floor_load.p99_ms:.1f} ms | {service.rate:,.0f} req/s, p50 {service.p50_ms:.1f} "
        f"ms, p99 {service.p99_ms:.1f} ms | {service.rate / floor_load.rate:.2f}x throughput, "
        f"{service.p50_ms / floor_load.p50_ms:.2f}x p50 |"
    )


def median_round(rounds: list[tuple[Load, Load]], key: str) -> tuple[Load, Load]:
    """The round whose ratio (`throughput` or `p50`) is the median of the rounds'."""

    def ratio(pair: tuple[Load, Load]) -> float:
        floor_load, service = pair
        if key == "throughput":
            return service.rate / floor_load.rate
        return service.p50_ms / floor_load.p50_ms

    ordered = sorted(rounds, key=ratio)
    return ordered[len(ordered) // 2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--burn-ms", type=float, default=0.9)
    args = parser.parse_args()
    print(f"Before: {load_note()}")
    results: dict[str, list[tuple[Load, Load]]] = {}
    busy: list[Load] = []
    with tempfile.TemporaryDirectory() as tmp, floor() as floor_url, floor(
        burn_ms=args.burn_ms
    ) as busy_url, served(service_env(Path(tmp)), workers=WORKERS) as service_url:
        for name, connections in WORKLOADS:
            body = [
                new_records_file("01", NEW_RECORD_CALLS, Path(tmp))
                if name == "01-new"
                else fixture_path(name)
            ]
            wrk(floor_url, body, connections, 2)  # warm both: connections, caches
            wrk(service_url, body, connections, 2)
            results[name] = []
            for _ in range(args.rounds):
                results[name].append(
                    (
                        wrk(floor_url, body, connections, args.seconds),
                        wrk(service_url, body, connections, args.seconds),
                    )
                )
                if name == "01":  # in every round: a slow spell of the machine slows both
                    busy.append(wrk(busy_url, body, connections, args.seconds))
    print(f"After: {load_note()}\n")
    print(
        f"gunicorn, gevent workers x{WORKERS}, wrk over loopback, {args.rounds} rounds of "
        f"{args.seconds} s each\n"
    )
    print("| workload | bare Flask | this service | ratio |")
    print("| --- | --- | --- | --- |")
    for name, connections in WORKLOADS:
        for n, pair in enumerate(results[name], 1):
            print(row(f"fixture {name}, {connections} connections, round {n}", *pair))
    failed = sum(f.failed + s.failed for rounds in results.values() for f, s in rounds)
    f01, s01 = median_round(results["01"], "throughput")
    p99_01 = statistics.median(s.p99_ms for _, s in results["01"])
    fnew, snew = median_round(results["01-new"], "throughput")
    f27, s27 = median_round(results["27"], "p50")
    print(
        f"\nMedian rounds: fixture 01 {s01.rate / f01.rate:.2f}x throughput, p99 {p99_01:.1f} ms "
        f"(median of rounds); with new records on every call {snew.rate / fnew.rate:.2f}x "
        f"throughput; fixture 27 {s27.p50_ms / f27.p50_ms:.2f}x p50"
    )
    for load in busy:
        print(
            f"Busy floor (bare app + {args.burn_ms} ms CPU a call), fixture 01: "
            f"{load.rate:,.0f} req/s, p50 {load.p50_ms:.1f} ms, p99 {load.p99_ms:.1f} ms"
        )
    busy_p99 = statistics.median(load.p99_ms for load in busy)
    print(
        f"Fixture 01 p99 against the busy floor's, medians of the rounds: {p99_01:.1f} against "
        f"{busy_p99:.1f} ms ({p99_01 / busy_p99:.2f}x): how much of the tail is the machine's"
    )
    goals = [
        ("fixture 01 p99 <= 15 ms", p99_01 <= 15),
        ("fixture 27 p50 <= 1.5x floor", s27.p50_ms / f27.p50_ms <= 1.5),
        ("no failed call", failed == 0),
    ]
    print()
    for goal, met in goals:
        print(f"  {'met    ' if met else 'NOT MET'}  {goal}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
