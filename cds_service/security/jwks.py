"""JSON Web Key Sets: parsing them, and fetching a client's set from its URL.

Only public keys for asymmetric signatures are kept (RSA and EC; never `oct`, the shared
secrets of HMAC). A set is fetched with a timeout, a size cap and no redirects, kept for a
while, and fetched again when a token names a `kid` it lacks (a client rotated its keys) — but
not more often than `min_refresh` seconds, so tokens with made-up `kid`s cannot make the
service hammer the client's server. A set that cannot be fetched again stays in use as it was.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests

log = logging.getLogger(__name__)

PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
KEY_TYPES = frozenset({"RSA", "EC"})
MAX_JWKS_BYTES = 512 * 1024

Jwk = Mapping[str, Any]


class JwksError(Exception):
    """A JWK Set is malformed or could not be fetched."""


def parse_jwk_set(data: Any, where: str) -> dict[str, Jwk]:
    """The usable public signing keys of a JWK Set, by `kid`. Unusable keys are skipped."""
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise JwksError(f"{where}: not a JWK Set (an object with a `keys` array)")
    keys: dict[str, Jwk] = {}
    for index, jwk in enumerate(data["keys"]):
        problem = _unusable(jwk)
        if problem:
            log.warning("JWK Set %s: key %d skipped: %s", where, index, problem)
            continue
        keys[jwk["kid"]] = dict(jwk)
    return keys


def _unusable(jwk: Any) -> str | None:
    if not isinstance(jwk, dict):
        return "not an object"
    if jwk.get("kty") not in KEY_TYPES:
        return f"key type {str(jwk.get('kty'))[:16]!r} is not RSA or EC"
    if PRIVATE_MEMBERS & jwk.keys():
        return "it holds private key material (the client must publish public keys only)"
    if not isinstance(jwk.get("kid"), str) or not jwk["kid"]:
        return "no kid"
    if jwk.get("use", "sig") != "sig":
        return "its use is not sig"
    return None


@dataclass
class _Entry:
    keys: dict[str, Jwk]
    fetched_at: float  # monotonic; 0 when never fetched successfully
    attempted_at: float  # monotonic, successful or not


class JwksFetcher:
    """Per-process cache of JWK Sets fetched from URLs."""

    def __init__(
        self,
        timeout: float = 3.0,
        ttl: float = 3600.0,
        min_refresh: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.timeout = timeout
        self.ttl = ttl
        self.min_refresh = min_refresh
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        self._session = requests.Session()

    def key(self, url: str, kid: str) -> Jwk | None:
        with self._lock:
            entry = self._entries.get(url)
            now = self._clock()
            fresh = entry is not None and entry.fetched_at and now - entry.fetched_at < self.ttl
            if entry is not None and fresh and kid in entry.keys:
                return entry.keys[kid]
            if entry is not None and now - entry.attempted_at < self.min_refresh:
                return entry.keys.get(kid)  # asked again too soon: no new fetch
            entry = self._refresh(url, entry, now)
            return entry.keys.get(kid)

    def _refresh(self, url: str, entry: _Entry | None, now: float) -> _Entry:
        try:
            keys = parse_jwk_set(self._fetch(url), url)
            entry = _Entry(keys=keys, fetched_at=now, attempted_at=now)
            log.info("JWK Set fetched from %s: %d key(s)", url, len(keys))
        except JwksError as exc:
            log.warning("JWK Set %s could not be fetched: %s", url, exc)
            entry = _Entry(
                keys=entry.keys if entry else {},
                fetched_at=entry.fetched_at if entry else 0.0,
                attempted_at=now,
            )
        self._entries[url] = entry
        return entry

    def _fetch(self, url: str) -> Any:
        try:
            with self._session.get(
                url,
                timeout=self.timeout,
                allow_redirects=False,  # the allowlisted URL, not wherever it points
                stream=True,
                headers={"Accept": "application/json, application/jwk-set+json"},
            ) as response:
                if response.status_code != 200:
                    raise JwksError(f"HTTP {response.status_code}")
                body = b""
                for chunk in response.iter_content(64 * 1024):
                    body += chunk
                    if len(body) > MAX_JWKS_BYTES:
                        raise JwksError(f"larger than {MAX_JWKS_BYTES} bytes")
        except requests.RequestException as exc:
            raise JwksError(type(exc).__name__) from None
        try:
            return json.loads(body)
        except ValueError:
            raise JwksError("not JSON") from None
