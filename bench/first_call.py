"""The first call to a fresh worker against a warm one: the service loads and warms everything
(knowledge, schemas, FHIR models, card templates) before its workers take traffic.

One worker; every call on a new connection, fixture 01. Prints the first call's latency, the
median of the next N, and their ratio (goal: at most 3x).

    python bench/first_call.py [--calls 30]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import requests
from support import fixture_path, load_note, service_env, service_path

from cds_service.testing import served


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=30)
    args = parser.parse_args()
    path = fixture_path("01")
    body = path.read_bytes()
    headers = {"Content-Type": "application/json"}
    with tempfile.TemporaryDirectory() as tmp, served(service_env(Path(tmp)), workers=1) as url:
        times = []
        for _ in range(args.calls + 1):
            started = time.perf_counter()
            response = requests.post(url + service_path(path), data=body, headers=headers,
                                     timeout=30)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.status_code
    first, warm = times[0], statistics.median(times[1:])
    print(f"First call vs warm ({load_note()}): first {first:.1f} ms, warm median {warm:.1f} ms "
          f"over {args.calls}: {first / warm:.2f}x  ({'met' if first <= 3 * warm else 'NOT MET'}"
          ": at most 3x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
