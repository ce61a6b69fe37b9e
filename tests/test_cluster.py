"""Several instances as a health system runs them: nginx in front of two `cds-service serve`
processes in production mode sharing one PostgreSQL database (tools/cluster.py), driven
through nginx with signed calls. No assertion depends on the machine's speed."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from cluster_support import (
    FEEDBACK,
    SELECT,
    Cluster,
    Load,
    cards_by_kind,
    overridden,
    proxy_errors,
    select_body,
)

from cds_service.testing import free_port

pytestmark = pytest.mark.slow
TOOL = Path(__file__).resolve().parents[1] / "tools" / "cluster.py"


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with Cluster(instances=2, workers=1) as running:
        yield running


@pytest.fixture()
def healthy(cluster: Cluster) -> Cluster:
    """Every instance up (a test that kills one leaves it down)."""
    for i, node in enumerate(cluster.nodes):
        if node.proc is None or node.proc.poll() is not None:
            cluster.start_instance(i)
    return cluster


def test_a_token_replayed_to_the_other_instance_is_refused(healthy: Cluster) -> None:
    token = healthy.token(SELECT)
    first, other = healthy.nodes
    body = select_body()
    assert healthy.post(SELECT, body, base=first.url, token=token).status_code == 200
    replayed = healthy.post(SELECT, body, base=other.url, token=token)
    assert replayed.status_code == 401
    assert "already been used" in replayed.text
    assert healthy.post(SELECT, body, token=token).status_code == 401  # and through nginx


def test_a_suggestion_quieted_through_one_instance_stays_quiet_through_the_other(
    healthy: Cluster,
) -> None:
    body = select_body(patient=f"lsb-cluster-{uuid.uuid4().hex[:8]}")
    first, other = healthy.nodes
    card = cards_by_kind(healthy.post(SELECT, body, base=first.url))["lsb-suggestion"]
    quiet = {"feedback": [overridden(card, "patient-declines")]}
    assert healthy.post(FEEDBACK, quiet, base=first.url).status_code == 200
    for node in (other, first):
        shown = cards_by_kind(healthy.post(SELECT, body, base=node.url))
        assert "lsb-suggestion" not in shown


def test_feedback_sent_at_once_to_the_other_instance_finds_the_card(healthy: Cluster) -> None:
    first, other = healthy.nodes
    for _ in range(20):
        card = healthy.post(SELECT, select_body(), base=first.url).json()["cards"][0]
        # Written before the call answered: on the shared database nothing waits in a batch.
        stored = healthy.sql(f"SELECT kind FROM issued_card WHERE uuid = '{card['uuid']}'")
        assert stored == [("lsb-suggestion",)]
        item = {"card": card["uuid"], "outcome": "overridden",
                "outcomeTimestamp": "2026-11-25T08:00:00Z"}
        response = healthy.post(FEEDBACK, {"feedback": [item]}, base=other.url)
        assert response.status_code == 200, response.text


def test_a_rolling_restart_fails_no_call(healthy: Cluster) -> None:
    with Load(healthy, threads=4) as load:
        for i in range(len(healthy.nodes)):
            healthy.restart(i)  # SIGTERM, wait for it to exit, start it, wait until ready
            load.wait_for_calls(20)
    assert len(load.calls) >= 40
    assert load.failures() == [], proxy_errors(healthy)


def test_kill_9_fails_only_the_calls_in_flight(healthy: Cluster) -> None:
    with Load(healthy, threads=4) as load:
        load.wait_for_calls(20)
        kill_at = time.monotonic()
        healthy.kill(1)  # returns once the processes are gone: their sockets are closed
        dead_at = time.monotonic()
        load.wait_for_calls(100)
    # In flight: sent while the instance was dying, or a client's first call after that, which
    # nginx may have sent on a connection to it before it saw that connection close.
    in_flight = load.first_calls_after(dead_at)
    for call in load.failures():
        assert call.ended > kill_at
        assert call.started < dead_at or call in in_flight, proxy_errors(healthy)
    after = [c for c in load.calls if c.started > dead_at and c not in in_flight]
    assert len(after) >= 50
    assert all(c.status == 200 for c in after)  # nginx sends them to the other instance


def test_a_postgresql_restart_loses_no_acknowledged_feedback(healthy: Cluster) -> None:
    with Load(healthy, threads=3, feedback=True) as load:
        load.wait_for_calls(20)
        healthy.pg_restart()
        load.wait_for_calls(60)  # the instances reconnect on their own
    acknowledged = {c.acknowledged_card for c in load.calls if c.acknowledged_card}
    assert acknowledged
    stored = {row[0] for row in healthy.sql("SELECT card_uuid FROM card_feedback")}
    assert acknowledged <= stored
    # After the restart every call answers again.
    assert healthy.post(SELECT, select_body()).status_code == 200


def test_nginx_keeps_metrics_off_the_proxy(healthy: Cluster) -> None:
    assert requests.get(healthy.url + "/metrics", timeout=10).status_code == 404
    assert requests.get(healthy.url + "/readyz", timeout=10).status_code == 200


def test_make_cluster_runs_until_ctrl_c_and_then_leaves_nothing_behind(tmp_path: Path) -> None:
    port = free_port()
    out = tmp_path / "cluster.out"
    with open(out, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, str(TOOL), "--port", str(port)], stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        for _ in range(1200):  # bounded: at most two minutes
            if "Ctrl-C stops everything" in out.read_text() or proc.poll() is not None:
                break
            time.sleep(0.1)
        text = out.read_text()
        assert "Ctrl-C stops everything" in text, text[-3000:]
        assert requests.get(f"http://127.0.0.1:{port}/readyz", timeout=10).status_code == 200
        # The printed call works as printed: a signed call through nginx.
        token = re.search(r"Bearer (\S+)'", text)
        assert token
        body = select_body()
        answer = requests.post(f"http://127.0.0.1:{port}{SELECT}", json=body, timeout=30,
                               headers={"Authorization": f"Bearer {token[1]}"})
        assert answer.status_code == 200
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C sends to the foreground group
        proc.wait(timeout=90)
    assert proc.returncode == 0
    folder = re.search(r"Folder: (\S+)", text)
    assert folder and not Path(folder[1]).exists()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
