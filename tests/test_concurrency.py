"""Concurrent feedback loses nothing: several client processes post at once to the service
under gunicorn with several worker processes, against one database (SQLite, PostgreSQL); the
same answer from all of them is one row per card, at the latest time sent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from jwt_helpers import TestIssuer, write_trusted_clients
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cds_service.db import make_engine
from cds_service.feedback.models import CardFeedback, IssuedCard
from cds_service.testing import free_port, served

from fixture_files import fixture_request

pytestmark = pytest.mark.slow

HERE = Path(__file__).parent
CLIENTS = 4
REQUESTS_EACH = 15
WORKERS = 3


def test_concurrent_feedback_from_several_processes_loses_nothing(
    tmp_path: Path, database_url: str, issuer: TestIssuer
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    trusted = write_trusted_clients(tmp_path / "trusted.yaml", issuer.entry())
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDS_")}
    env.update(CDS_TRUSTED_CLIENTS=str(trusted), CDS_PUBLIC_URL=url, CDS_DATABASE_URL=database_url,
               CDS_PATIENT_KEY_SECRET=os.environ["CDS_PATIENT_KEY_SECRET"])
    with served(env, port=port, workers=WORKERS, inherit_env=False):
        cards = []
        for _ in range(2):
            path = "/cds-services/lsb-order-select"
            response = requests.post(
                url + path,
                json=fixture_request("01-crps-left-apixaban"),
                headers=issuer.auth(url + path),
                timeout=10,
            )
            assert response.status_code == 200
            card = next(c for c in response.json()["cards"] if c.get("suggestions"))
            cards.append({"uuid": card["uuid"], "suggestion": card["suggestions"][0]["uuid"]})
        config = tmp_path / "clients.json"
        config.write_text(
            json.dumps(
                {
                    "url": url,
                    "service": "lsb-order-select",
                    "issuer": issuer.issuer,
                    "kid": issuer.kid,
                    "alg": issuer.alg,
                    "key_pem": issuer.key.private_bytes(
                        serialization.Encoding.PEM,
                        serialization.PrivateFormat.PKCS8,
                        serialization.NoEncryption(),
                    ).decode(),
                    "cards": cards,
                    "requests": REQUESTS_EACH,
                    "start_at": time.time() + 1.5,  # all clients start together
                }
            )
        )
        clients = [
            subprocess.Popen(
                [sys.executable, str(HERE / "concurrency_client.py"), str(config), str(n)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for n in range(CLIENTS)
        ]
        statuses = []
        for client in clients:
            out, err = client.communicate(timeout=120)
            assert client.returncode == 0, err.decode()[-2000:]
            statuses += json.loads(out)
        assert statuses == [200] * (CLIENTS * REQUESTS_EACH)

    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            answers = {
                row.card_uuid: row.outcome_timestamp
                for row in session.scalars(select(CardFeedback))
            }
            count = session.scalar(select(func.count()).select_from(CardFeedback))
            issued = session.scalar(select(func.count()).select_from(IssuedCard))
    finally:
        engine.dispose()
    # Every client gave the same answer on both cards, each at its own times: one row per card
    # (a repeated answer is stored once), holding the latest time any client sent.
    latest = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(
        seconds=(CLIENTS - 1) * 100_000 + REQUESTS_EACH - 1
    )
    assert count == len(cards)
    assert answers == {card["uuid"]: latest for card in cards}
    assert issued == 2  # two calls, one card each (the bleeding facts are lines in it)
