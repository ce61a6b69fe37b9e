"""Paths the service does not serve answer 404 on the service port in production mode too, as
docs/deploying.md says of /metrics: not a 401 asking a Prometheus scrape for a token, and not
counted or logged as a refused call."""

from __future__ import annotations

import pytest
from flask import Flask


@pytest.mark.parametrize("path", ["/metrics", "/no-such-page"])
def test_an_unserved_path_is_a_404_without_a_token(
    secure_app: Flask, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    response = secure_app.test_client().get(path)
    assert response.status_code == 404
    assert response.get_json()["resourceType"] == "OperationOutcome"
    assert "call refused" not in caplog.text


def test_the_services_still_need_a_token(secure_app: Flask) -> None:
    client = secure_app.test_client()
    assert client.get("/cds-services").status_code == 401
    assert client.post("/cds-services/lsb-order-select", json={}).status_code == 401
    assert client.post("/cds-services/no-such-service", json={}).status_code == 401
