"""The registry of CDS services. A new service is declared in its own module and listed here."""

from __future__ import annotations

from cds_service.services import appointment, lsb
from cds_service.services.base import CdsService

ALL: list[CdsService] = [*lsb.SERVICES, *appointment.SERVICES]
BY_ID: dict[str, CdsService] = {s.id: s for s in ALL}

__all__ = ["ALL", "BY_ID", "CdsService"]
