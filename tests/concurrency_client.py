"""One of the client processes of test_concurrency.py: posts signed feedback as fast as it can.

    python concurrency_client.py CONFIG.json WORKER_NUMBER

CONFIG holds the service URL, the signing key (PEM), kid, issuer, the cards to answer and when
to start (all processes start at the same moment). Prints the HTTP statuses as a JSON list.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import requests
from cryptography.hazmat.primitives.serialization import load_pem_private_key


def main(config_path: str, worker: int) -> int:
    config: dict[str, Any] = json.loads(Path(config_path).read_text(encoding="utf-8"))
    key = load_pem_private_key(config["key_pem"].encode(), password=None)
    path = f"/cds-services/{config['service']}/feedback"
    base = datetime(2026, 1, 1, tzinfo=UTC)
    statuses: list[int] = []
    time.sleep(max(0.0, config["start_at"] - time.time()))
    with requests.Session() as session:
        for n in range(config["requests"]):
            when = (base + timedelta(seconds=worker * 100_000 + n)).strftime("%Y-%m-%dT%H:%M:%SZ")
            items = [
                {
                    "card": card["uuid"],
                    "outcome": "accepted",
                    "acceptedSuggestions": [{"id": card["suggestion"]}],
                    "outcomeTimestamp": when,
                }
                for card in config["cards"]
            ]
            now = int(time.time())
            token = jwt.encode(
                {
                    "iss": config["issuer"],
                    "aud": config["url"] + path,
                    "iat": now,
                    "exp": now + 300,
                    "jti": str(uuid.uuid4()),
                },
                key,
                algorithm=config["alg"],
                headers={"kid": config["kid"], "typ": "JWT"},
            )
            response = session.post(
                config["url"] + path,
                json={"feedback": items},
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )
            statuses.append(response.status_code)
    print(json.dumps(statuses))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2])))
