"""What the container recipe's tests read: the Makefile's install recipe, the Dockerfile, the
Kubernetes manifests, and the CDS_* settings the code reads."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
IMAGE_VENV = "/opt/cds/.venv"
SETTING = re.compile(r"\bCDS_[A-Z0-9_]+\b")


def makefile_recipe(target: str) -> list[str]:
    """The commands of a Makefile rule, as written (tabs stripped)."""
    lines = (ROOT / "Makefile").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{target}:"))
    recipe = []
    for line in lines[start + 1:]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip())
    return recipe


def in_image(command: str) -> str:
    """A Makefile command as it reads with the image's paths."""
    return (
        command.replace("$(PYTHON)", "python3")
        .replace("$(BIN)", IMAGE_VENV + "/bin")
        .replace("$(VENV)", IMAGE_VENV)
    )


def dockerfile_commands() -> list[str]:
    """The commands of the Dockerfile's RUN steps, joined lines split at `&&`."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    commands: list[str] = []
    for line in text.splitlines():
        if line.startswith("RUN "):
            commands += [" ".join(c.split()) for c in line[4:].split("&&")]
    return commands


def manifests() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def settings_read_by_code() -> set[str]:
    """Every CDS_* name in the package's source and the entrypoint script."""
    names: set[str] = set()
    for path in (ROOT / "cds_service").rglob("*.py"):
        names |= set(SETTING.findall(path.read_text()))
    return names


def env_names(doc: dict[str, Any]) -> list[str]:
    spec = doc["spec"]
    pod = spec["jobTemplate"]["spec"]["template"] if doc["kind"] == "CronJob" else spec["template"]
    return [e["name"] for c in pod["spec"]["containers"] for e in c.get("env", ())]
