"""Test tokens for integrators: a JWT signed as a CDS client (an EHR) would sign it, and the
public JWK a trusted-clients file takes for that key.

For replaying fixtures against a production-mode instance and for checking a trusted-clients
entry; an EHR signs its own tokens. The private key never leaves the file it is read from.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

# The algorithm for a key: what the service accepts (RS/PS/ES, see security/jwt_verify.py);
# ES by curve, RS384 for RSA (the CDS Hooks examples' choice).
EC_ALGORITHMS = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}
RSA_ALGORITHM = "RS384"
LIFETIME_S = 300  # CDS Hooks asks for a short-lived token; the service allows up to 900 s


class KeyFileError(ValueError):
    """The key file cannot be read as a PEM key the service could verify."""


def load_key(path: str | Path) -> Any:
    """A private key (to sign) or a public key (for its JWK) from a PEM file."""
    data = Path(path).read_bytes()
    try:
        return serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        pass
    try:
        return serialization.load_pem_public_key(data)
    except ValueError:
        raise KeyFileError(f"{path}: not an unencrypted PEM RSA or EC key") from None


def _public(key: Any) -> Any:
    return key.public_key() if hasattr(key, "public_key") else key


def algorithm_for(key: Any) -> str:
    public = _public(key)
    if isinstance(public, ec.EllipticCurvePublicKey):
        try:
            return EC_ALGORITHMS[public.curve.name]
        except KeyError:
            curve = public.curve.name
            raise KeyFileError(f"EC curve {curve} is not P-256, P-384 or P-521") from None
    if isinstance(public, rsa.RSAPublicKey):
        return RSA_ALGORITHM
    raise KeyFileError("only RSA and EC keys sign tokens the service accepts")


def public_jwk(key: Any, kid: str | None = None) -> dict[str, Any]:
    """The public half as a JWK with `kid`, `alg` and `use`: an entry of a trusted-clients
    file's `jwks.keys` (or of the JWK Set an EHR publishes)."""
    alg = algorithm_for(key)
    family = jwt.algorithms.ECAlgorithm if alg.startswith("ES") else jwt.algorithms.RSAAlgorithm
    jwk: dict[str, Any] = family.to_jwk(_public(key), as_dict=True)
    jwk.pop("key_ops", None)
    return {**jwk, "kid": kid or thumbprint(jwk), "alg": alg, "use": "sig"}


def thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 thumbprint (SHA-256): the default `kid`, the same for `token` and `jwk`."""
    members = ("crv", "kty", "x", "y") if jwk["kty"] == "EC" else ("e", "kty", "n")
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def audiences(public_url: str) -> list[str]:
    """Every URL a token's `aud` may name on this service: discovery, each hook service and
    its feedback. One token then serves any call (the `jti` still makes it single-use)."""
    from cds_service.services import ALL  # the registry: a service added there is covered

    base = public_url.rstrip("/") + "/cds-services"
    return [base] + [f"{base}/{s.id}{tail}" for s in ALL for tail in ("", "/feedback")]


def mint(
    key: Any,
    issuer: str,
    audience: str | Sequence[str],
    kid: str | None = None,
    lifetime: int = LIFETIME_S,
) -> str:
    """A signed JWT as CDS Hooks 2.0 asks: iss, aud, iat, exp, a fresh jti; typ JWT and kid."""
    if not hasattr(key, "sign"):
        raise KeyFileError("a public key cannot sign: give the private key")
    now = int(time.time())
    claims = {
        "iss": issuer,
        "aud": audience if isinstance(audience, str) else list(audience),
        "iat": now,
        "exp": now + lifetime,
        "jti": str(uuid.uuid4()),
    }
    headers = {"typ": "JWT", "kid": kid or public_jwk(key)["kid"]}
    return jwt.encode(claims, key, algorithm=algorithm_for(key), headers=headers)
