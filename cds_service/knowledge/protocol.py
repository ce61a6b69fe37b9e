"""A clinic's own periprocedural anticoagulation protocol (CDS_LOCAL_PROTOCOL), as hold rules.

The file is the clinic's, approved locally; the service only reads it. Any doubt about it stops
the service at start-up with one line naming the problem: a protocol half read would give a
clinician a wrong interval with the clinic's name on it.

```yaml
name: Periprocedural anticoagulation protocol
version: "3"
approved_by: Pharmacy and therapeutics committee
approved_on: 2026-05-01
drugs:
  - rxnorm: "1364430"        # ingredient RxCUI (apixaban)
    hold_before_hours: 72
    restart_after_hours: 24
    note: optional text shown on the card
    kidney_function:         # optional: longer holds when kidney function is reduced
      - below: 30            # eGFR or creatinine clearance below this value
        unit: "mL/min"       # optional: compared only with results sent in this unit
        hold_before_hours: 120
labs:                        # optional: the protocol's own limits for a result that warns
  - lab: platelets           # a lab id of labs.yaml that can signal a bleeding risk
    below: 50                # platelets warn below, the INR above (`above:`)
    unit: "10*3/uL"          # compared only with results sent in this unit
```
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from cds_service.knowledge.antithrombotics import Hold, Interval, KidneyBasis
from cds_service.knowledge.base import Source
from cds_service.terminology import unit_named

if TYPE_CHECKING:
    from cds_service.knowledge import Knowledge

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
TOP_KEYS = {"name", "version", "approved_by", "approved_on", "drugs", "labs"}
LAB_KEYS = {"lab", "below", "above", "unit"}
DRUG_KEYS = {"rxnorm", "hold_before_hours", "restart_after_hours", "note", "kidney_function"}
KIDNEY_KEYS = {"below", "unit", "hold_before_hours"}
SOURCE_KEY = "local-protocol"


class ProtocolError(ValueError):
    """The protocol file cannot be used; the message is one line naming the problem."""


@dataclass(frozen=True)
class LabLimit:
    """The protocol's limit for a lab result: a result beyond it warns (as one the lab flags)."""

    lab: str  # lab id (labs.yaml)
    side: str  # "low": warn below `value`; "high": warn above it
    value: float
    unit: str | None  # results are compared only in this unit; None: results with no unit


@dataclass(frozen=True)
class KidneyHold:
    """A hold the protocol sets for kidney function (eGFR or creatinine clearance) below a
    limit, in place of the drug's usual one."""

    below: float
    unit: str | None  # results are compared only in this unit; None: in any unit
    before: Interval


@dataclass(frozen=True)
class Protocol:
    name: str
    version: str
    approved_by: str
    approved_on: dt.date
    holds: Mapping[str, Hold]  # drug id (antithrombotics.yaml) -> the protocol's hold
    lab_limits: Mapping[str, LabLimit] = field(default_factory=dict)  # lab id -> its limit
    # Drug id -> its holds by kidney function, and its usual hold. A drug with these has, in
    # `holds`, the longest of them: the safe figure until a kidney result chooses one
    # (decisions/kidney.py).
    kidney_holds: Mapping[str, tuple[KidneyHold, ...]] = field(default_factory=dict)
    usual_holds: Mapping[str, Hold] = field(default_factory=dict)

    @property
    def citation(self) -> str:
        return (
            f"{self.name}, version {self.version}, approved by {self.approved_by} "
            f"on {self.approved_on.isoformat()}"
        )


def _text(doc: Mapping[str, Any], key: str) -> str:
    value = doc.get(key)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and key == "version":
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise ProtocolError(f"{key}: missing (a non-empty text is required)")
    return " ".join(value.split())


def _hours(entry: Mapping[str, Any], key: str, where: str) -> int | None:
    value = entry.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ProtocolError(f"{where}: {key} must be a whole number of hours >= 0, got {value!r}")
    return value


def _entry(entry: Any, where: str, keys: set[str], needs: str) -> Mapping[str, Any]:
    """`entry` as a mapping of known keys, or the one line that says why it is not."""
    if not isinstance(entry, Mapping):
        raise ProtocolError(f"{where}: must be a mapping with {needs}")
    if unknown := set(entry) - keys:
        raise ProtocolError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    return entry


def _unit(entry: Mapping[str, Any], where: str) -> str | None:
    unit = entry.get("unit")
    if unit is not None and (not isinstance(unit, str) or not unit.strip()):
        raise ProtocolError(f"{where}: unit must be text")
    return unit_named(unit)  # compared with the results' units as the lab reader reads them


def _kidney_holds(entry: Mapping[str, Any], where: str, usual: int) -> tuple[KidneyHold, ...]:
    rules = entry.get("kidney_function") or []
    if not isinstance(rules, list):
        raise ProtocolError(f"{where}: kidney_function must be a list")
    found = []
    for index, rule in enumerate(rules):
        at = f"{where}.kidney_function[{index}]"
        rule = _entry(rule, at, KIDNEY_KEYS, "below and hold_before_hours")
        below = rule.get("below")
        if isinstance(below, bool) or not isinstance(below, (int, float)) or below <= 0:
            raise ProtocolError(f"{at}: below must be a number > 0, got {below!r}")
        hours = _hours(rule, "hold_before_hours", at)
        if hours is None:
            raise ProtocolError(f"{at}: hold_before_hours is missing")
        if hours < usual:
            # Reduced kidney function slows clearance: a shorter hold is a typing error.
            raise ProtocolError(
                f"{at}: hold_before_hours {hours} is shorter than the usual {usual}"
            )
        found.append(KidneyHold(float(below), _unit(rule, at), Interval(hours, "h")))
    return tuple(found)


def _drug_hold(
    entry: Any, index: int, kn: Knowledge, source: Source
) -> tuple[str, Hold, tuple[KidneyHold, ...]]:
    where = f"drugs[{index}]"
    entry = _entry(entry, where, DRUG_KEYS, "rxnorm and hold_before_hours")
    rxcui = entry.get("rxnorm")
    if isinstance(rxcui, int) and not isinstance(rxcui, bool):
        rxcui = str(rxcui)
    if not isinstance(rxcui, str) or not rxcui.strip():
        raise ProtocolError(f"{where}: rxnorm (an ingredient RxCUI) is missing")
    match = kn.drugs.by_code.get(kn.systems.key(RXNORM, rxcui))
    if match is None or match.how != "RxNorm ingredient":
        raise ProtocolError(
            f"{where}: rxnorm {rxcui!r} is not an ingredient RxCUI of an anticoagulant or "
            "antiplatelet the service knows"
        )
    before = _hours(entry, "hold_before_hours", where)
    if before is None:
        raise ProtocolError(f"{where}: hold_before_hours is missing")
    restart = _hours(entry, "restart_after_hours", where)
    note = entry.get("note")
    if note is not None and not isinstance(note, str):
        raise ProtocolError(f"{where}: note must be text")
    hold = Hold(
        policy="interval",
        before=(Interval(before, "h"),),
        restart=Interval(restart, "h") if restart is not None else None,
        labs=(),
        note=" ".join(note.split()) if note else None,
        source=source,
    )
    return match.drug.id, hold, _kidney_holds(entry, where, before)


def _lab_limit(entry: Any, index: int, kn: Knowledge) -> LabLimit:
    where = f"labs[{index}]"
    entry = _entry(entry, where, LAB_KEYS, "lab and below or above")
    lab = next((x for x in kn.labs if x.id == entry.get("lab")), None)
    if lab is None or lab.bleeding_risk_when is None:
        risky = sorted(x.id for x in kn.labs if x.bleeding_risk_when)
        raise ProtocolError(f"{where}: lab must be one of {risky}, got {entry.get('lab')!r}")
    key = "below" if lab.bleeding_risk_when == "low" else "above"
    if ("above" if key == "below" else "below") in entry:
        raise ProtocolError(f"{where}: {lab.id} warns {key} a limit: use {key}")
    value = entry.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ProtocolError(f"{where}: {key} must be a number > 0, got {value!r}")
    return LabLimit(lab.id, lab.bleeding_risk_when, float(value), _unit(entry, where))


def parse_protocol(doc: Any, kn: Knowledge) -> Protocol:
    if not isinstance(doc, Mapping):
        raise ProtocolError("the file is not a YAML mapping")
    if unknown := set(doc) - TOP_KEYS:
        raise ProtocolError(f"unknown key {sorted(unknown)[0]!r}")
    name, version = _text(doc, "name"), _text(doc, "version")
    approved_by = _text(doc, "approved_by")
    approved_on = doc.get("approved_on")
    if isinstance(approved_on, dt.datetime) or not isinstance(approved_on, dt.date):
        raise ProtocolError("approved_on: missing (a date, YYYY-MM-DD, is required)")
    drugs = doc.get("drugs")
    if not isinstance(drugs, list) or not drugs:
        raise ProtocolError("drugs: missing (a list of at least one drug is required)")
    citation = Protocol(name, version, approved_by, approved_on, {}).citation
    source = Source(SOURCE_KEY, citation, None)
    holds: dict[str, Hold] = {}
    kidney: dict[str, tuple[KidneyHold, ...]] = {}
    usual: dict[str, Hold] = {}
    for index, entry in enumerate(drugs):
        drug_id, hold, kidney_holds = _drug_hold(entry, index, kn, source)
        if drug_id in holds:
            raise ProtocolError(f"drugs[{index}]: {drug_id} is listed twice")
        holds[drug_id] = hold
        if kidney_holds:
            kidney[drug_id], usual[drug_id] = kidney_holds, hold
            longest = max(kidney_holds, key=lambda k: k.before.longest).before
            holds[drug_id] = replace(hold, before=(longest,), kidney=KidneyBasis())
    labs = doc.get("labs") or []
    if not isinstance(labs, list):
        raise ProtocolError("labs: must be a list")
    limits: dict[str, LabLimit] = {}
    for index, entry in enumerate(labs):
        limit = _lab_limit(entry, index, kn)
        if limit.lab in limits:
            raise ProtocolError(f"labs[{index}]: {limit.lab} is listed twice")
        limits[limit.lab] = limit
    return Protocol(name, version, approved_by, approved_on, holds, limits, kidney, usual)


def load_protocol(path: str | Path, kn: Knowledge) -> Protocol:
    """The protocol in `path`, checked against the knowledge release; ProtocolError if unusable."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ProtocolError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ProtocolError(f"not valid YAML{where}") from None
    return parse_protocol(doc, kn)
