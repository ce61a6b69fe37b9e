"""Fills the gaps of a patient record from the EHR's FHIR server (CDS Hooks "Prefetch").

For each prefetch key the EHR omitted or answered with an OperationOutcome, runs the service's
own prefetch query against `fhirServer` with the `fhirAuthorization` token; follows `next`
links of fetched and prefetched searchsets up to a page cap; then reads the Medications that
records refer to and the record does not hold. Queries run concurrently under one deadline.
Whatever cannot be obtained stays a Gap with a reason a clinician can read: never "no data".
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from itertools import chain
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

from cds_service.config import Settings
from cds_service.data.fhir_client import (
    MIN_REQUEST_S,
    ClientSettings,
    Deadline,
    Failure,
    FailureKind,
    FhirClient,
)
from cds_service.data.fhir_servers import (
    BaseUrl,
    allowed_servers,
    is_under,
    parse_url,
    server_allowed,
)
from cds_service.data.prefetch import next_link, render_template
from cds_service.data.record import Gap, PatientRecord, Resource
from cds_service.data.server_slots import ServerSlots
from cds_service.hook_call import HookCall
from cds_service.metrics import FHIR_FETCHES
from cds_service.reasons import Reason
from cds_service.terminology import as_list

log = logging.getLogger(__name__)

T = TypeVar("T")
# Requests end GRACE_S before the budget by their own timeouts; the rest collects their
# results, so a call waiting on a server that never answers is answered within the budget.
GRACE_S = 0.05
MAX_MEDICATION_READS = 50  # per call; references beyond stay unresolved (a data-quality problem)
MEDICATION_REF = re.compile(r"^Medication/[A-Za-z0-9\-.]{1,64}$")
SERVICE_REQUEST_REF = re.compile(r"^ServiceRequest/[A-Za-z0-9\-.]{1,64}$")
BASED_ON_KEY = "serviceRequests"  # where appointment-book's prefetch keeps them
PATIENT_FIELDS = ("subject", "patient")


@dataclass(frozen=True)
class Query:
    """What every request of one hook call's fetch shares."""

    base: str  # fhirServer without a trailing slash
    base_url: BaseUrl
    token: str | None = field(repr=False)  # a secret: never printed, logged or stored
    patient_id: str
    deadline: Deadline


@dataclass
class Pages:
    """What following one search gave: its pages, and why it stopped early if it did."""

    bundles: list[Resource] = field(default_factory=list)
    failure: Failure | None = None
    next_url: str | None = None  # a page not read (page cap, failure or refused link)


class FhirRecordFetcher:
    """The `RecordFetcher` of the app: one per worker process, shared by its threads."""

    def __init__(self, settings: Settings) -> None:
        if settings.fhir_ca_bundle and not os.path.exists(settings.fhir_ca_bundle):
            # Every fetch would fail later with a TLS error: refuse to start instead.
            raise ValueError(f"CDS_FHIR_CA_BUNDLE: not found: {settings.fhir_ca_bundle}")
        self.settings = settings
        self.client = FhirClient(
            ClientSettings(
                connect_timeout_s=settings.fhir_connect_timeout_ms / 1000,
                # Unless set lower, a request may wait as long as the budget allows: a fixed
                # per-request timeout would end a slow page early even under a generous budget.
                read_timeout_s=(settings.fhir_read_timeout_ms or settings.fhir_budget_ms) / 1000,
                max_retries=settings.fhir_max_retries,
                max_response_bytes=settings.fhir_max_response_bytes,
                pool_size=settings.fhir_concurrency,
                verify=settings.fhir_ca_bundle or True,
            )
        )
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self.slots = ServerSlots(settings.fhir_server_concurrency)

    def executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    self.settings.fhir_concurrency, thread_name_prefix="fhir-fetch"
                )
            return self._executor

    def warm(self) -> None:
        """Starts every fetch thread (a greenlet under gevent) and the connection pools now:
        started on demand, the first burst of calls on a FHIR server paid for up to
        CDS_FHIR_CONCURRENCY thread starts (about 2 ms each under gevent) and held up every
        other call of the worker meanwhile."""
        self.client.session()
        executor = self.executor()
        started = threading.Barrier(self.settings.fhir_concurrency, timeout=5)
        # Each job waits until all have started, so none is free to take the next one: the
        # executor starts one thread per job.
        jobs = [executor.submit(_wait_at, started) for _ in range(self.settings.fhir_concurrency)]
        wait(jobs, timeout=10)

    # ------------------------------------------------------------------ the protocol
    def fill(self, record: PatientRecord, templates: dict[str, str], call: HookCall) -> None:
        if not call.fhir_server:
            return
        started = time.monotonic()
        allowed = allowed_servers(self.settings.allowed_fhir_servers)
        base_url = parse_url(call.fhir_server, base=True)
        if base_url is None or not server_allowed(
            call.fhir_server, allowed, self.settings.fhir_allow_loopback
        ):
            if record.gaps:
                log.warning("fhirServer not allowed, nothing fetched: %s", _origin(base_url))
            refuse_all(record)
            return
        auth = call.fhir_authorization
        query = Query(
            base=call.fhir_server.rstrip("/"),
            base_url=base_url,
            token=auth.access_token if auth else None,
            patient_id=call.patient_id,
            deadline=Deadline(
                _request_time(self.settings.fhir_budget_ms / 1000), start=call.arrived
            ),
        )
        outcomes = self._fetch_lists(record, templates, call, query)
        outcomes += self._read_medications(record, call, query)
        outcomes += self._read_based_on(record, call, query)
        if outcomes:
            elapsed = (time.monotonic() - started) * 1000
            log.info("fhir fetch: %s in %.0f ms", " ".join(outcomes), elapsed)

    # ------------------------------------------------------------------ searches
    def _fetch_lists(
        self, record: PatientRecord, templates: dict[str, str], call: HookCall, query: Query
    ) -> list[str]:
        jobs: dict[str, Callable[[], Pages]] = {}
        pages_before: dict[str, int] = {}
        for key, gap in list(record.gaps.items()):
            if key in record.next_pages:
                url, pages_before[key] = record.next_pages[key], 1
            elif gap.partial or key not in templates:
                continue
            else:
                url, pages_before[key] = self._search_url(templates[key], call, query), 0
            if url is None:
                no_query = Failure(FailureKind.NO_QUERY).reason
                record.gaps[key] = Gap(key, no_query, omitted=gap.omitted)
                continue
            jobs[key] = _bind(self._follow, query, url, pages_before[key])
        results = self._run(jobs, query)
        outcomes = []
        for key, result in results.items():
            pages = result if isinstance(result, Pages) else Pages(failure=result)
            self._apply(record, key, pages, pages_before[key])
            outcomes.append(f"{key}={_outcome(pages)}")
            FHIR_FETCHES.labels(key, _kind(pages.failure, pages.next_url)).inc()
        return outcomes

    def _search_url(self, template: str, call: HookCall, query: Query) -> str | None:
        rendered = render_template(template, call.context)
        if rendered is None:
            return None
        url = f"{query.base}/{rendered.lstrip('/')}"
        size = self.settings.fhir_page_size
        names = {name for name, _ in parse_qsl(urlsplit(url).query)}
        if size > 0 and "_count" not in names:
            url += f"{'&' if '?' in url else '?'}_count={size}"
        return url

    def _follow(self, query: Query, url: str, pages_read: int) -> Pages:
        """Reads a searchset page by page until the last one, the page cap or a failure."""
        pages = Pages()
        next_url: str | None = url
        while next_url is not None:
            if not is_under(next_url, query.base_url):
                return _stopped(pages, next_url, Failure(FailureKind.FOREIGN_LINK))
            if pages_read >= self.settings.fhir_max_pages:
                return _stopped(pages, next_url, None)
            body = self.client.get_json(next_url, query.token, query.deadline)
            if isinstance(body, Failure):
                return _stopped(pages, next_url, body)
            if body.get("resourceType") != "Bundle" or not isinstance(body.get("entry", []), list):
                return _stopped(pages, next_url, Failure(FailureKind.INVALID))
            if not only_patient(body, query.patient_id):
                # The server ignored the patient filter: none of what it sent can be trusted.
                return Pages(failure=Failure(FailureKind.OTHER_PATIENT))
            pages.bundles.append(body)
            pages_read += 1
            next_url = next_link(body)
        return pages

    def _apply(self, record: PatientRecord, key: str, pages: Pages, pages_before: int) -> None:
        record.resources.setdefault(key, [])
        for bundle in pages.bundles:
            record.add_bundle_entries(key, bundle)
        record.next_pages.pop(key, None)
        read = pages_before + len(pages.bundles)
        if pages.failure is None and pages.next_url is None:
            record.gaps.pop(key, None)
            return
        if read == 0:
            del record.resources[key]
            failure = pages.failure or Failure(FailureKind.UNREADABLE)  # (a page cap of 0)
            record.gaps[key] = Gap(key, failure.reason)  # the service tried: not omitted
            return
        if pages.next_url:
            record.next_pages[key] = pages.next_url
        cap = self.settings.fhir_max_pages
        why = pages.failure.reason if pages.failure else Reason.of("page-cap", cap=cap)
        record.gaps[key] = Gap(key, Reason.of("pages-read", pages=read, because=why), partial=True)

    # ------------------------------------------------------------------ Medications
    def _read_medications(self, record: PatientRecord, call: HookCall, query: Query) -> list[str]:
        wanted = unresolved_medications(
            chain(*record.resources.values(), call.draft_orders), record, query.base_url
        )
        if not wanted:
            return []
        if query.deadline.remaining() < MIN_REQUEST_S:  # out of time: don't wait on the pool
            return [f"medications=0/{len(wanted)}"]
        jobs = {ref: _bind(self._read_medication, query, ref) for ref in wanted}
        results = self._run(jobs, query)
        read = 0
        for ref, medication in results.items():
            if isinstance(medication, dict):
                record.medications[ref] = medication
                read += 1
            failure = medication if isinstance(medication, Failure) else None
            FHIR_FETCHES.labels("Medication", _kind(failure, None)).inc()
        # Unread ones stay unresolved: facts/medications.py reports each record as a problem.
        return [f"medications={read}/{len(wanted)}"]

    def _read_medication(self, query: Query, ref: str) -> Resource | Failure:
        body = self.client.get_json(f"{query.base}/{ref}", query.token, query.deadline)
        if isinstance(body, Failure):
            return body
        if body.get("resourceType") != "Medication" or f"Medication/{body.get('id')}" != ref:
            return Failure(FailureKind.INVALID)
        return body

    # ------------------------------------------------------------------ ServiceRequests
    def _read_based_on(self, record: PatientRecord, call: HookCall, query: Query) -> list[str]:
        """appointment-book: the orders the appointments are `basedOn` that the record lacks
        (its search may have been capped or filtered), read by id beside the others."""
        held = {r.get("id") for r in record.resources.get(BASED_ON_KEY, ())}
        wanted = list(
            dict.fromkeys(
                ref
                for appointment in call.appointments
                for item in as_list(appointment.get("basedOn"))
                if isinstance(item, dict)
                and isinstance(ref := item.get("reference"), str)
                and SERVICE_REQUEST_REF.match(ref)
                and ref.split("/")[1] not in held
            )
        )[:MAX_MEDICATION_READS]
        if not wanted or query.deadline.remaining() < MIN_REQUEST_S:
            return [f"basedOn=0/{len(wanted)}"] if wanted else []
        jobs = {ref: _bind(self._read_one, query, ref) for ref in wanted}
        read = [r for r in self._run(jobs, query).values() if isinstance(r, dict)]
        record.resources.setdefault(BASED_ON_KEY, []).extend(read)
        return [f"basedOn={len(read)}/{len(wanted)}"]

    def _read_one(self, query: Query, ref: str) -> Resource | Failure:
        body = self.client.get_json(f"{query.base}/{ref}", query.token, query.deadline)
        if isinstance(body, Failure):
            return body
        kind, _, id_ = ref.partition("/")
        if body.get("resourceType") != kind or body.get("id") != id_:
            return Failure(FailureKind.INVALID)
        subject = body.get("subject")
        ref_to = subject.get("reference") if isinstance(subject, dict) else None
        if isinstance(ref_to, str) and not _is_patient(ref_to, query.patient_id):
            return Failure(FailureKind.OTHER_PATIENT)
        return body

    # ------------------------------------------------------------------ concurrency
    def _run(self, jobs: dict[str, Callable[[], T]], query: Query) -> dict[str, T | Failure]:
        """Runs the jobs in parallel, each once it has one of the server's slots; one not
        finished by the deadline, or that got no slot before it, counts as timed out."""
        deadline = query.deadline
        futures: dict[str, Future[T]] = {}
        for key, job in jobs.items():
            slot = self.slots.take(query.base_url, deadline.remaining())
            if slot is None:
                break  # the deadline has passed: no later job would get one either
            futures[key] = self.executor().submit(job)
            # Also when cancelled while queued: the slot is never kept by a job that never ran.
            futures[key].add_done_callback(lambda _, held=slot: held.release())
        wait(futures.values(), timeout=deadline.remaining())
        for future in futures.values():
            future.cancel()  # one still queued never starts; a running one ends by its timeouts
        wait([f for f in futures.values() if not f.done()], timeout=GRACE_S)
        results: dict[str, T | Failure] = {}
        for key in jobs:
            future = futures.get(key)
            if future is None or future.cancelled() or not future.done():
                results[key] = Failure(FailureKind.TIMEOUT)
            elif (error := future.exception()) is not None:
                # A bug or an answer shaped beyond our checks: the type only, never the message.
                log.error("fhir fetch job failed: %s", type(error).__name__)
                results[key] = Failure(FailureKind.UNREADABLE)
            else:
                results[key] = future.result()
        return results


# ---------------------------------------------------------------------- helpers
def _wait_at(barrier: threading.Barrier) -> None:
    with contextlib.suppress(threading.BrokenBarrierError):  # one started late: no matter
        barrier.wait()


def _request_time(budget_s: float) -> float:
    """The part of the budget the requests have: all but the grace that collects them (half,
    for a budget under two graces)."""
    return max(budget_s - GRACE_S, budget_s / 2)


def refuse_all(record: PatientRecord) -> None:
    """The server may not be contacted: every gap stays, and says why it was not filled."""
    refused = Failure(FailureKind.NOT_ALLOWED).reason
    for key, gap in list(record.gaps.items()):
        reason = Reason.of("pages-read", pages=1, because=refused) if gap.partial else refused
        record.gaps[key] = Gap(key, reason, partial=gap.partial, omitted=gap.omitted)


def only_patient(bundle: Resource, patient_id: str) -> bool:
    """False if a match names another patient as its subject (the filter was ignored)."""
    for entry in as_list(bundle.get("entry")):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict) or (entry.get("search") or {}).get("mode") == "include":
            continue
        for name in PATIENT_FIELDS:
            value = resource.get(name)
            ref = value.get("reference") if isinstance(value, dict) else None
            if isinstance(ref, str) and not _is_patient(ref, patient_id):
                return False
    return True


def _is_patient(reference: str, patient_id: str) -> bool:
    return reference == f"Patient/{patient_id}" or reference.endswith(f"/Patient/{patient_id}")


def unresolved_medications(
    resources: Iterable[Resource], record: PatientRecord, base_url: BaseUrl
) -> list[str]:
    """`Medication/<id>` references, on this server, that the record does not hold yet."""
    wanted: list[str] = []
    for resource in resources:
        reference = resource.get("medicationReference")
        ref = reference.get("reference") if isinstance(reference, dict) else None
        if not isinstance(ref, str) or ref.startswith("#"):
            continue
        if "://" in ref:  # absolute: only if it is on the call's own server
            if not is_under(ref, base_url):
                continue
            ref = "/".join(ref.rstrip("/").split("/")[-2:])
        if MEDICATION_REF.match(ref) and ref not in record.medications and ref not in wanted:
            wanted.append(ref)
    return wanted[:MAX_MEDICATION_READS]


def _bind(function: Callable[..., T], *args: Any) -> Callable[[], T]:
    return lambda: function(*args)


def _stopped(pages: Pages, next_url: str, failure: Failure | None) -> Pages:
    pages.next_url, pages.failure = next_url, failure
    return pages


def _outcome(pages: Pages) -> str:
    """For the log: what happened, never a URL, a token or a patient identifier."""
    if pages.failure is None and pages.next_url is None:
        return f"ok/{len(pages.bundles)}p"
    if pages.failure is None:
        return f"capped/{len(pages.bundles)}p"
    status = f"-{pages.failure.status}" if pages.failure.status else ""
    return f"{pages.failure.kind.name.lower()}{status}/{len(pages.bundles)}p"


def _kind(failure: Failure | None, next_url: str | None) -> str:
    """For the metrics: ok, capped (page cap reached) or the failure's kind."""
    if failure is None:
        return "ok" if next_url is None else "capped"
    return failure.kind.name.lower()


def _origin(base_url: BaseUrl | None) -> str:
    return "(not an http(s) URL)" if base_url is None else f"{base_url.scheme}://{base_url.host}"

