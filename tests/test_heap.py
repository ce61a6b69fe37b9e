"""The collector as `cds-service serve` sets it: a heavy patient's call runs without a single
collection walking its parsed body. Run in a child process: thresholds and frozen objects are
the whole process's."""

from __future__ import annotations

import json
import subprocess
import sys

from fixture_files import FIXTURES

CALL_HEAVY_PATIENT = """
import gc, json, sys, tempfile
from cds_service import create_app
from cds_service.heap import settle_for_serving
app = create_app(dev_mode=True, database_url=f"sqlite:///{tempfile.mkdtemp()}/heap.sqlite3")
client = app.test_client()
body = open(sys.argv[1], "rb").read()
def call():
    answer = client.post("/cds-services/lsb-order-select", data=body,
                         content_type="application/json")
    assert answer.status_code == 200, answer.status_code
    return [c["source"]["topic"]["code"] for c in answer.get_json()["cards"]]
cards = call()
if sys.argv[2] == "serving":
    settle_for_serving()
else:
    gc.collect()
    gc.freeze()
collections = [0, 0, 0]
def count(phase, info):
    if phase == "start":
        collections[info["generation"]] += 1
gc.callbacks.append(count)
assert call() == cards
print(json.dumps({"collections": collections, "threshold": gc.get_threshold()}))
"""


def _collections_in_a_heavy_call(mode: str) -> dict[str, list[int]]:
    body = FIXTURES / "requests" / "27-heavy-patient.json"
    done = subprocess.run(
        [sys.executable, "-c", CALL_HEAVY_PATIENT, str(body), mode],
        capture_output=True, text=True, timeout=300, check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_heavy_patients_call_runs_no_collection_once_settled_for_serving() -> None:
    settled = _collections_in_a_heavy_call("serving")
    assert settled["threshold"][0] == 50_000
    assert settled["collections"] == [0, 0, 0]
    # Frozen alone, at Python's default threshold, the same call collects again and again.
    default = _collections_in_a_heavy_call("frozen only")
    assert default["threshold"][0] == 700
    assert default["collections"][0] >= 20
