"""Python harness for the loopback FHIR R4 test server (``server.mjs``).

The server is Medplum's in-memory FHIR engine (``@medplum/fhir-router``
``FhirRouter`` + ``MemoryRepository``) behind a small ``node:http`` wrapper.
It listens on 127.0.0.1 only, on a free port, and serves FHIR R4 JSON at
``<base_url>`` = ``http://127.0.0.1:<port>/fhir``.

Typical use::

    server = FhirTestServer()
    base_url = server.start(token="test-token")
    server.load(bundle)                      # keeps the fixture ids
    server.behave(status=429, retry_after="1", times=2, path_contains="MedicationStatement")
    ...                                      # exercise the FHIR client against base_url
    assert any("MedicationStatement" in r["path"] for r in server.requests_log())
    server.stop()

or as pytest fixtures: see ``conftest.py`` next to this file and
:func:`fhir_server_fixture`.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import os
import selectors
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests

HERE = Path(__file__).resolve().parent
SERVER_SCRIPT = HERE / "server.mjs"
DEFAULT_TEST_TOKEN = "test-token"
_MARKER = HERE / "node_modules" / "@medplum" / "fhir-router" / "package.json"


class FhirTestServerError(RuntimeError):
    """The test server could not be installed, started or controlled."""


def _node() -> str:
    node = shutil.which("node")
    if not node:
        raise FhirTestServerError(
            "node (>= 20.19) is required for the FHIR test server but was not found on PATH"
        )
    return node


def ensure_installed(timeout: float = 600.0) -> None:
    """Run ``npm ci`` in this folder when node_modules is missing.

    Safe to call often, and concurrently (a file lock serialises the installs).
    """
    if _MARKER.exists():
        return
    npm = shutil.which("npm")
    if not npm:
        raise FhirTestServerError(
            "npm is required to install the FHIR test server dependencies but was not found"
        )
    lock_path = Path(tempfile.gettempdir()) / "cds-fhir-test-server-npm.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if _MARKER.exists():  # another process installed it while we waited
                return
            proc = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund"],
                cwd=HERE,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
            if proc.returncode != 0 or not _MARKER.exists():
                raise FhirTestServerError(
                    f"npm ci failed in {HERE} (exit {proc.returncode}):\n"
                    f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
                )
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


class FhirTestServer:
    """A real FHIR R4 server on loopback, run as a node subprocess.

    ``default_count`` is the page size used when a search has no ``_count``
    (20 by default, like Medplum and HAPI).
    """

    def __init__(self, default_count: int = 20, startup_timeout: float = 30.0) -> None:
        self.default_count = default_count
        self.startup_timeout = startup_timeout
        self.port: int | None = None
        self.token: str | None = None
        self.startup_seconds: float | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr_file: Any = None
        self._session = requests.Session()

    # ------------------------------------------------------------ lifecycle
    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def root_url(self) -> str:
        if self.port is None:
            raise FhirTestServerError("server not started")
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """FHIR base URL, e.g. ``http://127.0.0.1:41234/fhir`` (no trailing slash)."""
        return f"{self.root_url}/fhir"

    @property
    def control_url(self) -> str:
        return f"{self.root_url}/$control"

    def auth_headers(self) -> dict[str, str]:
        """Headers a correctly configured client would send (empty when no token)."""
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def start(self, token: str | None = None, port: int = 0, cors: bool = False) -> str:
        """Start the server (auth required iff ``token``) on ``port`` (0: any free one), with
        CORS for loopback pages and the public CDS Hooks sandbox if ``cors``; returns the FHIR
        base URL."""
        if self.running:
            raise FhirTestServerError("server already running")
        ensure_installed()
        env = dict(os.environ)
        env.pop("FHIR_TEST_TOKEN", None)
        env.pop("FHIR_TEST_PORT", None)
        if token:
            env["FHIR_TEST_TOKEN"] = token
        env["FHIR_TEST_DEFAULT_COUNT"] = str(self.default_count)
        env["FHIR_TEST_CORS"] = "1" if cors else "0"
        self._stderr_file = tempfile.TemporaryFile()  # noqa: SIM115  # closed in stop()
        t0 = time.monotonic()
        self._proc = subprocess.Popen(
            [_node(), str(SERVER_SCRIPT), "--port", str(port), "--exit-on-stdin-eof"],
            cwd=HERE,
            env=env,
            stdin=subprocess.PIPE,  # closing it (or our death) makes the server exit
            stdout=subprocess.PIPE,
            stderr=self._stderr_file,
        )
        atexit.register(self.stop)
        try:
            self.port = self._wait_ready(t0)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - t0
        self.token = token
        return self.base_url

    def _wait_ready(self, t0: float) -> int:
        assert self._proc is not None and self._proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(self._proc.stdout, selectors.EVENT_READ)
        buf = b""
        try:
            while True:
                remaining = self.startup_timeout - (time.monotonic() - t0)
                if remaining <= 0:
                    raise FhirTestServerError(
                        f"FHIR test server not READY after {self.startup_timeout}s; "
                        f"stderr:\n{self._stderr_text()}"
                    )
                if not sel.select(timeout=remaining):
                    continue
                chunk = os.read(self._proc.stdout.fileno(), 4096)
                if not chunk:
                    self._proc.wait(timeout=5)
                    raise FhirTestServerError(
                        f"FHIR test server exited (code {self._proc.returncode}) before READY; "
                        f"stderr:\n{self._stderr_text()}"
                    )
                buf += chunk
                for line in buf.decode("utf-8", "replace").splitlines():
                    if line.startswith("READY "):
                        return int(line.split()[1])
        finally:
            sel.close()

    def _stderr_text(self) -> str:
        if self._stderr_file is None:
            return ""
        self._stderr_file.seek(0)
        return self._stderr_file.read().decode("utf-8", "replace")[-8000:]

    def stop(self, timeout: float = 5.0) -> int | None:
        """Stop the server (SIGTERM, then SIGKILL); returns its exit code."""
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=timeout)
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        if self._stderr_file is not None:
            self._stderr_file.close()
            self._stderr_file = None
        self._session.close()
        self._session = requests.Session()
        return proc.returncode

    def __enter__(self) -> FhirTestServer:
        if not self.running:
            self.start(DEFAULT_TEST_TOKEN)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------ control API
    def _control(self, method: str, action: str, payload: Any = None) -> Any:
        if not self.running:
            raise FhirTestServerError("server not running")
        resp = self._session.request(
            method,
            f"{self.control_url}/{action}",
            data=None if payload is None else json.dumps(payload),
            headers={"Content-Type": "application/json"},
            timeout=30,
        )
        if resp.status_code != 200:
            raise FhirTestServerError(f"control {action} failed: {resp.status_code} {resp.text}")
        return resp.json()

    def load(self, bundle: dict[str, Any]) -> dict[str, Any]:
        """Store every resource of ``bundle`` (any Bundle type, or one resource) under its own id.

        Bypasses auth, fault injection and the request log. Creates stub
        ``Patient`` resources for patients referenced by subject/patient that
        the data does not contain. Returns ``{"stored": [...], "stub_patients": [...]}``.
        """
        return self._control("POST", "load", bundle)

    def load_via_fhir(self, bundle: dict[str, Any]) -> dict[str, Any]:
        """Load ``bundle`` through the FHIR API: POST a transaction of ``PUT Type/id`` entries."""
        resp = self._session.post(
            self.base_url,
            data=json.dumps(to_put_transaction(bundle)),
            headers={"Content-Type": "application/fhir+json", **self.auth_headers()},
            timeout=30,
        )
        if resp.status_code != 200:
            raise FhirTestServerError(f"transaction failed: {resp.status_code} {resp.text}")
        result: dict[str, Any] = resp.json()
        return result

    def behave(self, **kw: Any) -> dict[str, Any]:
        """Add a fault-injection rule for the next matching FHIR requests.

        Keys: ``delay_ms``, ``status`` (OperationOutcome body), ``retry_after``
        (sent as the Retry-After header), ``times`` (default 1; negative = until
        reset), ``path_contains`` (substring of the decoded path+query),
        ``method``, ``body`` (replaces the OperationOutcome), ``drop`` (close
        the connection without answering), ``reset=True`` (clear all rules).
        Rules are checked in the order added; the first match is used.
        """
        result: dict[str, Any] = self._control("POST", "behaviour", kw)
        return result

    def reset(self, data: bool = False) -> None:
        """Clear fault-injection rules and the request log (and all stored data if ``data``)."""
        self._control("POST", "behaviour", {"reset": True})
        self._control("POST", "reset-log", {})
        if data:
            self._control("POST", "clear", {})

    def clear_data(self) -> None:
        """Delete every stored resource."""
        self._control("POST", "clear", {})

    def requests_log(self) -> list[dict[str, Any]]:
        """FHIR requests received, oldest first.

        Each: ``seq``, ``time``, ``method``, ``path`` (path + query string as
        sent, e.g. ``/fhir/Condition?patient=p1``), ``has_authorization``
        (bool; the token is never logged), ``status`` (0 = dropped), ``injected``.
        """
        result: list[dict[str, Any]] = self._control("GET", "requests")["requests"]
        return result


def to_put_transaction(bundle: dict[str, Any]) -> dict[str, Any]:
    """Turn any Bundle into a transaction whose entries are ``PUT Type/id`` (ids kept)."""
    entries = []
    for entry in bundle.get("entry", []):
        resource = entry.get("resource")
        if not resource:
            continue
        if not resource.get("id"):
            raise ValueError(f"resource without id cannot be PUT: {resource.get('resourceType')}")
        entries.append(
            {
                "fullUrl": f"{resource['resourceType']}/{resource['id']}",
                "resource": resource,
                "request": {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"},
            }
        )
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def fhir_server_fixture() -> Iterator[FhirTestServer]:
    """Generator for a pytest fixture: one server with token ``DEFAULT_TEST_TOKEN``.

    Wire it in ``tests/conftest.py`` with e.g.::

        from fhir_server import fhir_server_fixture
        fhir_server = pytest.fixture(scope="session")(fhir_server_fixture)
    """
    server = FhirTestServer()
    server.start(DEFAULT_TEST_TOKEN)
    try:
        yield server
    finally:
        server.stop()
