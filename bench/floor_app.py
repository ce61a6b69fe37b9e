"""The floor: a bare Flask app under the same server as the service (cds_service/server.py),
that parses the request body with `json.loads` and answers a fixed small card. What any Flask
service pays per call; `make bench` measures the service against it. `--burn-ms` adds that much
CPU work to each call: a floor as busy as the service, to tell the latency any saturated
server shows on the machine from the service's own.

    python bench/floor_app.py --port 8090 [--workers 2] [--burn-ms 0.9]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cds_service.server import ServerOptions, cooperative, run

CARD = {
    "uuid": "00000000-0000-4000-8000-000000000001",
    "summary": "Floor",
    "indicator": "info",
    "source": {"label": "floor"},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--burn-ms", type=float, default=0.0)
    args = parser.parse_args()
    cooperative()
    import json
    import time

    from flask import Flask, request

    app = Flask(__name__)

    @app.post("/cds-services/<service_id>")
    def call(service_id: str) -> dict:
        json.loads(request.get_data())
        end = time.perf_counter() + args.burn_ms / 1000
        while time.perf_counter() < end:  # CPU work, as a decision would do
            pass
        return {"cards": [CARD]}

    run(app, ServerOptions(port=args.port, workers=args.workers, metrics_host=None))


if __name__ == "__main__":
    main()
