"""A validated CDS Hooks request, as the layers below the HTTP API see it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class FhirAuthorization:
    access_token: str = field(repr=False)  # a secret: never printed, logged or echoed
    token_type: str
    scope: str
    subject: str
    expires_in: int | None = None
    patient: str | None = None


@dataclass(frozen=True)
class HookCall:
    hook: str
    hook_instance: str
    context: dict[str, Any]
    prefetch: dict[str, Any] | None = None
    fhir_server: str | None = None
    fhir_authorization: FhirAuthorization | None = None
    received_at: datetime | None = None  # the service's clock when the call arrived (UTC)
    # time.monotonic() when the request reached the app, before its body was read: the FHIR
    # fetch budget counts from here, so the time spent reading and parsing is part of it.
    arrived: float | None = None

    @property
    def patient_id(self) -> str:
        return str(self.context["patientId"])

    @property
    def draft_orders(self) -> list[dict[str, Any]]:
        return self._bundle_resources("draftOrders")

    @property
    def appointments(self) -> list[dict[str, Any]]:
        """appointment-book: the proposed Appointments being booked."""
        return self._bundle_resources("appointments")

    def _bundle_resources(self, key: str) -> list[dict[str, Any]]:
        bundle = self.context.get(key) or {}
        return [
            e["resource"]
            for e in bundle.get("entry") or ()
            if isinstance(e, dict) and isinstance(e.get("resource"), dict)
        ]
