"""Steady load through the cluster's nginx (tools/cluster.py), for tests/test_cluster.py.

    load = Load(cluster, threads=4)
    with load:                      # threads post signed calls until the block ends
        cluster.restart(0)
    load.calls                      # every call: start, end, status (None: no answer)
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from cluster import Cluster

from fixture_files import card_kind, fixture_request

SELECT = "/cds-services/lsb-order-select"
FEEDBACK = SELECT + "/feedback"
REASONS = "urn:lsb-cds-service:override-reason"
WHEN = "2026-11-25T08:00:00Z"
MAX_CALLS_PER_THREAD = 2000  # a bound on every loop, whatever happens


@dataclass(frozen=True)
class Call:
    started: float
    ended: float
    status: int | None  # None: no HTTP answer (connection refused or reset)
    client: int = 0  # which of the load's threads made it
    acknowledged_card: str | None = None  # feedback answered 200 on this card


def select_body(patient: str | None = None) -> dict[str, Any]:
    body = fixture_request("01-crps-left-apixaban")
    if patient:
        body["context"]["patientId"] = patient
    return body


def cards_by_kind(response: requests.Response) -> dict[str, dict[str, Any]]:
    assert response.status_code == 200, response.text[:500]
    return {card_kind(c): c for c in response.json()["cards"]}


def overridden(card: dict[str, Any], code: str, when: str = WHEN) -> dict[str, Any]:
    return {
        "card": card["uuid"],
        "outcome": "overridden",
        "outcomeTimestamp": when,
        "overrideReason": {"reason": {"system": REASONS, "code": code}},
    }


class Load:
    """`threads` clients, each with its own keep-alive session to nginx, calling in a loop.
    With `feedback`, each call is followed by feedback on one of its cards."""

    def __init__(self, cluster: Cluster, threads: int = 4, feedback: bool = False) -> None:
        self.cluster = cluster
        self.feedback = feedback
        self.calls: list[Call] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(threads)
        ]
        self.body = select_body()

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        self.wait_for_calls(len(self._threads))
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=60)

    def wait_for_calls(self, more: int) -> None:
        """Returns once `more` further calls have been answered (bounded by the threads' cap)."""
        target = len(self.calls) + more
        while len(self.calls) < target and any(t.is_alive() for t in self._threads):
            time.sleep(0.02)

    def _record(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)

    def _run(self, client: int) -> None:
        with requests.Session() as session:
            for _ in range(MAX_CALLS_PER_THREAD):
                if self._stop.is_set():
                    return
                started = time.monotonic()
                try:
                    response = self.cluster.post(SELECT, self.body, session=session)
                except requests.RequestException:
                    self._record(Call(started, time.monotonic(), None, client))
                    continue
                self._record(Call(started, time.monotonic(), response.status_code, client))
                cards = response.json().get("cards") if response.status_code == 200 else None
                if self.feedback and cards:
                    self._send_feedback(session, cards[0], client)

    def _send_feedback(
        self, session: requests.Session, card: dict[str, Any], client: int
    ) -> None:
        started = time.monotonic()
        item = {"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": WHEN}
        try:
            response = self.cluster.post(FEEDBACK, {"feedback": [item]}, session=session)
        except requests.RequestException:
            self._record(Call(started, time.monotonic(), None, client))
            return
        ok = response.status_code == 200
        self._record(Call(started, time.monotonic(), response.status_code, client,
                          card["uuid"] if ok else None))

    def failures(self) -> list[Call]:
        return [c for c in self.calls if c.status != 200]

    def first_calls_after(self, moment: float) -> set[Call]:
        """Each client's first call started after `moment`: nginx may have sent it on a
        connection to an instance that died at `moment` before it saw that connection
        close, so it may still have been in flight there."""
        firsts: dict[int, Call] = {}
        for call in sorted(self.calls, key=lambda c: c.started):
            if call.started > moment:
                firsts.setdefault(call.client, call)
        return set(firsts.values())


def proxy_errors(cluster: Cluster) -> list[str]:
    """nginx's error-log lines other than refused connections (which it retries elsewhere):
    what an assertion on failed calls shows, so that a rare failure says why."""
    log = cluster.root / "nginx-error.log"
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    return [line for line in lines if "Connection refused" not in line]
