"""Calls whose FHIR server never answers, and a prefetch-only call made meanwhile.

50 concurrent calls of fixture 01 without prefetch name a FHIR server that accepts connections
and never answers; each must be answered within the fetch budget (CDS_FHIR_BUDGET_MS, 400 ms)
+ 100 ms. A call with complete prefetch made while they wait must take its normal time.

    python bench/fhir_hang.py [--calls 50]
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
from support import ROOT, WORKERS, fixture_path, load_note, service_env, service_path

from cds_service.testing import served

BUDGET_MS = 400


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=50)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "tests"))
    path = fixture_path("01")
    route = service_path(path)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1024)
    fetching = json.loads(path.read_bytes())
    fetching.pop("prefetch")
    fetching["fhirServer"] = f"http://127.0.0.1:{silent.getsockname()[1]}/fhir"
    prefetch = path.read_bytes()
    headers = {"Content-Type": "application/json"}
    env = {**service_env(Path(tempfile.mkdtemp())), "CDS_FHIR_BUDGET_MS": str(BUDGET_MS)}

    def timed(body: bytes, out: list[float], statuses: list[int]) -> None:
        started = time.perf_counter()
        r = requests.post(url + route, data=body, headers=headers, timeout=30)
        out.append((time.perf_counter() - started) * 1000)
        statuses.append(r.status_code)

    print(f"A FHIR server that never answers ({load_note()})")
    with served(env, workers=WORKERS) as url:
        normal: list[float] = []
        for _ in range(21):
            timed(prefetch, normal, [])
        hanging: list[float] = []
        statuses: list[int] = []
        raw = json.dumps(fetching).encode()
        threads = [threading.Thread(target=timed, args=(raw, hanging, statuses))
                   for _ in range(args.calls)]
        for t in threads:
            t.start()
        time.sleep(0.05)
        meanwhile: list[float] = []
        timed(prefetch, meanwhile, [])
        for t in threads:
            t.join()
    silent.close()
    limit = BUDGET_MS + 100
    print(f"  {args.calls} calls: p50 {statistics.median(hanging):.0f} ms, max "
          f"{max(hanging):.0f} ms, statuses {sorted(set(statuses))}  "
          f"({'met' if max(hanging) <= limit else 'NOT MET'}: each <= {limit} ms)")
    print(f"  prefetch-only call meanwhile: {meanwhile[0]:.1f} ms; normally (median of 20) "
          f"{statistics.median(normal[1:]):.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
