"""Calls whose FHIR server never answers, and a prefetch-only call made meanwhile.

50 concurrent calls of fixture 01 without prefetch name a FHIR server that accepts connections
and never answers; each must be answered within the fetch budget (CDS_FHIR_BUDGET_MS, 400 ms)
+ 100 ms. A call with complete prefetch made while they wait must take its normal time (goal:
50 ms at most). Two ways of sending them: one after another as threads start ("staggered"),
and all at once on connections opened beforehand ("burst": released by one barrier).

    python bench/fhir_hang.py [--calls 50] [--mode staggered|burst|both]
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
from typing import Any

import requests
from support import ROOT, WORKERS, fixture_path, load_note, service_env, service_path

from cds_service.testing import served

BUDGET_MS = 400
MEANWHILE_GOAL_MS = 50


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--mode", choices=("staggered", "burst", "both"), default="both")
    parser.add_argument("--rounds", type=int, default=1, help="each mode this many times")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "tests"))
    path = fixture_path("01")
    route = service_path(path)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(4096)
    fetching = json.loads(path.read_bytes())
    fetching.pop("prefetch")
    fetching["fhirServer"] = f"http://127.0.0.1:{silent.getsockname()[1]}/fhir"
    prefetch = path.read_bytes()
    raw = json.dumps(fetching).encode()
    headers = {"Content-Type": "application/json"}
    env = {**service_env(Path(tempfile.mkdtemp())), "CDS_FHIR_BUDGET_MS": str(BUDGET_MS)}

    def timed(session: Any, url: str, body: bytes, out: list[float], statuses: list[int],
              barrier: threading.Barrier | None = None) -> None:
        if barrier is not None:
            barrier.wait()
        started = time.perf_counter()
        r = session.post(url + route, data=body, headers=headers, timeout=30)
        out.append((time.perf_counter() - started) * 1000)
        statuses.append(r.status_code)

    modes = ("staggered", "burst") if args.mode == "both" else (args.mode,)
    modes = modes * args.rounds
    print(f"A FHIR server that never answers ({load_note()})")
    with served(env, workers=WORKERS) as url:
        normal: list[float] = []
        for _ in range(21):
            timed(requests, url, prefetch, normal, [])
        for mode in modes:
            hanging: list[float] = []
            statuses: list[int] = []
            sessions = [requests.Session() for _ in range(args.calls)]
            barrier = None
            if mode == "burst":
                for session in sessions:  # each connection open before the burst
                    session.get(url + "/healthz", timeout=10)
                barrier = threading.Barrier(args.calls + 1)
            threads = [
                threading.Thread(target=timed, args=(s, url, raw, hanging, statuses, barrier))
                for s in sessions
            ]
            for t in threads:
                t.start()
            if barrier is not None:
                barrier.wait()
            time.sleep(0.05)
            meanwhile: list[float] = []
            timed(requests, url, prefetch, meanwhile, [])
            for t in threads:
                t.join()
            for session in sessions:
                session.close()
            limit = BUDGET_MS + 100
            met = max(hanging) <= limit and meanwhile[0] <= MEANWHILE_GOAL_MS
            print(f"  {mode}: {args.calls} calls: p50 {statistics.median(hanging):.0f} ms, max "
                  f"{max(hanging):.0f} ms, statuses {sorted(set(statuses))}; prefetch-only "
                  f"call meanwhile {meanwhile[0]:.1f} ms ({'met' if met else 'NOT MET'}: each "
                  f"<= {limit} ms, meanwhile <= {MEANWHILE_GOAL_MS} ms)")
        print(f"  prefetch-only call normally (median of 20): "
              f"{statistics.median(normal[1:]):.1f} ms")
    silent.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
