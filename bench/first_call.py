"""The first call to a fresh worker against a warm one: the service loads and warms everything
(knowledge, schemas, FHIR models, card templates) before its workers take traffic.

One worker; every call on a new connection, fixture 01 naming its FHIR server as an EHR's
call does. The service is started `--starts`
times; prints the median first call, the median of the warm calls after it, and their ratio
(goal: at most 3x). Each call's records carry new ids: the service remembers validation
verdicts per record, and a warm call that only repeated the first call's records would be
cheaper than any call on a new patient.

    python bench/first_call.py [--calls 30] [--starts 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import requests
from support import fixture_path, load_note, service_env, service_path, with_new_ids

from cds_service.testing import served


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--starts", type=int, default=5)
    args = parser.parse_args()
    path = fixture_path("01")
    body = json.loads(path.read_bytes())
    # As an EHR calls: its FHIR server named, with a token, though prefetch holds every key
    # (nothing is fetched). The server's address is checked on every call.
    body["fhirServer"] = "http://127.0.0.1:9/fhir"
    body["fhirAuthorization"] = {
        "access_token": "bench", "token_type": "Bearer", "expires_in": 300,
        "scope": "patient/*.read", "subject": "bench",
    }
    # Outside the timing: the first lookup imports the service registry (half a second).
    endpoint = service_path(path)
    headers = {"Content-Type": "application/json"}
    firsts: list[float] = []
    warm: list[float] = []
    for _ in range(args.starts):
        with tempfile.TemporaryDirectory() as tmp, served(
            service_env(Path(tmp)), workers=1
        ) as url:
            times = []
            for n in range(args.calls + 1):
                data = with_new_ids(body, n)
                started = time.perf_counter()
                response = requests.post(url + endpoint, data=data, headers=headers, timeout=30)
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, response.status_code
        firsts.append(times[0])
        warm += times[1:]
    first, warm_median = statistics.median(firsts), statistics.median(warm)
    print(f"First call vs warm ({load_note()}): first call median {first:.1f} ms over "
          f"{args.starts} starts ({', '.join(f'{t:.0f}' for t in firsts)}), warm median "
          f"{warm_median:.1f} ms: {first / warm_median:.2f}x  "
          f"({'met' if first <= 3 * warm_median else 'NOT MET'}: at most 3x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
