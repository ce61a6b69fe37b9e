"""The integrator's tools: `cds-service jwk` turns a PEM key into the trusted-clients JWK,
`cds-service token` mints a token the service accepts, `replay --key` signs each call, and
`--version` answers."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from flask import Flask
from jwt_helpers import PUBLIC_URL

from cds_service.cli import main
from cds_service.testing import free_port, served

from fixture_files import ROOT, fixture_request

ISSUER = "https://ehr.example.org"
SELECT = "/cds-services/lsb-order-select"


def pem_key(folder: Path, kind: str) -> Path:
    key = ec.generate_private_key(ec.SECP384R1()) if kind == "EC" else rsa.generate_private_key(
        public_exponent=65537, key_size=2048
    )
    path = folder / f"{kind}.pem"
    path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ))
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(list(args)) == 0
    return capsys.readouterr().out.strip()


def trusted_clients(folder: Path, jwks: dict) -> Path:
    path = folder / "trusted.yaml"
    entry = {"issuer": ISSUER, "tenant": "example", "jwks": jwks}
    path.write_text(yaml.safe_dump({"clients": [entry]}), encoding="utf-8")
    return path


@pytest.mark.parametrize(("kind", "alg"), [("EC", "ES384"), ("RSA", "RS384")])
def test_a_pem_key_becomes_a_trusted_jwk_and_signs_accepted_tokens(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make_app: Callable[..., Flask],
    kind: str, alg: str,
) -> None:
    key = pem_key(tmp_path, kind)
    jwks = json.loads(run(capsys, "jwk", str(key), "--set"))
    [jwk] = jwks["keys"]
    assert (jwk["kty"], jwk["alg"], jwk["use"]) == (kind, alg, "sig")
    assert "d" not in jwk  # the public half only
    app = make_app(trusted_clients=str(trusted_clients(tmp_path, jwks)))
    client = app.test_client()
    token = run(capsys, "token", "--key", str(key), "--issuer", ISSUER, "--public-url", PUBLIC_URL)
    headers = {"Authorization": f"Bearer {token}"}
    body = fixture_request("01-crps-left-apixaban")
    assert client.post(SELECT, json=body, headers=headers).status_code == 200
    assert client.post(SELECT, json=body, headers=headers).status_code == 401  # used once
    one_url = run(capsys, "token", "--key", str(key), "--issuer", ISSUER,
                  "--audience", PUBLIC_URL + SELECT)
    headers = {"Authorization": f"Bearer {one_url}"}
    assert client.post(SELECT, json=body, headers=headers).status_code == 200


def test_replay_signs_each_call_for_a_production_mode_service(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = pem_key(tmp_path, "EC")
    jwks = json.loads(run(capsys, "jwk", str(key), "--set", "--kid", "ehr-1"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        "CDS_DEV_MODE": "",
        "CDS_TRUSTED_CLIENTS": str(trusted_clients(tmp_path, jwks)),
        "CDS_PUBLIC_URL": url,
        "CDS_DATABASE_URL": f"sqlite:///{tmp_path / 'cds.sqlite3'}",
    }
    requests_dir = ROOT / "fixtures" / "requests"
    names = ("01-crps-left-apixaban", "02-causalgia-right-pt")
    fixtures = [str(requests_dir / f"{n}.json") for n in names]
    with served(env, port=port):
        code = main(["replay", url, *fixtures, "--key", str(key), "--issuer", ISSUER,
                     "--kid", "ehr-1"])
        out = capsys.readouterr().out
        assert code == 0, out
        assert out.count("HTTP 200") == 2
        # Without a key the same calls are refused: the tokens above were what let them in.
        assert main(["replay", url, fixtures[0]]) == 1


def test_a_key_file_that_is_not_a_key_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    assert main(["token", "--key", str(bad), "--issuer", ISSUER]) == 2
    assert main(["jwk", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and "not an unencrypted PEM RSA or EC key" in err


def test_version_comes_from_the_package(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"cds-service {version('lsb-cds-service')}"
