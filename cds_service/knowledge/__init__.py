"""Loads the clinical knowledge files beside this module into indexes the rules can use.

The YAML and value-set files are the knowledge; this module only reads them. Loading is done
once per process (`load_knowledge` is cached) and fails loudly on a malformed file, so a bad
knowledge release stops the service at start-up instead of silently dropping a warning.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml

from cds_service.terminology import Code, CodeKey, CodeSystems

KNOWLEDGE_DIR = Path(__file__).parent
VALUESET_DIR = KNOWLEDGE_DIR / "valuesets"
FILES = (
    "code_systems",
    "procedure",
    "indications",
    "antithrombotics",
    "support",
    "triggers",
    "record_rules",
)

WORD = re.compile(r"[a-z0-9]+")
LsbFit = Literal["indicated", "uncertain", "not-indicated"]


class KnowledgeError(RuntimeError):
    """A knowledge file is missing, malformed or inconsistent."""


@dataclass(frozen=True)
class Source:
    key: str
    citation: str
    url: str | None


@dataclass(frozen=True)
class Indication:
    id: str
    label: str
    lsb: LsbFit
    why: str | None
    laterality: Mapping[CodeKey, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Hold:
    before: str | None
    restart: str | None
    labs: str | None
    note: str | None
    source: Source | None
    confirmed: bool


@dataclass(frozen=True)
class Drug:
    id: str
    name: str
    class_label: str
    kind: str  # anticoagulant | antiplatelet
    hold: Hold | None


@dataclass(frozen=True)
class DrugMatch:
    drug: Drug
    how: str  # which route matched: "RxNorm product", "RxNorm ingredient", "ATC", ...


@dataclass(frozen=True)
class CodeGroup:
    """A named list of codes and names, e.g. opioids or neuropathic pain agents."""

    id: str
    label: str
    codes: frozenset[CodeKey]
    names: re.Pattern[str] | None
    prefixes: tuple[CodeKey, ...] = ()  # hierarchical codes (ATC groups such as N02A)

    def matches(self, keys: Iterable[CodeKey], text: str) -> bool:
        for key in keys:
            if key in self.codes:
                return True
            if any(key[0] == s and key[1].startswith(p) for s, p in self.prefixes):
                return True
        return bool(self.names and text and self.names.search(text))


@dataclass(frozen=True)
class Triggers:
    mode: str  # pain-related | any-order
    groups: tuple[CodeGroup, ...]
    codes: frozenset[CodeKey]
    names: re.Pattern[str] | None


@dataclass(frozen=True)
class RecordRules:
    """Which statuses make a record count (record_rules.yaml)."""

    condition_active: frozenset[str]
    condition_excluded_verification: frozenset[str]
    condition_missing_status_counts: bool
    statement_counts: frozenset[str]
    statement_ignored: frozenset[str]
    request_counts: frozenset[str]
    request_ignored: frozenset[str]
    unknown_status_counts: bool


@dataclass(frozen=True)
class Knowledge:
    version: str
    systems: CodeSystems
    sources: Mapping[str, Source]
    procedure_label: str
    procedure_order_codes: tuple[Code, ...]
    procedure_codes: frozenset[CodeKey]
    procedure_names: re.Pattern[str] | None
    bleeding_risk: str | None
    indication_by_code: Mapping[CodeKey, Indication]
    drug_by_code: Mapping[CodeKey, DrugMatch]
    drug_classes_by_atc_prefix: Mapping[str, str]
    drug_names: Mapping[str, Drug]  # lowercase ingredient and brand names, words split by spaces
    amputation_lower: frozenset[CodeKey]
    amputation_upper: frozenset[CodeKey]
    treatments: tuple[CodeGroup, ...]
    opioids: CodeGroup
    triggers: Triggers
    rules: RecordRules
    valuesets: tuple[str, ...]

    def drug_by_name(self, text: str) -> list[Drug]:
        """Drugs whose ingredient or brand name stands as whole words in free text.

        Word lookup rather than one large regex: this runs for every medication record of a
        patient with thousands of them.
        """
        words = WORD.findall(text.lower())
        found = [w for w in words if w in self.drug_names]
        if any(" " in n for n in self.drug_names):
            joined = f" {' '.join(words)} "
            found += [n for n in self.drug_names if " " in n and f" {n} " in joined]
        drugs = {self.drug_names[n].id: self.drug_names[n] for n in found}
        return list(drugs.values())

    def atc_class(self, atc_code: str) -> str | None:
        """The antithrombotic class an ATC code falls in (B01A...), or None."""
        for prefix, label in self.drug_classes_by_atc_prefix.items():
            if atc_code.startswith(prefix):
                return label
        return None


def _read_yaml(name: str) -> dict[str, Any]:
    path = KNOWLEDGE_DIR / f"{name}.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise KnowledgeError(f"cannot read knowledge file {path.name}: {exc}") from exc
    if not isinstance(data, dict):
        raise KnowledgeError(f"knowledge file {path.name} is not a mapping")
    return data


def _read_valueset(oid: str) -> dict[str, Any]:
    path = VALUESET_DIR / f"ValueSet-{oid}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise KnowledgeError(f"cannot read value set {oid}: {exc}") from exc


def _names_pattern(names: Iterable[str]) -> re.Pattern[str] | None:
    words = sorted({n.strip().lower() for n in names if n and n.strip()}, key=len, reverse=True)
    if not words:
        return None
    return re.compile(r"\b(?:" + "|".join(re.escape(w) for w in words) + r")\b", re.IGNORECASE)


class _Loader:
    def __init__(self) -> None:
        self.docs = {name: _read_yaml(name) for name in FILES}
        self.systems = CodeSystems(self.docs["code_systems"])
        self.sources: dict[str, Source] = {}
        for doc in self.docs.values():
            for key, src in (doc.get("sources") or {}).items():
                self.sources[key] = Source(key, src.get("citation", key), src.get("url"))
        self.valuesets_used: set[str] = set()

    def key(self, entry: Mapping[str, Any]) -> CodeKey:
        return self.systems.key(self.systems.uri(str(entry["system"])), str(entry["code"]))

    def code(self, entry: Mapping[str, Any]) -> Code:
        system, code = self.key(entry)
        return Code(system, code, entry.get("display"))

    def valueset_codes(self, oid: str) -> list[dict[str, Any]]:
        self.valuesets_used.add(oid)
        contains = _read_valueset(oid).get("expansion", {}).get("contains", [])
        return [c for c in contains if "system" in c and "code" in c]

    def group(self, entry: Mapping[str, Any]) -> CodeGroup:
        keys = {
            self.key(c)
            for field_name in ("ingredient_codes", "atc_codes", "codes", "product_codes")
            for c in entry.get(field_name) or ()
        }
        for oid in entry.get("valuesets") or ():
            keys.update(self.key(c) for c in self.valueset_codes(str(oid)))
        atc = self.systems.uri("atc")
        # An ATC code shorter than a substance code (7 characters) names a group: match below it.
        prefixes = tuple(sorted(k for k in keys if k[0] == atc and len(k[1]) < 7))
        return CodeGroup(
            id=entry["id"],
            label=entry.get("label", entry["id"]),
            codes=frozenset(keys),
            names=_names_pattern(entry.get("names") or ()),
            prefixes=prefixes,
        )

    def indications(self) -> dict[CodeKey, Indication]:
        by_code: dict[CodeKey, Indication] = {}
        for entry in self.docs["indications"]["indications"]:
            codes = list(entry.get("codes") or ())
            for oid in entry.get("valuesets") or ():
                codes += self.valueset_codes(str(oid))
            laterality = {self.key(c): c["laterality"] for c in codes if c.get("laterality")}
            indication = Indication(
                id=entry["id"],
                label=entry["label"],
                lsb=entry["lsb"],
                why=entry.get("why"),
                laterality=laterality,
            )
            if indication.lsb not in ("indicated", "uncertain", "not-indicated"):
                raise KnowledgeError(f"indication {indication.id}: unknown lsb value")
            for c in codes:
                key = self.key(c)
                other = by_code.get(key)
                if other and other.id != indication.id:
                    raise KnowledgeError(f"code {key} is in both {other.id} and {indication.id}")
                by_code[key] = indication
        return by_code

    def drugs(self) -> tuple[dict[CodeKey, DrugMatch], dict[str, str], dict[str, Drug]]:
        doc = self.docs["antithrombotics"]
        classes = {c["id"]: c for c in doc["classes"]}
        by_code: dict[CodeKey, DrugMatch] = {}
        by_name: dict[str, Drug] = {}
        valueset_drugs: dict[str, list[tuple[re.Pattern[str], Drug]]] = {}
        for entry in doc["drugs"]:
            cls = classes.get(entry["class"])
            if cls is None:
                raise KnowledgeError(f"drug {entry['id']}: unknown class {entry['class']}")
            hold = entry.get("hold")
            drug = Drug(
                id=entry["id"],
                name=entry["name"],
                class_label=cls["label"],
                kind=cls["kind"],
                hold=Hold(
                    before=hold.get("before"),
                    restart=hold.get("restart"),
                    labs=hold.get("labs"),
                    note=hold.get("note"),
                    source=self.sources.get(hold.get("source", "")),
                    confirmed=bool(hold.get("confirmed")),
                )
                if hold
                else None,
            )
            routes = (
                ("ingredient_codes", "RxNorm ingredient"),
                ("product_codes", "RxNorm product"),
                ("atc_codes", "ATC"),
            )
            for field_name, how in routes:
                for c in entry.get(field_name) or ():
                    by_code[self.key(c)] = DrugMatch(drug, how)
            names = [n.lower() for n in entry.get("names") or ()]
            for n in names:
                by_name[" ".join(WORD.findall(n))] = drug
            pattern = _names_pattern(names)
            for oid in entry.get("valuesets") or ():
                if pattern:
                    valueset_drugs.setdefault(str(oid), []).append((pattern, drug))
        for oid, candidates in valueset_drugs.items():
            for c in self.valueset_codes(oid):
                display = c.get("display", "")
                for pattern, drug in candidates:
                    if pattern.search(display):
                        by_code.setdefault(self.key(c), DrugMatch(drug, "RxNorm product"))
        atc_classes = {str(c["atc"]): c["label"] for c in classes.values() if c.get("atc")}
        return by_code, atc_classes, by_name

    def rules(self) -> RecordRules:
        doc = self.docs["record_rules"]
        cond, stmt, req = doc["condition"], doc["medication_statement"], doc["medication_request"]
        return RecordRules(
            condition_active=frozenset(cond["active_clinical_status"]),
            condition_excluded_verification=frozenset(cond["excluded_verification_status"]),
            condition_missing_status_counts=bool(cond["missing_clinical_status_counts"]),
            statement_counts=frozenset(stmt["counts"]),
            statement_ignored=frozenset(stmt["ignored"]),
            request_counts=frozenset(req["counts"]),
            request_ignored=frozenset(req["ignored"]),
            unknown_status_counts=bool(doc["unknown_status_counts_for_warnings"]),
        )

    def build(self) -> Knowledge:
        proc = self.docs["procedure"]["procedure"]
        order_codes = tuple(self.code(c) for c in proc.get("order_codes") or ())
        recognise = {self.key(c) for c in proc.get("recognise_codes") or ()}
        recognise.update((c.system, c.code) for c in order_codes)
        risk = proc.get("bleeding_risk") or {}
        drug_by_code, atc_classes, drug_names = self.drugs()
        support = self.docs["support"]
        treatments = tuple(self.group(t) for t in support.get("conservative_treatments") or ())
        opioids = self.group({"id": "opioids", "label": "Opioid", **support["opioids"]})
        groups = {g.id: g for g in (*treatments, opioids)}
        trig = self.docs["triggers"]
        pain = trig.get("pain_related") or {}
        try:
            trigger_groups = tuple(groups[g] for g in pain.get("groups") or ())
        except KeyError as exc:
            raise KnowledgeError(f"triggers.yaml names an unknown group {exc}") from exc
        amputation = support.get("amputation") or {}
        versions = sorted({str(d.get("version")) for d in self.docs.values()})
        return Knowledge(
            version=versions[-1],
            systems=self.systems,
            sources=self.sources,
            procedure_label=proc["label"],
            procedure_order_codes=order_codes,
            procedure_codes=frozenset(recognise),
            procedure_names=_names_pattern(proc.get("names") or ()),
            bleeding_risk=risk.get("class") if risk.get("confirmed") else None,
            indication_by_code=self.indications(),
            drug_by_code=drug_by_code,
            drug_classes_by_atc_prefix=atc_classes,
            drug_names=drug_names,
            amputation_lower=frozenset(self.key(c) for c in amputation.get("lower_limb") or ()),
            amputation_upper=frozenset(self.key(c) for c in amputation.get("upper_limb") or ()),
            treatments=treatments,
            opioids=opioids,
            triggers=Triggers(
                mode=str(trig.get("mode", "pain-related")),
                groups=trigger_groups,
                codes=frozenset(self.key(c) for c in pain.get("service_request_codes") or ()),
                names=_names_pattern(pain.get("names") or ()),
            ),
            rules=self.rules(),
            valuesets=tuple(sorted(self.valuesets_used)),
        )


@lru_cache(maxsize=1)
def load_knowledge() -> Knowledge:
    """The knowledge release shipped with this service, loaded and indexed once."""
    try:
        return _Loader().build()
    except (KeyError, TypeError) as exc:
        raise KnowledgeError(f"knowledge files are malformed: {exc!r}") from exc
