"""Signed tokens for tests, as a CDS client (EHR) makes them (CDS Hooks "Trusting CDS Clients").

    issuer = TestIssuer()                         # an ES384 key pair, generated once per session
    headers = issuer.auth(PUBLIC_URL + "/cds-services")      # {"Authorization": "Bearer ..."}
    write_trusted_clients(tmp_path / "trusted.yaml", issuer.entry())

`sign(aud, **claims)` makes a fresh token (new jti) valid for five minutes; a claim given as
None is left out; `headers=` adds or replaces header fields (None removes one).
"""

from __future__ import annotations

import base64
import functools
import json
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
import yaml
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ISSUER = "https://ehr.test.invalid/issuer"
TENANT = "test-hospital"
PUBLIC_URL = "http://cds.test.invalid"  # CDS_PUBLIC_URL in signed tests: `aud` is built on it
FHIR_SERVER = "https://fhir.test.invalid/r4"
EC_CURVES = {"ES256": ec.SECP256R1, "ES384": ec.SECP384R1, "ES512": ec.SECP521R1}


@functools.cache
def private_key(alg: str, bits: int = 2048, slot: int = 0) -> Any:
    """One key per (alg family, size, slot) per session: RSA generation is slow."""
    if alg in EC_CURVES:
        return ec.generate_private_key(EC_CURVES[alg]())
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def public_jwk(key: Any, kid: str, alg: str | None) -> dict[str, Any]:
    algorithm = jwt.algorithms.ECAlgorithm if isinstance(key, ec.EllipticCurvePrivateKey) else (
        jwt.algorithms.RSAAlgorithm
    )
    jwk = json.loads(algorithm.to_jwk(key.public_key()))
    jwk.update({"kid": kid, "use": "sig"})
    if alg:
        jwk["alg"] = alg
    return jwk


class TestIssuer:
    """A CDS client with a key pair; `issuer` is its `iss`."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    def __init__(
        self,
        issuer: str = ISSUER,
        alg: str = "ES384",
        kid: str = "test-key-1",
        bits: int = 2048,
        slot: int = 0,
        jwk_alg: bool = True,
    ) -> None:
        self.issuer = issuer
        self.alg = alg
        self.kid = kid
        self.key = private_key(alg if alg in EC_CURVES else "RSA", bits, slot)
        self.jwk_alg = jwk_alg

    def jwk(self) -> dict[str, Any]:
        return public_jwk(self.key, self.kid, self.alg if self.jwk_alg else None)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.jwk()]}

    def claims(self, aud: str | list[str] | None, lifetime: int = 300) -> dict[str, Any]:
        now = int(time.time())
        return {
            "iss": self.issuer,
            "aud": aud,
            "iat": now,
            "exp": now + lifetime,
            "jti": str(uuid.uuid4()),
        }

    def sign(
        self,
        aud: str | list[str] | None,
        *,
        headers: dict[str, Any] | None = None,
        lifetime: int = 300,
        **claims: Any,
    ) -> str:
        payload = {**self.claims(aud, lifetime), **claims}
        payload = {k: v for k, v in payload.items() if v is not None}
        header = {"alg": self.alg, "typ": "JWT", "kid": self.kid, **(headers or {})}
        header = {k: v for k, v in header.items() if v is not None}
        # Built by hand so a test can send any header (no kid, another typ) correctly signed.
        signing_input = f"{encode_part(header)}.{encode_part(payload)}"
        algorithm = jwt.algorithms.get_default_algorithms()[self.alg]
        signature = algorithm.sign(signing_input.encode(), self.key)
        return f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"

    def auth(self, aud: str | list[str], **kwargs: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.sign(aud, **kwargs)}"}

    def entry(
        self,
        tenant: str = TENANT,
        inline: bool = True,
        jwks_url: str | None = None,
        jku: tuple[str, ...] = (),
        fhir_servers: tuple[str, ...] = (FHIR_SERVER,),
    ) -> dict[str, Any]:
        """This client's entry in a trusted-clients file."""
        entry: dict[str, Any] = {"issuer": self.issuer, "tenant": tenant}
        if inline:
            entry["jwks"] = self.jwks()
        if jwks_url:
            entry["jwks_url"] = jwks_url
        if jku:
            entry["jku"] = list(jku)
        entry["fhir_servers"] = list(fhir_servers)
        return entry


def encode_part(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_part(part: str) -> dict[str, Any]:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def write_trusted_clients(path: Path, *entries: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump({"clients": list(entries)}, sort_keys=False), encoding="utf-8")
    return path
