"""Who may call (CDS Hooks 2.0 "Trusting CDS Clients"), tried through the HTTP API.

Every bad caller gets 401 with an OperationOutcome and stores nothing: no card, no feedback,
no token id. Real keys are generated with `cryptography`; the jku tests fetch JWK Sets from a
real HTTP server on loopback.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from flask import Flask, g
from flask.testing import FlaskClient
from jwks_server import JwksServer
from jwt_helpers import (
    FHIR_SERVER,
    PUBLIC_URL,
    TestIssuer,
    decode_part,
    encode_part,
    write_trusted_clients,
)
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cds_service.config import ConfigError
from cds_service.feedback.models import CardFeedback, IssuedCard
from cds_service.security import allowed_fhir_servers, fhir_server_allowed
from cds_service.security.replay import SeenToken
from cds_service.security.trusted_clients import load_trusted_clients

from fixture_files import fixture_request

DISCOVERY = "/cds-services"
SELECT = "/cds-services/lsb-order-select"
FEEDBACK = SELECT + "/feedback"


def url(path: str) -> str:
    return PUBLIC_URL + path


def rows(app: Flask) -> dict[str, int]:
    """How many rows each table holds: a refused call must leave all three unchanged."""
    with Session(app.extensions["cds_db"]) as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (IssuedCard, CardFeedback, SeenToken)
        }


def refused(response: Any) -> str:
    """Asserts a 401 OperationOutcome with a Bearer challenge; returns its diagnostics."""
    assert response.status_code == 401, response.get_data(as_text=True)
    body = response.get_json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["code"] == "login"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    return str(body["issue"][0]["diagnostics"])


def call(client: FlaskClient, token: str | None, path: str = SELECT) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    if path == SELECT:
        return client.post(path, json=fixture_request("01-crps-left-apixaban"), headers=headers)
    return client.get(path, headers=headers)


# --- the good caller ----------------------------------------------------------------------


def test_signed_calls_pass_and_record_the_caller(secure_app: Flask, issuer: TestIssuer) -> None:
    client = secure_app.test_client()
    assert client.get(DISCOVERY, headers=issuer.auth(url(DISCOVERY))).status_code == 200
    response = call(client, issuer.sign(url(SELECT)))
    assert response.status_code == 200
    cards = response.get_json()["cards"]
    assert cards
    with Session(secure_app.extensions["cds_db"]) as session:
        issued = session.scalars(select(IssuedCard)).all()
    assert {c.uuid for c in issued} == {c["uuid"] for c in cards}
    assert {(c.issuer, c.tenant) for c in issued} == {(issuer.issuer, "test-hospital")}


@pytest.mark.parametrize("alg", ["ES256", "ES384", "ES512", "RS256", "RS384", "PS256", "PS384"])
def test_every_asymmetric_algorithm_family_is_accepted(
    make_app: Callable[..., Flask], tmp_path: Path, alg: str
) -> None:
    client_key = TestIssuer(alg=alg, kid=f"key-{alg}", jwk_alg=alg.startswith("ES"))
    trusted = write_trusted_clients(tmp_path / "t.yaml", client_key.entry())
    app = make_app(trusted_clients=str(trusted))
    response = app.test_client().get(DISCOVERY, headers=client_key.auth(url(DISCOVERY)))
    assert response.status_code == 200


def test_aud_may_be_an_array_naming_this_endpoint(secure_app: Flask, issuer: TestIssuer) -> None:
    token = issuer.sign([url(DISCOVERY), "https://elsewhere.invalid/cds-services"])
    assert call(secure_app.test_client(), token, DISCOVERY).status_code == 200


def test_tokens_from_the_jwks_url_are_fetched_once_then_cached(
    make_app: Callable[..., Flask], tmp_path: Path, issuer: TestIssuer
) -> None:
    with JwksServer() as server:
        jwks_url = server.publish("/ehr/jwks.json", issuer.jwks())
        trusted = write_trusted_clients(
            tmp_path / "t.yaml", issuer.entry(inline=False, jwks_url=jwks_url)
        )
        app = make_app(trusted_clients=str(trusted))
        client = app.test_client()
        # Named in the jku header, and not named (the issuer's jwks_url is used): both verify.
        token = issuer.sign(url(DISCOVERY), headers={"jku": jwks_url})
        assert call(client, token, DISCOVERY).status_code == 200
        for _ in range(3):
            assert call(client, issuer.sign(url(DISCOVERY)), DISCOVERY).status_code == 200
        assert server.hits["/ehr/jwks.json"] == 1


def test_a_rotated_key_is_fetched_when_its_kid_is_new(
    make_app: Callable[..., Flask], tmp_path: Path, issuer: TestIssuer
) -> None:
    rotated = TestIssuer(kid="test-key-2", slot=1)
    with JwksServer() as server:
        jwks_url = server.publish("/jwks.json", issuer.jwks())
        trusted = write_trusted_clients(
            tmp_path / "t.yaml", issuer.entry(inline=False, jwks_url=jwks_url)
        )
        app = make_app(trusted_clients=str(trusted))
        client = app.test_client()
        assert call(client, issuer.sign(url(DISCOVERY)), DISCOVERY).status_code == 200
        server.publish("/jwks.json", {"keys": [issuer.jwk(), rotated.jwk()]})
        # A new kid: refetched (after the minimum interval; the first fetch was just now, so
        # move the fetcher's clock on rather than sleep).
        fetcher = app.extensions["cds_security"].verifier.fetcher
        entry = fetcher._entries[jwks_url]
        entry.attempted_at -= fetcher.min_refresh
        assert call(client, rotated.sign(url(DISCOVERY)), DISCOVERY).status_code == 200
        assert server.hits["/jwks.json"] == 2


def test_unknown_kids_do_not_make_the_service_hammer_the_jwks_url(
    make_app: Callable[..., Flask], tmp_path: Path, issuer: TestIssuer
) -> None:
    with JwksServer() as server:
        jwks_url = server.publish("/jwks.json", issuer.jwks())
        trusted = write_trusted_clients(
            tmp_path / "t.yaml", issuer.entry(inline=False, jwks_url=jwks_url)
        )
        app = make_app(trusted_clients=str(trusted))
        client = app.test_client()
        assert call(client, issuer.sign(url(DISCOVERY)), DISCOVERY).status_code == 200
        for n in range(5):
            token = issuer.sign(url(DISCOVERY), headers={"kid": f"made-up-{n}"})
            refused(call(client, token, DISCOVERY))
        assert server.hits["/jwks.json"] == 1


# --- bad callers ----------------------------------------------------------------------------


def hs256(payload: dict[str, Any], secret: bytes, kid: str) -> str:
    """An HMAC-signed token made by hand (PyJWT refuses a PEM key as an HMAC secret)."""
    signing_input = f"{encode_part({'alg': 'HS256', 'typ': 'JWT', 'kid': kid})}." + encode_part(
        payload
    )
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


def tampered(token: str, **changes: Any) -> str:
    head, payload, signature = token.split(".")
    return f"{head}.{encode_part({**decode_part(payload), **changes})}.{signature}"


def public_pem(issuer: TestIssuer) -> bytes:
    return issuer.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


Attack = Callable[[TestIssuer], str | None]

# name: (the reason the log must give, how the attacker makes the token)
ATTACKS: dict[str, tuple[str, Attack]] = {
    "no token": ("missing", lambda i: None),
    "not a JWT": ("malformed", lambda i: "not-a-jwt"),
    "forged: another key, same kid": ("signature", lambda i: TestIssuer(slot=1).sign(url(SELECT))),
    "tampered payload": (
        "signature",
        lambda i: tampered(i.sign(url(SELECT)), tenant="other", exp=4_000_000_000),
    ),
    "expired": ("time", lambda i: i.sign(url(SELECT), iat=1_700_000_000, exp=1_700_000_300)),
    "not yet valid (iat ahead)": ("time", lambda i: i.sign(url(SELECT), iat=4_000_000_000)),
    "not yet valid (nbf ahead)": ("time", lambda i: i.sign(url(SELECT), nbf=4_000_000_000)),
    "valid for too long": ("time", lambda i: i.sign(url(SELECT), lifetime=30 * 24 * 3600)),
    "another endpoint's audience": ("audience", lambda i: i.sign(url(DISCOVERY))),
    "another host's audience": (
        "audience",
        lambda i: i.sign("https://other-cds.invalid" + SELECT),
    ),
    "unknown issuer": (
        "issuer",
        lambda i: TestIssuer(issuer="https://evil.invalid", slot=1).sign(url(SELECT)),
    ),
    "alg none": (
        "algorithm",
        lambda i: jwt.encode(i.claims(url(SELECT)), None, algorithm="none", headers={"kid": i.kid}),
    ),
    "HMAC with a guessed secret": (
        "algorithm",
        lambda i: hs256(i.claims(url(SELECT)), b"secret", i.kid),
    ),
    "HMAC keyed with the public key (alg confusion)": (
        "algorithm",
        lambda i: hs256(i.claims(url(SELECT)), public_pem(i), i.kid),
    ),
    "RS256 claimed for the EC key's kid": (
        "key",
        lambda i: TestIssuer(alg="RS256", kid=i.kid).sign(url(SELECT)),
    ),
    "typ not JWT": ("header", lambda i: i.sign(url(SELECT), headers={"typ": "at+jwt"})),
    "no kid": ("header", lambda i: i.sign(url(SELECT), headers={"kid": None})),
    "no jti": ("claims", lambda i: i.sign(url(SELECT), jti=None)),
    "no exp": ("claims", lambda i: i.sign(url(SELECT), exp=None)),
    "no aud": ("claims", lambda i: i.sign(None)),
    "jku off the allowlist": (
        "jku",
        lambda i: i.sign(url(SELECT), headers={"jku": "http://127.0.0.1:9/attacker-jwks.json"}),
    ),
    "oversized token": ("malformed", lambda i: i.sign(url(SELECT), pad="x" * 20_000)),
}


@pytest.mark.parametrize("attack", ATTACKS)
def test_bad_callers_get_401_and_store_nothing(
    secure_app: Flask, issuer: TestIssuer, attack: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = secure_app.test_client()
    before = rows(secure_app)
    reason, make_token = ATTACKS[attack]
    token = make_token(issuer)
    with caplog.at_level(logging.INFO):
        refused(call(client, token))
    assert rows(secure_app) == before
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert f"call refused: reason={reason}:" in logged
    if token:
        for part in filter(None, token.split(".")):
            assert part not in logged, "a token (or a part of one) reached the log"


def test_oversized_bodies_are_refused_and_unsigned_ones_are_not_even_read(
    make_app: Callable[..., Flask], trusted_file: Path, issuer: TestIssuer
) -> None:
    app = make_app(trusted_clients=str(trusted_file), max_body_bytes=64 * 1024)
    client = app.test_client()
    body = b'{"hook": "order-select", "pad": "' + b"x" * 100_000 + b'"}'
    response = client.post(SELECT, data=body, content_type="application/json")
    refused(response)  # no token: 401 before the body is read
    response = client.post(
        SELECT, data=body, content_type="application/json", headers=issuer.auth(url(SELECT))
    )
    assert response.status_code == 413
    assert response.get_json()["resourceType"] == "OperationOutcome"
    assert rows(app)["issued_card"] == 0


def test_a_replayed_token_is_refused(secure_app: Flask, issuer: TestIssuer) -> None:
    client = secure_app.test_client()
    token = issuer.sign(url(SELECT))
    assert call(client, token).status_code == 200
    before = rows(secure_app)
    assert "already been used" in refused(call(client, token))
    assert rows(secure_app) == before


def test_a_replay_to_another_worker_is_refused(
    make_app: Callable[..., Flask], trusted_file: Path, issuer: TestIssuer, database_url: str
) -> None:
    """Two apps on one database stand for two gunicorn workers (or hosts)."""
    first = make_app(trusted_clients=str(trusted_file), database_url=database_url)
    second = make_app(trusted_clients=str(trusted_file), database_url=database_url)
    token = issuer.sign(url(SELECT))
    assert call(first.test_client(), token).status_code == 200
    before = rows(second)
    refused(call(second.test_client(), token))
    assert rows(second) == before


def test_an_attacker_jku_is_never_fetched(
    make_app: Callable[..., Flask], tmp_path: Path, issuer: TestIssuer
) -> None:
    attacker = TestIssuer(kid=issuer.kid, slot=1)
    with JwksServer() as good, JwksServer() as evil:
        jwks_url = good.publish("/jwks.json", issuer.jwks())
        evil_url = evil.publish("/jwks.json", attacker.jwks())
        trusted = write_trusted_clients(
            tmp_path / "t.yaml", issuer.entry(inline=False, jwks_url=jwks_url)
        )
        app = make_app(trusted_clients=str(trusted))
        token = attacker.sign(url(SELECT), iss=issuer.issuer, headers={"jku": evil_url})
        assert "jku" in refused(call(app.test_client(), token))
        # A redirect from the allowlisted URL to the attacker's set is not followed either.
        redirecting = good.redirect("/moved.json", evil_url)
        trusted = write_trusted_clients(
            tmp_path / "t2.yaml", issuer.entry(inline=False, jku=(redirecting,))
        )
        app = make_app(trusted_clients=str(trusted))
        token = attacker.sign(url(SELECT), iss=issuer.issuer, headers={"jku": redirecting})
        refused(call(app.test_client(), token))
        assert evil.hits["/jwks.json"] == 0


def test_weak_rsa_keys_are_refused(make_app: Callable[..., Flask], tmp_path: Path) -> None:
    weak = TestIssuer(alg="RS384", kid="weak", bits=1024)
    trusted = write_trusted_clients(tmp_path / "t.yaml", weak.entry())
    app = make_app(trusted_clients=str(trusted))
    refused(call(app.test_client(), weak.sign(url(DISCOVERY)), DISCOVERY))


# --- development mode and configuration ----------------------------------------------------


def test_dev_mode_accepts_unsigned_calls_from_loopback_only(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(dev_mode=True, public_url=None)
    client = app.test_client()
    assert client.get(DISCOVERY).status_code == 200  # the test client calls from 127.0.0.1
    remote = app.test_client()
    remote.environ_base["REMOTE_ADDR"] = "203.0.113.7"
    refused(remote.get(DISCOVERY))
    refused(remote.get(DISCOVERY, headers={"Authorization": "Bearer whatever"}))


def test_dev_mode_with_trusted_clients_still_verifies_tokens_sent(
    make_app: Callable[..., Flask], trusted_file: Path, issuer: TestIssuer
) -> None:
    app = make_app(dev_mode=True, trusted_clients=str(trusted_file))
    client = app.test_client()
    assert client.get(DISCOVERY).status_code == 200
    refused(client.get(DISCOVERY, headers={"Authorization": "Bearer forged.token.here"}))
    assert client.get(DISCOVERY, headers=issuer.auth(url(DISCOVERY))).status_code == 200


def test_refuses_to_start_without_trusted_clients(make_app: Callable[..., Flask]) -> None:
    with pytest.raises(ConfigError, match="CDS_TRUSTED_CLIENTS"):
        make_app()


def test_refuses_to_start_without_a_public_url(
    make_app: Callable[..., Flask], trusted_file: Path
) -> None:
    with pytest.raises(ConfigError, match="CDS_PUBLIC_URL"):
        make_app(trusted_clients=str(trusted_file), public_url=None)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"issuer": "https://a.invalid", "tenant": "a"}, "give its keys"),
        ({"issuer": "https://a.invalid", "jwks_url": "https://a.invalid/k"}, "tenant"),
        ({"issuer": "https://a.invalid", "tenant": "a", "jwks_url": "http://a.invalid/k"},
         "https"),
        ({"issuer": "https://a.invalid", "tenant": "a", "jwks": {"keys": [
            {"kty": "oct", "kid": "k", "k": "c2VjcmV0"}]}}, "no usable"),
        ({"issuer": "https://a.invalid", "tenant": "a", "jwks_url": "https://a.invalid/k",
          "fhir_server": ["https://f.invalid"]}, "unknown field"),
    ],
)
def test_a_wrong_trusted_clients_file_stops_start_up(
    make_app: Callable[..., Flask], tmp_path: Path, entry: dict[str, Any], message: str
) -> None:
    trusted = write_trusted_clients(tmp_path / "t.yaml", entry)
    with pytest.raises(ConfigError, match=message):
        make_app(trusted_clients=str(trusted))


def test_the_documented_example_file_is_valid() -> None:
    example = Path(__file__).parents[1] / "docs" / "trusted-clients.example.yaml"
    clients = load_trusted_clients(example)
    hospital = clients.get("https://ehr.example-hospital.org")
    assert hospital is not None and hospital.fhir_servers == ("https://fhir.example-hospital.org/r4",)
    assert len(hospital.jku_allowed) == 2
    clinic = clients.get("https://cds-client.example-clinic.org")
    assert clinic is not None and list(clinic.keys) == ["example-clinic-2026"]


def test_private_keys_in_a_jwk_set_are_never_used(
    make_app: Callable[..., Flask], tmp_path: Path, issuer: TestIssuer
) -> None:
    leaked = {**issuer.jwk(), "d": "AAAA"}
    entry = {**issuer.entry(), "jwks": {"keys": [leaked]}}
    with pytest.raises(ConfigError, match="no usable"):
        make_app(trusted_clients=str(write_trusted_clients(tmp_path / "t.yaml", entry)))


def test_education_pages_stay_public(secure_app: Flask) -> None:
    response = secure_app.test_client().get("/education/lumbar-sympathetic-block")
    assert response.status_code == 200


# --- what other parts of the service can ask -----------------------------------------------


def test_fhir_server_allowlist_per_issuer(
    make_app: Callable[..., Flask], tmp_path: Path, issuer: TestIssuer
) -> None:
    other = TestIssuer(issuer="https://other-ehr.invalid", kid="o", slot=1)
    trusted = write_trusted_clients(
        tmp_path / "t.yaml",
        issuer.entry(fhir_servers=(FHIR_SERVER + "/",)),
        other.entry(tenant="other", fhir_servers=()),
    )
    app = make_app(trusted_clients=str(trusted), allowed_fhir_servers=("http://dev.invalid",))
    assert allowed_fhir_servers(app, issuer.issuer) == (FHIR_SERVER,)
    assert fhir_server_allowed(app, issuer.issuer, FHIR_SERVER + "/")
    assert not fhir_server_allowed(app, issuer.issuer, "https://fhir.test.invalid.evil.invalid")
    assert allowed_fhir_servers(app, other.issuer) == ()
    assert allowed_fhir_servers(app, "https://unknown.invalid") == ()
    assert allowed_fhir_servers(app, None) == ()  # unsigned calls only exist in dev mode
    dev = make_app(dev_mode=True, allowed_fhir_servers=("http://127.0.0.1:8103/fhir",))
    assert allowed_fhir_servers(dev, None) == ("http://127.0.0.1:8103/fhir",)


def test_the_verified_caller_is_on_flask_g(secure_app: Flask, issuer: TestIssuer) -> None:
    with secure_app.test_client() as client:  # keeps the last request's context open
        assert client.get(DISCOVERY, headers=issuer.auth(url(DISCOVERY))).status_code == 200
        assert (g.cds_issuer, g.cds_tenant) == (issuer.issuer, "test-hospital")
        assert g.cds_caller.verified
        assert g.cds_allowed_fhir_servers == (FHIR_SERVER,)


def test_an_unsigned_dev_mode_caller_is_on_flask_g(make_app: Callable[..., Flask]) -> None:
    with make_app(dev_mode=True, public_url=None).test_client() as client:
        assert client.get(DISCOVERY).status_code == 200
        assert (g.cds_issuer, g.cds_tenant, g.cds_caller.verified) == (None, "development", False)
        assert "cds_allowed_fhir_servers" not in g  # the deployment-wide list applies


# --- CORS for browser-based clients ---------------------------------------------------------

ORIGIN = "https://sandbox.cds-hooks.org"


def test_cors_preflight_allows_configured_origins_with_authorization(
    make_app: Callable[..., Flask], trusted_file: Path
) -> None:
    app = make_app(trusted_clients=str(trusted_file), cors_origins=(ORIGIN,))
    client = app.test_client()
    preflight = {
        "Origin": ORIGIN,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    response = client.options(SELECT, headers=preflight)
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "authorization" in response.headers["Access-Control-Allow-Headers"].lower()
    assert "Access-Control-Allow-Credentials" not in response.headers
    # The refusal of an unsigned call is readable by the allowed page...
    response = client.get(DISCOVERY, headers={"Origin": ORIGIN})
    assert response.status_code == 401
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert response.headers.getlist("Vary") == ["Origin"]
    # ...and any other origin gets no CORS headers at all.
    response = client.options(SELECT, headers={**preflight, "Origin": "https://evil.invalid"})
    assert "Access-Control-Allow-Origin" not in response.headers
    # A server-to-server call (an EHR) sends no Origin: CORS headers would mean nothing to it.
    response = client.get(DISCOVERY)
    assert not [name for name, _ in response.headers if name.startswith("Access-Control-")]
    assert "Origin" in response.vary  # a cache keeps the browser's answer apart


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        (ORIGIN, True),
        ("http://127.0.0.1:3000", True),
        ("http://localhost:8000", True),
        ("https://localhost", True),
        ("http://127.1.2.3:9", True),
        ("http://[::1]:8080", True),
        ("https://evil.invalid", False),
        ("http://localhost.evil.invalid", False),
        ("http://127.0.0.1.evil.invalid:3000", False),
        ("http://10.0.0.5:3000", False),
        ("null", False),
    ],
)
def test_dev_mode_allows_the_public_sandbox_and_loopback_pages(
    make_app: Callable[..., Flask], origin: str, allowed: bool
) -> None:
    client = make_app(dev_mode=True, public_url=None).test_client()
    response = client.options(SELECT, headers={
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    })
    assert (response.headers.get("Access-Control-Allow-Origin") == origin) is allowed
    # Configured origins replace the development defaults.
    client = make_app(dev_mode=True, public_url=None, cors_origins=(ORIGIN,)).test_client()
    response = client.get(DISCOVERY, headers={"Origin": "http://127.0.0.1:3000"})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_no_cors_origins_configured_means_no_cors_headers(secure_app: Flask) -> None:
    response = secure_app.test_client().options(
        SELECT, headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
    )
    assert "Access-Control-Allow-Origin" not in response.headers


def test_tokens_never_reach_error_bodies(secure_app: Flask, issuer: TestIssuer) -> None:
    token = issuer.sign(url(DISCOVERY))  # valid, but for another endpoint
    response = call(secure_app.test_client(), token)
    assert token not in response.get_data(as_text=True)
    assert json.dumps(response.get_json())
