"""The container recipe: the entrypoint script run for real (SQLite, loopback), the Kubernetes
manifests against the API schemas, and the Dockerfile's install against the Makefile's.
No image is built here (no container daemon or base image on this machine)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import kubernetes_validate
import pytest
import requests
from container_support import (
    DEPLOY,
    dockerfile_commands,
    env_names,
    in_image,
    makefile_recipe,
    manifests,
    settings_read_by_code,
)
from jwt_helpers import TestIssuer, write_trusted_clients

from cds_service.testing import READY_PATH, free_port

ENTRYPOINT = DEPLOY / "entrypoint.sh"
FROM_FILES = {"CDS_PATIENT_KEY_SECRET", "CDS_DATABASE_URL"}  # also as NAME_FILE (entrypoint)


def entrypoint_env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "db-url").write_text(f"sqlite:///{tmp_path / 'cds.sqlite3'}\n")
    (tmp_path / "patient-key").write_text("container-test-secret-0123456789abcdef0123\n")
    trusted = write_trusted_clients(tmp_path / "trusted.yaml", TestIssuer().entry())
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("CDS_")}
    return {
        **inherited,
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        "CDS_DATABASE_URL_FILE": str(tmp_path / "db-url"),
        "CDS_PATIENT_KEY_SECRET_FILE": str(tmp_path / "patient-key"),
        "CDS_TRUSTED_CLIENTS": str(trusted),
        "CDS_PUBLIC_URL": "https://cds.test.invalid",
    }


@pytest.mark.slow
def test_the_entrypoint_migrates_reads_its_secrets_from_files_and_serves(tmp_path: Path) -> None:
    env = entrypoint_env(tmp_path)
    port = free_port()
    log = tmp_path / "entrypoint.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            ["sh", str(ENTRYPOINT), "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
             "--metrics-port", "0"],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        for _ in range(600):  # bounded: at most a minute
            try:
                ready = requests.get(f"http://127.0.0.1:{port}{READY_PATH}", timeout=1)
                break
            except requests.ConnectionError:
                assert proc.poll() is None, log.read_text()[-3000:]
                time.sleep(0.1)
        else:
            pytest.fail("the entrypoint's service did not start:\n" + log.read_text()[-3000:])
        assert ready.status_code == 200
        # Outside development mode: a call without a token is refused.
        unsigned = requests.post(f"http://127.0.0.1:{port}/cds-services/lsb-order-select",
                                 json={}, timeout=10)
        assert unsigned.status_code == 401
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    text = log.read_text()
    assert "schema at" in text  # `cds-service db upgrade` ran first
    assert "container-test-secret" not in text
    assert proc.returncode == 0  # exec: gunicorn itself got the SIGTERM and stopped cleanly


def test_the_entrypoint_runs_another_command_with_the_secrets_read(tmp_path: Path) -> None:
    env = entrypoint_env(tmp_path)
    run = subprocess.run(["sh", str(ENTRYPOINT), "cds-service", "db", "upgrade"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "cds.sqlite3: schema at" in run.stdout  # the URL came from the file
    run = subprocess.run(["sh", str(ENTRYPOINT), "cds-service", "feedback", "purge", "--json"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr


def test_an_unreadable_secret_file_stops_the_entrypoint(tmp_path: Path) -> None:
    env = {**entrypoint_env(tmp_path), "CDS_PATIENT_KEY_SECRET_FILE": str(tmp_path / "missing")}
    run = subprocess.run(["sh", str(ENTRYPOINT), "cds-service", "db", "current"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert "CDS_PATIENT_KEY_SECRET_FILE: cannot read" in run.stderr


def test_the_manifests_are_valid_kubernetes_objects() -> None:
    docs = manifests()
    assert sorted(d["kind"] for d in docs) == [
        "ConfigMap", "CronJob", "Deployment", "Secret", "Service"
    ]
    for doc in docs:
        kubernetes_validate.validate(doc, "1.30", strict=True)


def test_a_wrong_field_in_a_manifest_is_caught() -> None:
    deployment = next(d for d in manifests() if d["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, "1.30", strict=True)


def test_the_manifests_set_only_settings_the_code_reads() -> None:
    known = settings_read_by_code() | {f"{name}_FILE" for name in FROM_FILES}
    for doc in manifests():
        if doc["kind"] in ("Deployment", "CronJob"):
            names = env_names(doc)
            assert names
            assert set(names) <= known, set(names) - known


def test_the_deployment_probes_health_and_readiness_and_mounts_the_patient_key() -> None:
    docs = {d["kind"]: d for d in manifests()}
    pod = docs["Deployment"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    secret_name = docs["Secret"]["metadata"]["name"]
    assert {"secret": {"secretName": secret_name}} in [
        {k: v for k, v in vol.items() if k != "name"} for vol in pod["volumes"]
    ]
    env = {e["name"]: e.get("value") for e in container["env"]}
    key_file = Path(env["CDS_PATIENT_KEY_SECRET_FILE"])
    assert key_file.name in docs["Secret"]["stringData"]
    assert docs["Service"]["spec"]["selector"] == docs["Deployment"]["spec"]["selector"][
        "matchLabels"]
    purge = docs["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert purge["args"] == ["cds-service", "feedback", "purge"]


def test_the_image_installs_the_way_the_makefile_does() -> None:
    recipe = [c for c in makefile_recipe("$(BIN)/.runtime") if not c.startswith("touch")]
    assert recipe
    image = dockerfile_commands()
    for command in recipe:
        assert in_image(command) in image
    dockerfile = (DEPLOY.parent / "Dockerfile").read_text()
    assert "\nUSER cds\n" in dockerfile  # not root
    assert 'ENTRYPOINT ["/opt/cds/deploy/entrypoint.sh"]' in dockerfile
