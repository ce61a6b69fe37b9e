"""Latency of the service on the typical and the heavy fixture: p50 / p99 over N calls.

Starts the real service (gunicorn, one worker) on a loopback port and posts each fixture N
times over HTTP, as an EHR would. `--in-process` measures the Flask app without the network.

    python bench/latency.py [--calls 200] [--in-process]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from cds_service.cli import service_for_hook
from cds_service.testing import served

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = {
    "typical (01, 4 resources)": "01-crps-left-apixaban",
    "heavy (27, ~3,000 resources)": "27-heavy-patient",
    "booking, 3 blocks (40)": "46-book-series-of-three",
}


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def measure(post: Callable[[str, bytes], int], body: dict[str, Any], calls: int) -> list[float]:
    service = service_for_hook(body["hook"])
    raw = json.dumps(body).encode()
    for _ in range(5):  # warm-up: imports, caches, connection
        post(service, raw)
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        status = post(service, raw)
        samples.append((time.perf_counter() - start) * 1000)
        assert status == 200, status
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--in-process", action="store_true")
    args = parser.parse_args()

    @contextmanager
    def poster() -> Iterator[Callable[[str, bytes], int]]:
        headers = {"Content-Type": "application/json"}
        if args.in_process:
            from cds_service import create_app

            client = create_app(dev_mode=True).test_client()
            yield (
                lambda svc, raw: (
                    client.post(f"/cds-services/{svc}", data=raw, headers=headers).status_code
                )
            )
        else:
            with served({"CDS_DEV_MODE": "1"}) as url, requests.Session() as session:
                yield (
                    lambda svc, raw: (
                        session.post(
                            f"{url}/cds-services/{svc}", data=raw, headers=headers, timeout=30
                        ).status_code
                    )
                )

    mode = "in-process (Flask test client)" if args.in_process else "gunicorn, HTTP on loopback"
    print(f"LSB CDS service latency, {args.calls} calls per fixture, {mode}")
    with poster() as post:
        for label, name in FIXTURES.items():
            path = ROOT / "fixtures" / "requests" / f"{name}.json"
            body = json.loads(path.read_text(encoding="utf-8"))
            samples = measure(post, body, args.calls)
            print(
                f"  {label:<30} p50 {statistics.median(samples):7.1f} ms"
                f"   p99 {percentile(samples, 99):7.1f} ms   max {max(samples):7.1f} ms"
            )


if __name__ == "__main__":
    main()
