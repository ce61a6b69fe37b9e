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
from functools import lru_cache

MIN_SECRET_LENGTH = 32  # characters: at least 128 bits of a random hex or base64 secret
# json.dumps with an option builds a new encoder on every call; this is the same encoder, once.
_json_array = json.JSONEncoder(ensure_ascii=False).encode


def fhir_base(url: str | None) -> str:
    """The FHIR server as one string however the EHR spells its end (`/r4` and `/r4/`)."""
    return (url or "").strip().rstrip("/").lower()


@lru_cache(maxsize=4)
def _keyed(secret: bytes) -> hmac.HMAC:
    """The HMAC with the secret already keyed in, copied for each message. A one-shot
    `hmac.digest` lets go of the GIL around a microsecond's work, and with another thread
    waiting the call could wait a whole switch interval to get it back."""
    return hmac.new(secret, digestmod=hashlib.sha256)


def patient_key(secret: bytes, tenant: str, fhir_server: str | None, patient_id: str) -> str:
    # A JSON array keeps the fields apart: ("a|b", "c") and ("a", "b|c") never collide.
    message = _json_array([tenant, fhir_base(fhir_server), patient_id])
    mac = _keyed(secret).copy()
    mac.update(message.encode("utf-8"))
    return mac.hexdigest()
