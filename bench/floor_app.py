"""The floor: a bare Flask app under the same server as the service (cds_service/server.py),
that parses the request body with `json.loads` and answers a fixed small card. What any Flask
service pays per call; `make bench` measures the service against it. `--burn-ms` adds that much
CPU work to each call: a floor as busy as the service, to tell the latency any saturated
server shows on the machine from the service's own.

The work is a fixed number of interpreter steps, counted at start to take `--burn-ms` at the
machine's best speed (the fastest of many tries). Like the service's own work, and unlike a
wait on the clock, it takes longer while the machine is busy or its caches are shared.

    python bench/floor_app.py --port 8090 [--workers 2] [--burn-ms 0.9]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cds_service.server import ServerOptions, cooperative, run

CARD = {
    "uuid": "00000000-0000-4000-8000-000000000001",
    "summary": "Floor",
    "indicator": "info",
    "source": {"label": "floor"},
}


def work(steps: int) -> int:
    total = 0
    for step in range(steps):
        total += step
    return total


def steps_for(ms: float, tries: int = 200) -> int:
    """The steps of `work` that take `ms` at the machine's best speed."""
    if ms <= 0:
        return 0
    sample = 20_000
    fastest = float("inf")
    for _ in range(tries):
        started = time.perf_counter()
        work(sample)
        fastest = min(fastest, time.perf_counter() - started)
    return round(sample * ms / 1000 / fastest)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--burn-ms", type=float, default=0.0)
    args = parser.parse_args()
    cooperative()
    import json

    from flask import Flask, request

    app = Flask(__name__)
    steps = steps_for(args.burn_ms)

    @app.post("/cds-services/<service_id>")
    def call(service_id: str) -> dict:
        json.loads(request.get_data())
        work(steps)  # CPU work, as a decision would do
        return {"cards": [CARD]}

    run(app, ServerOptions(port=args.port, workers=args.workers, metrics_host=None))


if __name__ == "__main__":
    main()
