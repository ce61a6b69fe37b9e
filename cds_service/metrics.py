"""Prometheus metrics: the series the service exports and the endpoint that serves them.

Under gunicorn every worker writes to files in PROMETHEUS_MULTIPROC_DIR (prometheus-client's
multiprocess mode, set up by `cds-service serve`) and the endpoint adds the workers up. The
endpoint is served on its own listener (`--metrics-port`, loopback by default), never on the
port EHRs call: `by_listener` routes each connection by the local port it arrived on. Labels
are bounded sets (service ids, card kinds, failure kinds, refusal reasons): never a patient,
a token or a URL.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    make_wsgi_app,
)
from prometheus_client import multiprocess as _multiprocess

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

HOOK_CALLS = Histogram(
    "cds_hook_call_duration_seconds",
    "Hook calls by service and HTTP status, time from request to answer.",
    ["service", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
CARDS = Counter("cds_cards_issued_total", "Cards returned, by card kind.", ["kind"])
CARD_RENDER_FAILURES = Counter(
    "cds_card_render_failures_total",
    "Cards sent in plain words because their template failed, by card kind.",
    ["kind"],
)
FHIR_FETCHES = Counter(
    "cds_fhir_fetch_total",
    "Reads from the EHR's FHIR server, by prefetch key (or Medication) and outcome.",
    ["resource", "outcome"],
)
TOKEN_REFUSALS = Counter(
    "cds_token_refusals_total", "Calls refused by the JWT check, by reason.", ["reason"]
)
FEEDBACK = Counter(
    "cds_feedback_total", "Feedback items stored, by outcome (accepted, overridden).", ["outcome"]
)

HOOK_PREFIX = "/cds-services/"


def open_series(service_ids: Iterable[str], card_kinds: Iterable[str]) -> None:
    """Creates the series a worker's calls write (each one a file in multiprocess mode) before
    it takes traffic, at zero: nothing is counted, and no call pays for opening them."""
    for service in service_ids:
        HOOK_CALLS.labels(service, "200")
    for kind in card_kinds:
        CARDS.labels(kind)
        CARD_RENDER_FAILURES.labels(kind)


def observe_hook_calls(app: WsgiApp, service_ids: Iterable[str]) -> WsgiApp:
    """Wraps the app: times each hook call (POST /cds-services/{id}) and counts it by service
    and status. Unknown ids count as "unknown", so a caller cannot grow the label set."""
    known = frozenset(service_ids)

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path: str = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") != "POST" or not path.startswith(HOOK_PREFIX):
            return app(environ, start_response)
        service = path[len(HOOK_PREFIX) :]
        if "/" in service:  # feedback: counted by outcome where it is stored
            return app(environ, start_response)
        if service not in known:
            service = "unknown"
        started = time.perf_counter()
        status = ["000"]

        def recording_start(status_line: str, headers: Any, *exc: Any) -> Any:
            status[0] = status_line[:3]
            return start_response(status_line, headers, *exc)

        try:
            return app(environ, recording_start)
        finally:
            HOOK_CALLS.labels(service, status[0]).observe(time.perf_counter() - started)

    return wrapped


def registry() -> Any:
    """All workers' series in multiprocess mode; this process's otherwise."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        combined = CollectorRegistry()
        _multiprocess.MultiProcessCollector(combined)
        return combined
    from prometheus_client import REGISTRY

    return REGISTRY


def metrics_app() -> WsgiApp:
    """GET /metrics in the Prometheus text format; 404 for any other path."""
    exporter = make_wsgi_app(registry())

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found\n"]
        return exporter(environ, start_response)  # type: ignore[no-any-return]

    return app


def by_listener(public: WsgiApp, metrics: WsgiApp, metrics_port: int) -> WsgiApp:
    """Routes a request by the local port its connection arrived on (gunicorn puts the
    connection's socket in the environ); the Host header, which a client chooses, plays no
    part."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        sock = environ.get("gunicorn.socket")
        try:
            port = sock.getsockname()[1] if sock is not None else None
        except OSError:
            port = None
        if port == metrics_port:
            return metrics(environ, start_response)
        return public(environ, start_response)

    return app
