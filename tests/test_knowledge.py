"""The knowledge release: loads, is consistent, and covers what the cards rely on."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from cds_service.knowledge import (
    KNOWLEDGE_DIR,
    VALUESET_DIR,
    Interval,
    KnowledgeError,
    load_knowledge,
)
from cds_service.knowledge.antithrombotics import read_dose_rule, read_hold

ANTICOAGULANT_SETS = [
    "2.16.840.1.113762.1.4.1248.22",
    "2.16.840.1.113883.3.117.1.7.1.200",
    "2.16.840.1.113883.3.3157.4045",
    "2.16.840.1.113883.3.117.1.7.1.232",
    "2.16.840.1.113883.3.117.1.7.1.134",
]


def yaml_files() -> list[Path]:
    return sorted(KNOWLEDGE_DIR.glob("*.yaml"))


@pytest.mark.parametrize("path", yaml_files(), ids=lambda p: p.name)
def test_every_file_has_version_review_date_and_sources(path: Path) -> None:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert doc["version"] and doc["reviewed"] and doc["sources"]


@pytest.mark.parametrize("path", yaml_files(), ids=lambda p: p.name)
def test_every_code_cites_a_known_source(path: Path) -> None:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    sources = set(doc["sources"])

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "code" in node and "system" in node:
                assert node.get("source") in sources, f"{node} cites no known source"
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)


@pytest.mark.parametrize("oid", ANTICOAGULANT_SETS)
def test_every_anticoagulant_product_maps_to_a_drug(oid: str) -> None:
    kn = load_knowledge()
    doc = json.loads((VALUESET_DIR / f"ValueSet-{oid}.json").read_text(encoding="utf-8"))
    for item in doc["expansion"]["contains"]:
        key = kn.systems.key(item["system"], item["code"])
        assert key in kn.drugs.by_code, f"{item['code']} {item['display']} maps to no drug"
        assert kn.drugs.by_code[key].drug.kind == "anticoagulant"


def test_common_products_map_to_the_right_drug() -> None:
    kn = load_knowledge()
    rxnorm = kn.systems.uri("rxnorm")
    expected = {
        "1364445": "apixaban",
        "1232086": "rivaroxaban",
        "855332": "warfarin",
        "309362": "clopidogrel",
    }
    for code, drug in expected.items():
        assert kn.drugs.by_code[(rxnorm, code)].drug.id == drug


def test_icd10cm_codes_match_with_or_without_the_dot() -> None:
    kn = load_knowledge()
    icd = kn.systems.uri("icd-10-cm")
    assert kn.systems.key(icd, "G90522") == kn.systems.key(icd, "g90.522")
    assert kn.indication_by_code[kn.systems.key(icd, "G90522")].id == "crps-lower-limb"


def test_indication_classes() -> None:
    kn = load_knowledge()
    icd = kn.systems.uri("icd-10-cm")
    fit = {
        code: kn.indication_by_code[(icd, code)].lsb
        for code in ("G90.521", "G57.72", "G54.6", "G89.3", "G90.512", "G54.7", "G90.50", "G56.41")
    }
    assert fit == {
        "G90.521": "indicated",
        "G57.72": "indicated",
        "G54.6": "indicated",
        "G89.3": "uncertain",  # cancer pain: indicated only with a lower-limb body site
        "G90.512": "not-indicated",
        "G54.7": "not-indicated",
        "G90.50": "uncertain",
        "G56.41": "not-indicated",
    }


def test_every_drug_has_a_hold_policy_with_a_source() -> None:
    kn = load_knowledge()
    for drug in kn.drugs.by_id.values():
        assert drug.hold is not None, drug.id
        assert drug.hold.source is not None, drug.id
        if drug.hold.policy == "interval":
            assert all(i.value > 0 for i in drug.hold.before), drug.id


@pytest.mark.parametrize(
    ("hold", "problem"),
    [
        ({"policy": "sometimes"}, "policy must be one of"),
        ({"policy": "interval", "before": []}, "goes with policy 'interval' only"),
        ({"policy": "unknown", "before": [{"value": 5, "unit": "d"}]}, "goes with policy"),
        ({"policy": "interval", "before": [{"value": "5 days", "unit": "d"}]}, "whole numbers"),
        ({"policy": "interval", "before": [{"value": -1, "unit": "d"}]}, "whole numbers"),
        ({"policy": "interval", "before": [{"value": 5, "unit": "weeks"}]}, "unit of h or d"),
        ({"policy": "interval", "before": [{"value": 24, "high": 12, "unit": "h"}]}, "unit of h"),
        ({"policy": "not-required", "labs": ["platelets-above-100"]}, "unknown lab check"),
        # A misspelled source would drop the citation from every card showing the hold.
        ({"policy": "not-required", "source": "asra2081"}, "drug x: unknown source 'asra2081'"),
    ],
)
def test_a_malformed_hold_is_refused(hold: dict, problem: str) -> None:
    with pytest.raises(KnowledgeError, match=problem):
        read_hold(hold, "drug x", {})


def test_a_dose_rule_citing_an_unknown_source_is_refused() -> None:
    regimen = {"when": "prophylactic", "up_to": {"value": 40, "unit": "mg"}, "per_day_up_to": 1}
    rule = {
        "regimens": [regimen],
        "otherwise": "therapeutic",
        "source": "nowhere",
    }
    with pytest.raises(KnowledgeError, match="drug x: unknown source 'nowhere'"):
        read_dose_rule(rule, "drug x", {})
    rule["source"] = None  # no source named: allowed, as before
    assert read_dose_rule(rule, "drug x", {}).source is None


def test_interval_arithmetic() -> None:
    hours = Interval(12, "h", high=24)
    assert (hours.shortest, hours.longest) == (timedelta(hours=12), timedelta(hours=24))
    assert Interval(5, "d").longest == timedelta(days=5)
    enoxaparin = load_knowledge().drugs.by_id["enoxaparin"].hold
    assert enoxaparin.longest_before == Interval(24, "h", when="therapeutic dose")


def test_every_hold_policy_has_an_indicator_and_wording() -> None:
    from cards.render import common

    kn = load_knowledge()
    words = common()["hold_policies"]
    for policy, indicator in kn.drugs.block_ordered_indicator.items():
        assert indicator in ("info", "warning", "critical")
        assert policy == "interval" or policy in words, policy
    # Fail safe: no confirmed figure is as loud as a required hold.
    indicators = kn.drugs.block_ordered_indicator
    assert indicators["unknown"] == indicators["interval"]


def test_intervals_cite_the_table_that_was_read() -> None:
    kn = load_knowledge()
    for drug in kn.drugs.by_id.values():
        if drug.hold and drug.hold.policy != "unknown":
            assert drug.hold.source and drug.hold.source.key == "asra2018_table_mirror", drug.id
            assert drug.hold.source.card and "as tabulated in" in drug.hold.source.card
