"""Assembles the patient record for a hook call: prefetch first, then the EHR's FHIR server."""

from __future__ import annotations

from typing import Protocol

from cds_service.data.prefetch import read_prefetch
from cds_service.data.record import PatientRecord
from cds_service.hook_call import HookCall
from cds_service.reasons import Reason


class RecordFetcher(Protocol):
    """Fills the gaps of a record from the EHR's FHIR server (`fhirServer` in the call), and
    reads the Medications its records refer to. What it cannot obtain stays a Gap."""

    def fill(self, record: PatientRecord, templates: dict[str, str], call: HookCall) -> None: ...


class DataUnavailable(Exception):
    """Required data could be obtained neither from prefetch nor from the FHIR server."""

    def __init__(self, problems: dict[str, Reason]) -> None:
        super().__init__("required data unavailable")
        self.problems = problems


def load_record(
    templates: dict[str, str],
    required: tuple[str, ...],
    call: HookCall,
    fetcher: RecordFetcher | None,
) -> PatientRecord:
    record = read_prefetch(templates, call.prefetch)
    if fetcher is not None and call.fhir_server:
        # Also with complete prefetch: a medicationReference may still need a read.
        fetcher.fill(record, templates, call)
    # 412 (CDS Hooks "Prefetch"): data required for any decision, or data the EHR never tried
    # to send and the service could not fetch. Other gaps become a data-quality card.
    missing = {
        f"prefetch.{key}": gap.reason
        for key, gap in record.gaps.items()
        if not gap.partial and (key in required or gap.omitted)
    }
    if missing:
        raise DataUnavailable(missing)
    return record
