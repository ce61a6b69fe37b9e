"""The facts the decisions work from. Each names the record it came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from cds_service.facts.dosage import Dose
from cds_service.knowledge import Drug, Indication, Interval, Lab, LsbFit
from cds_service.reasons import Reason
from cds_service.terminology import Code


@dataclass(frozen=True)
class Origin:
    """Where a fact was read: `MedicationStatement/ms-1` in the patient's medication list
    (`medicationStatements`: a prefetch key, worded in cards/reasons.yaml)."""

    reference: str
    where: str

    def __str__(self) -> str:
        return f"{self.reference} ({self.where})"


@dataclass(frozen=True)
class IndicationFact:
    indication: Indication
    code: Code
    laterality: str | None
    origin: Origin
    fit: LsbFit = "indicated"  # the indication's fit, after the condition's bodySite is read
    site_from_body_site: bool = False  # the leg or foot is known from bodySite, not the code
    # False for a provisional, differential or other unconfirmed diagnosis: not enough to
    # suggest an invasive procedure ("confirm the diagnosis"), enough for a safety warning.
    verified: bool = True
    verification: str | None = None  # the record's verificationStatus code

    @property
    def label(self) -> str:
        if self.site_from_body_site and self.indication.label_in_lower_limb:
            return self.indication.label_in_lower_limb
        return self.indication.label


@dataclass(frozen=True)
class Stop:
    """A stopped record whose drug may still act: when it ended and when its hold ends."""

    on: date  # the end of the record's period: the last dose
    days_ago: int  # from the day of the call
    hold_ends_on: date | None  # the last day of the hold; None where no interval is known
    hold: Interval | None  # the hold counted (None: within the stated look-back instead)


@dataclass(frozen=True)
class DrugFact:
    drug: Drug
    matched_by: str  # "RxNorm product", "ATC", "name in text", ...
    recorded_as: str  # the record's own words for the medication
    status: str
    origin: Origin
    recorded_on: date | None = None  # the record's latest date: written, taken or asserted
    stale: bool = False  # recorded_on is older than the knowledge's stated age
    dose: Dose | None = None  # as read from the record's dosage or text
    dose_class: str | None = None  # "prophylactic dose", where the drug's dose rule judges it
    dose_in_label: bool = False  # a label regimen holds the dose (else: above them all)
    stopped: Stop | None = None  # a stopped record still within its hold (or look-back)
    planned: bool = False  # a MedicationRequest whose intent is a plan or proposal
    ordered_now: bool = False  # a draft order of this ordering session

    @property
    def from_text(self) -> bool:
        return self.matched_by.startswith("name")


@dataclass(frozen=True)
class SupportFact:
    """Evidence for the block: a treatment tried, an opioid, an amputation."""

    group: str  # label of the group: "Neuropathic pain agent", "Opioid", "Lower-limb amputation"
    recorded_as: str
    current: bool
    origin: Origin
    when: date | None = None  # done, taken or recorded: old therapy is shown with its age


@dataclass(frozen=True)
class Problem:
    """A record or a list that could hold a safety fact and could not be read."""

    what: str  # a list's key ("medicationStatements") or a record ("MedicationStatement/ms-9")
    why: Reason | None  # None for entries that could not be read
    affects_medications: bool = True
    topic: str | None = None  # "allergies", "procedures", "labs"; None: conditions or medications
    entries: int = 0  # > 0: that many entries of the list `what` could not be read

    @property
    def items(self) -> int:
        """How many things were not checked: the entries, or the one record or list."""
        return self.entries or 1


@dataclass(frozen=True)
class BlockFact:
    """An earlier lumbar sympathetic block, from a Procedure or a completed ServiceRequest."""

    when: date | None
    recorded_as: str
    origin: Origin


@dataclass(frozen=True)
class AmputationFact:
    limb: str  # "lower" | "upper"
    recorded_as: str
    origin: Origin


@dataclass(frozen=True)
class AllergyFact:
    """An allergy or intolerance to something the block uses (contrast, local anaesthetic)."""

    group: str  # "Iodinated contrast media", "Amide local anaesthetic"
    recorded_as: str
    matched_by: str  # "code" | "name of its code" (coded, code not listed) | "name in text"
    criticality: str | None
    reactions: tuple[str, ...]
    origin: Origin

    @property
    def from_text(self) -> bool:
        return self.matched_by == "name in text"


@dataclass(frozen=True)
class LabFact:
    """The latest result of a lab test, with the lab's own interpretation: no threshold of ours."""

    lab: Lab
    value: str
    unit: str | None
    when: str | None  # the date (YYYY-MM-DD) it was taken, as recorded
    interpretation: str | None
    reference_range: str | None
    status: str
    origin: Origin
    # The side of its range the lab states by its interpretation code ("low", "high",
    # "abnormal", "normal"), and where the value falls against the result's own reference range
    # in the same unit ("low", "high", "within"); None where not stated or not comparable.
    flag: str | None = None
    range_side: str | None = None
    quantity: tuple[float, str | None] | None = None  # a plain value and its unit, to compare


@dataclass(frozen=True)
class OrderFact:
    reference: str
    label: str
    laterality: str | None = None  # the side its bodySite states: left, right or bilateral


@dataclass
class Facts:
    indications: list[IndicationFact] = field(default_factory=list)
    drugs: list[DrugFact] = field(default_factory=list)
    support: list[SupportFact] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    lsb_selected: list[OrderFact] = field(default_factory=list)
    lsb_in_other_drafts: list[OrderFact] = field(default_factory=list)
    pain_orders_selected: list[OrderFact] = field(default_factory=list)
    blocks: list[BlockFact] = field(default_factory=list)  # earlier blocks, oldest first
    amputations: list[AmputationFact] = field(default_factory=list)
    allergies: list[AllergyFact] = field(default_factory=list)
    labs: dict[str, LabFact] = field(default_factory=dict)  # lab id -> its latest result
