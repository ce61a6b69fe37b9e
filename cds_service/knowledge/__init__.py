"""The service's clinical knowledge release: one loader per domain, composed into `Knowledge`.

The YAML and value-set files beside this module are the knowledge; the loaders only read
them (`antithrombotics.py`, `indications.py`, `procedure.py`, `support.py`, `triggers.py`,
`record_rules.py`, `procedures.py`, `allergies.py`, `labs.py`, `pathway.py`, sharing `base.py`).
A clinic's own protocol (`protocol.py`, CDS_LOCAL_PROTOCOL) joins the release with
`with_protocol`. Loading is done once per process (`load_knowledge` is
cached) and fails loudly on a malformed file, so a bad knowledge release stops the service at
start-up instead of silently dropping a warning.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

from cds_service.knowledge.allergies import AllergyRules, load_allergies
from cds_service.knowledge.antithrombotics import (
    Drug,
    DrugIndex,
    DrugMatch,
    Hold,
    HoldPolicy,
    Interval,
    LockFlush,
    load_drugs,
)
from cds_service.knowledge.base import (
    KNOWLEDGE_DIR,
    VALUESET_DIR,
    WORD,
    CodeGroup,
    KnowledgeError,
    MatchCache,
    Reader,
    Source,
)
from cds_service.knowledge.body_sites import BodySites, load_body_sites
from cds_service.knowledge.indications import Indication, LsbFit, load_indications
from cds_service.knowledge.labs import Interpretation, Lab, load_labs
from cds_service.knowledge.pathway import Pathway, load_pathway
from cds_service.knowledge.procedure import Procedure, load_procedure
from cds_service.knowledge.procedures import ProcedureHistory, load_procedure_history
from cds_service.knowledge.protocol import Protocol, ProtocolError, load_protocol
from cds_service.knowledge.record_rules import RecordRules, load_record_rules
from cds_service.knowledge.support import load_support
from cds_service.knowledge.triggers import Triggers, load_triggers
from cds_service.terminology import CodeKey, CodeSystems

__all__ = [
    "KNOWLEDGE_DIR",
    "VALUESET_DIR",
    "AllergyRules",
    "BodySites",
    "CodeGroup",
    "Drug",
    "DrugMatch",
    "Hold",
    "HoldPolicy",
    "Indication",
    "Interpretation",
    "Interval",
    "Knowledge",
    "KnowledgeError",
    "Lab",
    "LockFlush",
    "LsbFit",
    "Pathway",
    "ProcedureHistory",
    "Protocol",
    "ProtocolError",
    "RecordRules",
    "Source",
    "Triggers",
    "knowledge_with_protocol",
    "load_knowledge",
]

FILES = (
    "code_systems",
    "procedure",
    "indications",
    "antithrombotics",
    "support",
    "triggers",
    "record_rules",
    "body_sites",
    "procedure_history",
    "allergies",
    "labs",
    "pathway",
)


@dataclass(frozen=True)
class Knowledge:
    version: str
    systems: CodeSystems
    sources: Mapping[str, Source]
    procedure: Procedure  # the block itself and the referral beside it
    indication_by_code: Mapping[CodeKey, Indication]
    drugs: DrugIndex  # antithrombotics by code, name and id; the block-ordered indicators
    body_sites: BodySites
    amputation_lower: frozenset[CodeKey]
    amputation_upper: frozenset[CodeKey]
    treatments: tuple[CodeGroup, ...]
    opioids: CodeGroup
    triggers: Triggers
    rules: RecordRules
    valuesets: tuple[str, ...]
    procedure_history: ProcedureHistory
    allergies: AllergyRules
    labs: tuple[Lab, ...]
    lab_by_code: Mapping[CodeKey, Lab]
    lab_interpretations: Mapping[CodeKey, Interpretation]  # the lab's flag codes
    renally_cleared: frozenset[str]  # drug ids whose cards show kidney function
    pathway: Pathway
    protocol: Protocol | None = None  # the clinic's own, where CDS_LOCAL_PROTOCOL names one

    # Matching results by medication text and codes: a long medication list repeats the same
    # few medications thousands of times, and each is looked up once per process. (Fields, so
    # that `with_protocol`'s copies share them: matching does not depend on the protocol.)
    _by_name: MatchCache[str, tuple[Drug, ...]] = field(
        default_factory=MatchCache, repr=False, compare=False
    )
    _by_concept: MatchCache[tuple[tuple[CodeKey, ...], str], tuple[CodeGroup, ...]] = field(
        default_factory=MatchCache, repr=False, compare=False
    )

    def drug_by_name(self, text: str) -> list[Drug]:
        """Drugs whose ingredient or brand name stands as whole words in free text."""
        drugs = self._by_name.get(text)
        if drugs is None:
            drugs = self._by_name.put(text, self._drugs_named_in(text))
        return list(drugs)

    def _drugs_named_in(self, text: str) -> tuple[Drug, ...]:
        words = WORD.findall(text.lower())
        found = [w for w in words if w in self.drugs.names]
        joined = f" {' '.join(words)} "
        found += [n for n in self.drugs.names if " " in n and f" {n} " in joined]
        return tuple({self.drugs.names[n].id: self.drugs.names[n] for n in found}.values())

    def support_groups(self, keys: Iterable[CodeKey], text: str) -> tuple[CodeGroup, ...]:
        """The conservative-treatment and opioid groups a medication (its normalised codes
        and its text) belongs to, in the order of `treatments`, then opioids."""
        concept = (tuple(keys), text)
        groups = self._by_concept.get(concept)
        if groups is None:
            groups = self._by_concept.put(
                concept,
                tuple(g for g in (*self.treatments, self.opioids) if g.matches(*concept)),
            )
        return groups

    def holds_for(self, drug: Drug) -> tuple[Hold, ...]:
        """Every hold rule that applies to `drug`, the one to follow first: the clinic's
        approved protocol where it sets the drug (its `source` cites the protocol by name,
        version and approval), then the guideline's."""
        local = self.protocol.holds.get(drug.id) if self.protocol else None
        return tuple(h for h in (local, drug.hold) if h is not None)

    def with_protocol(self, protocol: Protocol | None) -> Knowledge:
        return replace(self, protocol=protocol)

    def indicator_when_block_ordered(self, drug: Drug) -> str:
        """The bleeding card's indicator for this drug when the block itself is ordered."""
        hold = self.holds_for(drug)
        return self.drugs.block_ordered_indicator[hold[0].policy if hold else "unknown"]

    def atc_class(self, atc_code: str) -> str | None:
        """The antithrombotic class an ATC code falls in (B01A...), or None."""
        for prefix, label in self.drugs.classes_by_atc_prefix.items():
            if atc_code.startswith(prefix):
                return label
        return None


def _build() -> Knowledge:
    reader = Reader(FILES)
    procedure = load_procedure(reader)
    drugs = load_drugs(reader)
    support = load_support(reader)
    groups = {g.id: g for g in (*support.treatments, support.opioids)}
    if unknown := {r.group for r in drugs.restart_only} - set(groups):
        raise KnowledgeError(f"restart_only names unknown support groups {sorted(unknown)}")
    restart_only = tuple(replace(r, label=groups[r.group].label) for r in drugs.restart_only)
    drugs = replace(drugs, restart_only=restart_only)
    triggers = load_triggers(reader, groups)
    indications = load_indications(reader)
    labs = load_labs(reader)
    if unknown := labs.renally_cleared - set(drugs.by_id):
        raise KnowledgeError(f"labs.yaml renally_cleared: unknown drugs {sorted(unknown)}")
    versions = sorted({str(d.get("version")) for d in reader.docs.values()})
    return Knowledge(
        version=versions[-1],
        systems=reader.systems,
        sources=reader.sources,
        procedure=procedure,
        indication_by_code=indications,
        drugs=drugs,
        body_sites=load_body_sites(reader),
        amputation_lower=support.amputation_lower,
        amputation_upper=support.amputation_upper,
        treatments=support.treatments,
        opioids=support.opioids,
        triggers=triggers,
        rules=load_record_rules(reader),
        valuesets=tuple(sorted(reader.valuesets_used)),
        procedure_history=load_procedure_history(reader),
        allergies=load_allergies(reader),
        labs=labs.labs,
        lab_by_code=labs.by_code,
        lab_interpretations=labs.interpretations,
        renally_cleared=labs.renally_cleared,
        pathway=load_pathway(reader),
    )


@lru_cache(maxsize=1)
def load_knowledge() -> Knowledge:
    """The knowledge release shipped with this service, loaded and indexed once."""
    try:
        return _build()
    except (KeyError, TypeError) as exc:
        raise KnowledgeError(f"knowledge files are malformed: {exc!r}") from exc


@lru_cache(maxsize=8)
def knowledge_with_protocol(path: str | None) -> Knowledge:
    """The release with the clinic's protocol in `path` (None: the release alone).

    ProtocolError (one line) if the file cannot be used: the service must not start with it.
    """
    kn = load_knowledge()
    if not path:
        return kn
    return kn.with_protocol(load_protocol(Path(path), kn))
