"""The keyed hash that stands for a patient in the quieting tables: never the patient id.

HMAC-SHA256 over the calling tenant, the FHIR server's base URL (when the EHR sends one) and the
patient id, with a secret only the deployment holds. Without the secret the hash cannot be
matched to an id, even by trying every id; two EHRs (or two FHIR servers) whose patient ids
coincide get different hashes; a second deployment with its own secret never matches this one.
"""

from __future__ import annotations

import hashlib
import hmac
import json

MIN_SECRET_LENGTH = 32  # characters: at least 128 bits of a random hex or base64 secret
# json.dumps with an option builds a new encoder on every call; this is the same encoder, once.
_json_array = json.JSONEncoder(ensure_ascii=False).encode


def fhir_base(url: str | None) -> str:
    """The FHIR server as one string however the EHR spells its end (`/r4` and `/r4/`)."""
    return (url or "").strip().rstrip("/").lower()


def patient_key(secret: bytes, tenant: str, fhir_server: str | None, patient_id: str) -> str:
    # A JSON array keeps the fields apart: ("a|b", "c") and ("a", "b|c") never collide.
    message = _json_array([tenant, fhir_base(fhir_server), patient_id])
    return hmac.digest(secret, message.encode("utf-8"), hashlib.sha256).hex()
