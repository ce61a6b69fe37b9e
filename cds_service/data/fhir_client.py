"""HTTP GETs against the EHR's FHIR server, inside a time budget.

One `requests.Session` per worker process, with a pool of keep-alive connections per FHIR
server (scheme, host and port), created on first use in each process: a request to a server
already called reuses an open connection. A server named by an IP address is connected to
without a name lookup (under gevent every lookup goes through a resolver thread, a cost a burst
of calls on a server that never answers pays hundreds of times).

Per-call state (the server, the bearer token, the deadline) is passed to each request and never
stored here, so the token is gone when the hook call is. Nothing from the environment applies
(no proxy, .netrc or CA bundle variables) and no cookie is kept. Failures come back as a
`Failure` whose text is safe to show a clinician: no URL, no token, no patient identifier.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from enum import Enum
from http.cookiejar import DefaultCookiePolicy
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from cds_service.reasons import Reason

# urllib3 logs each request line (with the patient id in the query) at DEBUG: keep it quiet.
logging.getLogger("urllib3").setLevel(logging.WARNING)

MAX_SERVERS = 16  # pools kept per worker; the least recently used beyond are closed
HEADERS = {"Accept": "application/fhir+json", "User-Agent": "lsb-cds-service"}

RETRYABLE = (429, 503)
BACKOFF_S = 0.05  # before a retry when the server sends no Retry-After
MIN_REQUEST_S = 0.01  # not worth starting a request (or a retry wait) with less time left


class FailureKind(Enum):
    """Why a request to the EHR's FHIR server gave no usable answer: the value is the code of
    its words in cards/reasons.yaml."""

    TIMEOUT = "fhir-timeout"
    UNREACHABLE = "fhir-unreachable"
    TLS = "fhir-certificate"
    UNAUTHORIZED = "fhir-unauthorized"
    FORBIDDEN = "fhir-forbidden"
    THROTTLED = "fhir-throttled"
    SERVER_ERROR = "fhir-server-error"
    REJECTED = "fhir-rejected"
    REDIRECTED = "fhir-redirected"
    INVALID = "fhir-not-a-bundle"
    TOO_LARGE = "fhir-too-large"
    NOT_ALLOWED = "fhir-not-allowed"
    FOREIGN_LINK = "fhir-foreign-link"
    OTHER_PATIENT = "fhir-other-patient"
    NO_QUERY = "no-query"
    UNREADABLE = "fhir-unreadable"


@dataclass(frozen=True)
class Failure:
    kind: FailureKind
    status: int | None = None  # the HTTP status, when there was one

    @property
    def reason(self) -> Reason:
        if self.status is None:
            return Reason(self.kind.value)
        return Reason.of(self.kind.value, status=self.status)

    @property
    def sent_request(self) -> bool:
        """False when the service never asked the server (refused or impossible query)."""
        return self.kind not in (FailureKind.NOT_ALLOWED, FailureKind.NO_QUERY)


class Deadline:
    """The end of the time budget of one hook call's fetch, shared by all its requests."""

    def __init__(self, seconds: float, start: float | None = None) -> None:
        """`start`: when the budget began (time.monotonic()), if before now."""
        self.end = (time.monotonic() if start is None else start) + seconds

    def remaining(self) -> float:
        return max(0.0, self.end - time.monotonic())


@dataclass(frozen=True)
class ClientSettings:
    connect_timeout_s: float
    read_timeout_s: float
    max_retries: int
    max_response_bytes: int
    pool_size: int
    verify: bool | str  # True (system CAs via certifi) or a CA bundle path: never False


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date; None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class LiteralConnect:
    """A connection that dials an IP address directly: no getaddrinfo, so no resolver thread."""

    host: str
    port: int
    timeout: Any
    socket_options: Any

    def _new_conn(self) -> socket.socket:
        try:
            address = ipaddress.ip_address(self.host.strip("[]"))
        except ValueError:
            return super()._new_conn()  # type: ignore[misc]  # a name: urllib3 resolves it
        family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            for option in self.socket_options or ():
                sock.setsockopt(*option)
            sock.settimeout(self.timeout)
            sock.connect((str(address), self.port))
        except TimeoutError:
            sock.close()
            raise ConnectTimeoutError(self, "connect timed out") from None
        except OSError as exc:
            sock.close()
            raise NewConnectionError(self, f"connect failed: {type(exc).__name__}") from None
        return sock


class _HTTPConnection(LiteralConnect, HTTPConnection):
    pass


class _HTTPSConnection(LiteralConnect, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class _PoolsDialLiterals(HTTPAdapter):
    """requests' adapter, its pools dialling an IP address without a name lookup."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}


class FhirClient:
    def __init__(self, settings: ClientSettings) -> None:
        self.settings = settings
        self._session: requests.Session | None = None
        self._pid = 0
        self._lock = threading.Lock()

    def session(self) -> requests.Session:
        """Created on first use in each process: a worker forked from a preloaded app gets its
        own connections, never its parent's."""
        with self._lock:
            if self._session is None or self._pid != os.getpid():
                self._session = self._new_session()
                self._pid = os.getpid()
            return self._session

    def _new_session(self) -> requests.Session:
        session = requests.Session()
        # Only our settings count: no proxy, .netrc credentials or CA bundle from the environment.
        session.trust_env = False
        # No cookies: nothing a server sets may follow the service to another patient's call.
        session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        adapter = _PoolsDialLiterals(
            pool_connections=MAX_SERVERS, pool_maxsize=self.settings.pool_size, max_retries=0
        )
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        session.verify = self.settings.verify
        session.headers.update(HEADERS)
        return session

    def get_json(self, url: str, token: str | None, deadline: Deadline) -> dict[str, Any] | Failure:
        """GETs a FHIR resource; retries 429 and 503 while the Retry-After fits the budget."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        attempt = 0
        while True:
            remaining = deadline.remaining()
            if remaining < MIN_REQUEST_S:
                return Failure(FailureKind.TIMEOUT)
            timeout = (
                min(self.settings.connect_timeout_s, remaining),
                min(self.settings.read_timeout_s, remaining),
            )
            try:
                response = self.session().get(
                    url, headers=headers, timeout=timeout, stream=True, allow_redirects=False
                )
            except requests.Timeout:
                return Failure(FailureKind.TIMEOUT)
            except requests.exceptions.SSLError:
                return Failure(FailureKind.TLS)
            except requests.RequestException:  # refused, reset, DNS: never quote the message
                return Failure(FailureKind.UNREACHABLE)
            with response:
                status = response.status_code
                if status in RETRYABLE and attempt < self.settings.max_retries:
                    wait = retry_after_seconds(response.headers.get("Retry-After"))
                    wait = BACKOFF_S * (attempt + 1) if wait is None else wait
                    if wait + MIN_REQUEST_S < deadline.remaining():
                        attempt += 1
                        response.close()
                        time.sleep(wait)
                        continue
                if status != 200:
                    return status_failure(status)
                return self._read_json(response, deadline)

    def _read_json(
        self, response: requests.Response, deadline: Deadline
    ) -> dict[str, Any] | Failure:
        """Reads the body in chunks so neither a huge nor a trickling answer outlasts limits."""
        limit = self.settings.max_response_bytes
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            return Failure(FailureKind.TOO_LARGE)
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_content(chunk_size=64 * 1024):
                size += len(chunk)
                if size > limit:
                    return Failure(FailureKind.TOO_LARGE)
                if deadline.remaining() <= 0:
                    return Failure(FailureKind.TIMEOUT)
                chunks.append(chunk)
        except requests.RequestException:
            kind = FailureKind.TIMEOUT if deadline.remaining() <= 0 else FailureKind.UNREACHABLE
            return Failure(kind)
        try:
            body = json.loads(b"".join(chunks))
        except (ValueError, RecursionError):
            return Failure(FailureKind.INVALID)
        return body if isinstance(body, dict) else Failure(FailureKind.INVALID)


def status_failure(status: int) -> Failure:
    if status == 401:
        return Failure(FailureKind.UNAUTHORIZED, status)
    if status == 403:
        return Failure(FailureKind.FORBIDDEN, status)
    if status == 429:
        return Failure(FailureKind.THROTTLED, status)
    if 300 <= status < 400:
        return Failure(FailureKind.REDIRECTED, status)
    if status >= 500:
        return Failure(FailureKind.SERVER_ERROR, status)
    return Failure(FailureKind.REJECTED, status)
