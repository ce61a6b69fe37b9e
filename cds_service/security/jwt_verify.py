"""Verifies the JWT a CDS client sends with every call (CDS Hooks 2.0 "Trusting CDS Clients").

Checks, in order: a well-formed compact JWT; header `typ` JWT, a `kid`, and an asymmetric
`alg` (RS, PS or ES; never `none`, never HMAC); `iss` on the allowlist; `jku`, when present, on
that issuer's allowlist; a key with that `kid` from the issuer's JWK Set whose type fits the
`alg`; the signature; `aud` equal to the URL of the endpoint called; `exp`, `iat` (and `nbf`)
within a small clock skew, and `exp` not too far ahead; and finally a `jti` never seen before.

A failure raises `AuthFailure` with a reason code, a general message for the caller and a
precise detail for the log. Neither ever holds the token.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jwt
from jwt.exceptions import (
    ExpiredSignatureError,
    ImmatureSignatureError,
    InvalidAudienceError,
    InvalidIssuedAtError,
    InvalidIssuerError,
    InvalidSignatureError,
    MissingRequiredClaimError,
    PyJWTError,
)

from cds_service.security.jwks import Jwk, JwksFetcher
from cds_service.security.replay import ReplayGuard
from cds_service.security.trusted_clients import TrustedClient, TrustedClients

RSA_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
EC_CURVES = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
ALLOWED_ALGORITHMS = RSA_ALGORITHMS | EC_CURVES.keys()
MIN_RSA_BITS = 2048
MAX_TOKEN_CHARS = 16 * 1024
REQUIRED_CLAIMS = ["iss", "aud", "exp", "iat", "jti"]

# What the caller is told, by reason: general, never the token, never which check came close.
PUBLIC_MESSAGES = {
    "missing": "A bearer token is required: send Authorization: Bearer <JWT> signed by a "
    "trusted CDS client.",
    "malformed": "The bearer token is not a well-formed signed JWT.",
    "header": "The token header is invalid: typ must be JWT and kid is required.",
    "algorithm": "The token's signing algorithm is not accepted: use an asymmetric algorithm "
    "(RS, PS or ES, e.g. ES384 or RS384).",
    "issuer": "The token's issuer is not a trusted CDS client.",
    "jku": "The token's JWK Set URL (jku) is not trusted for its issuer.",
    "key": "No trusted key matches the token's kid.",
    "signature": "The token's signature is invalid.",
    "time": "The token has expired, is not yet valid or is valid for too long.",
    "audience": "The token was issued for another endpoint (aud must be this endpoint's URL).",
    "claims": "The token lacks a required claim or has an invalid one (iss, aud, exp, iat, "
    "jti).",
    "replay": "The token has already been used: send a new token (jti) with every call.",
    "loopback": "Unsigned calls are accepted only from this machine in development mode.",
}


class AuthFailure(Exception):
    def __init__(self, reason: str, detail: str, issuer: str | None = None) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.issuer = issuer

    @property
    def public_message(self) -> str:
        return PUBLIC_MESSAGES[self.reason]


@dataclass(frozen=True)
class VerifiedToken:
    issuer: str
    tenant: str  # the label from the trusted-clients file
    token_tenant: str | None  # the token's own optional `tenant` claim
    kid: str
    jti: str
    expires_at: int


def loggable(value: Any, limit: int = 80) -> str:
    """An attacker-chosen value fit for a log line: repr'd (no newlines) and cut."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class TokenVerifier:
    def __init__(
        self,
        clients: TrustedClients,
        fetcher: JwksFetcher,
        replay: ReplayGuard,
        leeway: float = 30.0,
        max_lifetime: float = 900.0,
    ) -> None:
        self.clients = clients
        self.fetcher = fetcher
        self.replay = replay
        self.leeway = leeway
        self.max_lifetime = max_lifetime

    def verify(self, token: str, audiences: Sequence[str]) -> VerifiedToken:
        if len(token) > MAX_TOKEN_CHARS:
            raise AuthFailure("malformed", f"token of {len(token)} characters")
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except PyJWTError as exc:
            raise AuthFailure("malformed", f"not a decodable JWT ({type(exc).__name__})") from None
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in ALLOWED_ALGORITHMS:
            raise AuthFailure("algorithm", f"alg {loggable(alg)} is not an allowed algorithm")
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.upper() != "JWT":
            raise AuthFailure("header", f"typ {loggable(typ)} is not JWT")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid or len(kid) > 256:
            raise AuthFailure("header", f"kid {loggable(kid)} missing or invalid")
        issuer = unverified.get("iss")
        client = self.clients.get(issuer)
        if client is None:
            raise AuthFailure("issuer", f"iss {loggable(issuer)} is not a trusted client")
        jwk = self._key(client, header, kid)
        payload = self._decode(token, jwk, alg, client, audiences)
        return self._accept(payload, client, kid)

    def _key(self, client: TrustedClient, header: dict[str, Any], kid: str) -> Jwk:
        where = f"iss {loggable(client.issuer)} kid {loggable(kid)}"
        if "jku" in header:
            jku = header["jku"]
            if not isinstance(jku, str) or jku not in client.jku_allowed:
                raise AuthFailure("jku", f"{where}: jku {loggable(jku)} not allowed", client.issuer)
            jwk = self.fetcher.key(jku, kid)
            if jwk is None:
                raise AuthFailure("key", f"{where}: no such key in {jku}", client.issuer)
            return jwk
        jwk = client.keys.get(kid)
        if jwk is None and client.jwks_url:
            jwk = self.fetcher.key(client.jwks_url, kid)
        if jwk is None:
            raise AuthFailure("key", f"{where}: no such key in the issuer's JWK Set", client.issuer)
        return jwk

    def _decode(
        self,
        token: str,
        jwk: Jwk,
        alg: str,
        client: TrustedClient,
        audiences: Sequence[str],
    ) -> dict[str, Any]:
        where = f"iss {loggable(client.issuer)} kid {loggable(jwk.get('kid'))}"
        problem = _key_misfit(jwk, alg)
        if problem:
            raise AuthFailure("key", f"{where}: {problem}", client.issuer)
        try:
            key = jwt.PyJWK(dict(jwk), algorithm=alg)
        except PyJWTError as exc:
            raise AuthFailure("key", f"{where}: unusable key ({exc})", client.issuer) from None
        if alg in RSA_ALGORITHMS and key.key.key_size < MIN_RSA_BITS:
            raise AuthFailure("key", f"{where}: RSA key under {MIN_RSA_BITS} bits", client.issuer)
        try:
            return jwt.decode(
                token,
                key=key,
                algorithms=[alg],
                audience=list(audiences),
                issuer=client.issuer,
                leeway=self.leeway,
                options={"require": REQUIRED_CLAIMS, "strict_aud": False},
            )
        except InvalidSignatureError:
            raise AuthFailure(
                "signature", f"{where}: signature does not verify", client.issuer
            ) from None
        except ExpiredSignatureError:
            raise AuthFailure("time", f"{where}: expired", client.issuer) from None
        except ImmatureSignatureError as exc:
            raise AuthFailure("time", f"{where}: {exc}", client.issuer) from None
        except InvalidAudienceError:
            raise AuthFailure(
                "audience", f"{where}: aud is not {loggable(audiences[0], 200)}", client.issuer
            ) from None
        except (MissingRequiredClaimError, InvalidIssuedAtError, InvalidIssuerError) as exc:
            raise AuthFailure("claims", f"{where}: {exc}", client.issuer) from None
        except PyJWTError as exc:
            raise AuthFailure(
                "malformed", f"{where}: {type(exc).__name__}: {exc}", client.issuer
            ) from None

    def _accept(self, payload: dict[str, Any], client: TrustedClient, kid: str) -> VerifiedToken:
        where = f"iss {loggable(client.issuer)} kid {loggable(kid)}"
        now = time.time()
        try:
            exp = int(payload["exp"])
        except (TypeError, ValueError, OverflowError):
            raise AuthFailure("claims", f"{where}: exp is not a number", client.issuer) from None
        if exp - now > self.max_lifetime + self.leeway:
            raise AuthFailure(
                "time",
                f"{where}: exp {exp - now:.0f} s ahead, over the {self.max_lifetime:.0f} s allowed",
                client.issuer,
            )
        jti = payload["jti"]
        if not isinstance(jti, str) or not jti or len(jti) > 255:
            raise AuthFailure(
                "claims", f"{where}: jti must be a string of 1-255 characters", client.issuer
            )
        token_tenant = payload.get("tenant")
        if token_tenant is not None and not (
            isinstance(token_tenant, str) and len(token_tenant) <= 255
        ):
            raise AuthFailure("claims", f"{where}: tenant must be a string", client.issuer)
        if not self.replay.first_use(client.issuer, jti, exp + self.leeway):
            raise AuthFailure("replay", f"{where}: jti {loggable(jti)} seen before", client.issuer)
        return VerifiedToken(
            issuer=client.issuer,
            tenant=client.tenant,
            token_tenant=token_tenant,
            kid=kid,
            jti=jti,
            expires_at=exp,
        )


def _key_misfit(jwk: Jwk, alg: str) -> str | None:
    """Why this key cannot verify this algorithm, or None."""
    declared = jwk.get("alg")
    if declared is not None and declared != alg:
        return f"the key is for {loggable(declared)}, the token says {alg}"
    if alg in RSA_ALGORITHMS:
        return None if jwk.get("kty") == "RSA" else f"{alg} needs an RSA key"
    if jwk.get("kty") != "EC" or jwk.get("crv") != EC_CURVES[alg]:
        return f"{alg} needs an EC key on {EC_CURVES[alg]}"
    return None
