"""Latency of the fetch path (no prefetch: the service queries the EHR's FHIR server) against
the prefetch path, for the same fixture patient: p50 / p99 over N calls each.

The FHIR server is the loopback Medplum test server (tests/fhir_server) loaded with the
fixture's data. The service runs under gunicorn (one worker) on a loopback port, as deployed;
`--in-process` calls the Flask app through its test client instead. Every fetch-path answer
is checked against the prefetch answer: a degraded one (budget exceeded) is counted.

    python bench/fetch_latency.py [--calls 200] [--fixture 01-crps-left-apixaban] [--in-process]
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from cds_service.testing import served

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support import percentile  # noqa: E402  (beside this script)

from fhir_server.harness import FhirTestServer  # noqa: E402  (the test harness, by path)

TOKEN = "bench-token"
Post = Callable[[str, dict[str, Any]], tuple[int, Any]]


def fixture(name: str) -> dict[str, Any]:
    return json.loads((ROOT / "fixtures" / "requests" / f"{name}.json").read_text("utf-8"))


def without_prefetch(body: dict[str, Any], fhir_base: str) -> dict[str, Any]:
    body = copy.deepcopy(body)
    body.pop("prefetch", None)
    body["fhirServer"] = fhir_base
    body["fhirAuthorization"] = {
        "access_token": TOKEN,
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "patient/*.read",
        "subject": "lsb-cds-service",
    }
    return body


def cards_of(payload: Any) -> list[tuple[str, str, str]]:
    return sorted(
        (c["source"]["topic"]["code"], c["summary"], c.get("detail", ""))
        for c in (payload or {}).get("cards", [])
    )


@contextmanager
def gunicorn(env: dict[str, str]) -> Iterator[Post]:
    with served(env) as url, requests.Session() as session:

        def post(service: str, body: dict[str, Any]) -> tuple[int, Any]:
            response = session.post(f"{url}/cds-services/{service}", json=body, timeout=30)
            return response.status_code, response.json()

        yield post


@contextmanager
def in_process(env: dict[str, str]) -> Iterator[Post]:
    from cds_service import create_app

    client = create_app(
        dev_mode=True, allowed_fhir_servers=(env["CDS_ALLOWED_FHIR_SERVERS"],)
    ).test_client()

    def post(service: str, body: dict[str, Any]) -> tuple[int, Any]:
        response = client.post(f"/cds-services/{service}", json=body)
        return response.status_code, response.get_json()

    yield post


def measure(post: Post, service: str, body: dict[str, Any], calls: int) -> tuple[list[float], Any]:
    for _ in range(10):  # warm-up: imports, caches, pooled connections
        post(service, body)
    samples, answers = [], []
    for _ in range(calls):
        start = time.perf_counter()
        answers.append(post(service, body))
        samples.append((time.perf_counter() - start) * 1000)
    return samples, answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--fixture", default="01-crps-left-apixaban")
    parser.add_argument("--in-process", action="store_true")
    args = parser.parse_args()

    body = fixture(args.fixture)
    service = "lsb-order-select" if body["hook"] == "order-select" else "lsb-order-sign"
    fhir = FhirTestServer()
    base = fhir.start(token=TOKEN)
    try:
        for value in body["prefetch"].values():
            if isinstance(value, dict) and value.get("resourceType") == "Bundle":
                fhir.load(value)
        env = {"CDS_DEV_MODE": "1", "CDS_ALLOWED_FHIR_SERVERS": base}
        runner = in_process if args.in_process else gunicorn
        mode = "in-process (Flask test client)" if args.in_process else "gunicorn, 1 worker"
        print(f"Fetch vs prefetch, fixture {args.fixture}, {args.calls} calls each, {mode}")
        with runner(env) as post:
            prefetch_ms, prefetch_answers = measure(post, service, body, args.calls)
            fetch_ms, fetch_answers = measure(
                post, service, without_prefetch(body, base), args.calls
            )
        expected = prefetch_answers[0]
        degraded = sum(
            1
            for status, payload in fetch_answers
            if status != expected[0] or cards_of(payload) != cards_of(expected[1])
        )
        for label, samples in (("prefetch", prefetch_ms), ("fetch (no prefetch)", fetch_ms)):
            print(
                f"  {label:<20} p50 {statistics.median(samples):7.1f} ms"
                f"   p99 {percentile(samples, 99):7.1f} ms   max {max(samples):7.1f} ms"
            )
        print(f"  fetch answers that differ from prefetch (budget exceeded): {degraded}")
    finally:
        fhir.stop()


if __name__ == "__main__":
    main()
