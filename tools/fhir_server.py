"""Runs the test suite's FHIR server (Medplum's FHIR engine, R4, on loopback) loaded with every
fixture patient, until Ctrl-C: a FHIR server for the CDS Hooks sandbox or any other CDS client.

Usage: python tools/fhir_server.py [--port 8090]   (`make fhir-server`)

Open (no token), answers CORS for pages served from this machine and for the public CDS Hooks
sandbox, and holds synthetic patients only: what each fixture prefetched, under its own ids
(patients `lsb-01`, `lsb-02`, …: listed when it starts).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from fhir_server.harness import FhirTestServer  # noqa: E402  (the suite's own server)
from fixture_files import NAMES, fixture_bundles, fixture_request  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8090, help="port on 127.0.0.1 (default: 8090)")
    args = parser.parse_args(argv)
    server = FhirTestServer()  # installs its npm packages on first use (npm ci)
    base_url = server.start(port=args.port, cors=True)
    try:
        for name in NAMES:  # named, so a client shows more than an id ("Fixture 01")
            patient_id = fixture_request(name)["context"]["patientId"]
            server.load({"resourceType": "Patient", "id": patient_id,
                         "name": [{"family": "Fixture", "given": [name[:2]]}]})
        for bundle in fixture_bundles():
            server.load(bundle)
        print(f"FHIR R4 server on {base_url} with the fixture patients:", flush=True)
        for name in NAMES:
            print(f"  {fixture_request(name)['context']['patientId']:8} {name}")
        print("Ctrl-C stops it.", flush=True)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            while server.running and not stop.wait(1):
                pass
        except KeyboardInterrupt:
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
