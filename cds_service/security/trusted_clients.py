"""The trusted-clients file: which CDS clients (EHRs) may call, and what each may do.

YAML (or JSON), one entry per JWT issuer:

    clients:
      - issuer: https://ehr.example.org          # the token's `iss`, exactly
        tenant: example-hospital                 # label stored with cards and feedback
        jwks_url: https://ehr.example.org/.well-known/jwks.json   # fetched and cached
        jku:                                     # other JWK Set URLs tokens may name
          - https://ehr.example.org/keys/2027.json
        jwks: {keys: [...]}                      # or the public keys inline
        fhir_servers:                            # `fhirServer` base URLs it may send
          - https://fhir.example.org/r4

At least one of `jwks`, `jwks_url` and `jku` is required. A token's `jku` header must be
`jwks_url` or one of `jku`. Key URLs must be https (http only for loopback hosts, for tests).
A mistake in the file stops start-up with a message that names the entry.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from cds_service.security.jwks import Jwk, JwksError, parse_jwk_set

FIELDS = frozenset({"issuer", "tenant", "jwks", "jwks_url", "jku", "fhir_servers", "note"})


class TrustedClientsError(ValueError):
    """The trusted-clients file is missing or wrong."""


@dataclass(frozen=True)
class TrustedClient:
    issuer: str
    tenant: str
    keys: Mapping[str, Jwk]  # inline keys by kid
    jwks_url: str | None
    jku_allowed: frozenset[str]  # URLs a token's jku header may name (includes jwks_url)
    fhir_servers: tuple[str, ...]


@dataclass(frozen=True)
class TrustedClients:
    by_issuer: Mapping[str, TrustedClient]
    source: str

    def get(self, issuer: Any) -> TrustedClient | None:
        return self.by_issuer.get(issuer) if isinstance(issuer, str) else None

    def __len__(self) -> int:
        return len(self.by_issuer)


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _key_url(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise TrustedClientsError(f"{where}: must be a URL")
    parts = urlsplit(value)
    if parts.scheme == "https" and parts.hostname:
        return value
    if parts.scheme == "http" and is_loopback_host(parts.hostname):
        return value
    raise TrustedClientsError(f"{where}: {value!r} must be an https URL (http: loopback only)")


def _base_url(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise TrustedClientsError(f"{where}: must be a URL")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
        raise TrustedClientsError(f"{where}: {value!r} is not an http(s) base URL")
    return value.rstrip("/")


def _strings(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise TrustedClientsError(f"{where}: must be a list")
    return value


def _client(entry: Any, index: int) -> TrustedClient:
    where = f"clients[{index}]"
    if not isinstance(entry, dict):
        raise TrustedClientsError(f"{where}: must be a mapping")
    unknown = set(entry) - FIELDS
    if unknown:
        raise TrustedClientsError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    issuer = entry.get("issuer")
    if not isinstance(issuer, str) or not issuer.strip() or len(issuer) > 255:
        raise TrustedClientsError(f"{where}.issuer: required, the token's iss (≤ 255 characters)")
    where = f"client {issuer!r}"
    tenant = entry.get("tenant")
    if not isinstance(tenant, str) or not tenant.strip() or len(tenant) > 128:
        raise TrustedClientsError(f"{where}: tenant is required (a label up to 128 characters)")
    keys: dict[str, Jwk] = {}
    if entry.get("jwks") is not None:
        try:
            keys = parse_jwk_set(entry["jwks"], f"{where} jwks")
        except JwksError as exc:
            raise TrustedClientsError(str(exc)) from None
        if not keys:
            raise TrustedClientsError(f"{where}: jwks has no usable public RSA or EC key")
    jwks_url = entry.get("jwks_url")
    if jwks_url is not None:
        jwks_url = _key_url(jwks_url, f"{where}.jwks_url")
    jku = {_key_url(u, f"{where}.jku") for u in _strings(entry.get("jku"), f"{where}.jku")}
    if jwks_url:
        jku.add(jwks_url)
    if not keys and not jku:
        raise TrustedClientsError(f"{where}: give its keys (jwks) or where to fetch them")
    servers = tuple(
        _base_url(u, f"{where}.fhir_servers")
        for u in _strings(entry.get("fhir_servers"), f"{where}.fhir_servers")
    )
    return TrustedClient(
        issuer=issuer,
        tenant=tenant,
        keys=keys,
        jwks_url=jwks_url,
        jku_allowed=frozenset(jku),
        fhir_servers=servers,
    )


def parse_trusted_clients(data: Any, source: str = "<data>") -> TrustedClients:
    if not isinstance(data, dict) or not isinstance(data.get("clients"), list):
        raise TrustedClientsError("expected a mapping with a `clients` list")
    by_issuer: dict[str, TrustedClient] = {}
    for index, entry in enumerate(data["clients"]):
        client = _client(entry, index)
        if client.issuer in by_issuer:
            raise TrustedClientsError(f"issuer {client.issuer!r} is listed twice")
        by_issuer[client.issuer] = client
    if not by_issuer:
        raise TrustedClientsError("no clients listed")
    return TrustedClients(by_issuer=by_issuer, source=source)


def load_trusted_clients(path: str | Path) -> TrustedClients:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise TrustedClientsError(f"cannot read trusted-clients file {path}: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise TrustedClientsError(f"trusted-clients file {path} is not valid YAML: {exc}") from None
    try:
        return parse_trusted_clients(data, str(path))
    except TrustedClientsError as exc:
        raise TrustedClientsError(f"trusted-clients file {path}: {exc}") from None
