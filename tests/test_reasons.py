"""The words of why part of a record could not be read (cards/reasons.yaml): every code the
service passes has words, every worded code is passed, and the figures each call gives are the
ones its words take, so a gap can never fail to render on the data-quality card."""

from __future__ import annotations

import ast
from pathlib import Path

import jinja2
import pytest
import yaml
from jinja2 import meta

from cards.reasons import WORDING, codes, list_name, reason_words, source_name
from cds_service.data.fhir_client import Failure, FailureKind
from cds_service.facts.extract import LISTS
from cds_service.reasons import Reason, invalid

PACKAGE = Path(__file__).resolve().parents[1] / "cds_service"


def reasons_in_code() -> dict[str, set[str]]:
    """Each literal `Reason("code")` / `Reason.of("code", figure=...)` in the service's code,
    with the figures it gives."""
    found: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            named = (isinstance(func, ast.Name) and func.id == "Reason") or (
                isinstance(func, ast.Attribute)
                and func.attr == "of"
                and isinstance(func.value, ast.Name)
                and func.value.id == "Reason"
            )
            code = node.args[0]
            if named and isinstance(code, ast.Constant) and isinstance(code.value, str):
                found.setdefault(code.value, set()).update(
                    k.arg for k in node.keywords if k.arg
                )
    return found


def figures_taken(code: str) -> set[str]:
    text = yaml.safe_load(WORDING.read_text(encoding="utf-8"))["reasons"][code]
    return meta.find_undeclared_variables(jinja2.Environment().parse(text))


def test_the_scan_finds_the_reasons_it_should() -> None:
    found = reasons_in_code()
    assert found["pages-read"] == {"pages", "because"}
    assert found["not-provided"] == set()


def test_every_code_the_service_passes_has_words_and_every_worded_code_is_passed() -> None:
    passed = set(reasons_in_code()) | {kind.value for kind in FailureKind} | {"invalid"}
    assert passed - codes() == set(), "codes without words"
    assert codes() - passed == set(), "words no code passes"


@pytest.mark.parametrize("code", sorted(reasons_in_code()))
def test_each_call_gives_exactly_the_figures_its_words_take(code: str) -> None:
    assert reasons_in_code()[code] == figures_taken(code)


def test_a_failure_gives_its_status_where_its_words_take_one() -> None:
    for kind in FailureKind:
        taken = figures_taken(kind.value)
        assert taken <= {"status"}
        words = reason_words(Failure(kind, 502 if taken else None).reason)
        assert ("(HTTP 502)" in words) == bool(taken), kind


def test_a_partial_read_says_how_many_pages_and_why_the_rest_was_not_read() -> None:
    server_error = Failure(FailureKind.SERVER_ERROR, 502).reason
    assert reason_words(Reason.of("pages-read", pages=1, because=server_error)) == (
        "only its first page could be read: the EHR's FHIR server failed to answer (HTTP 502)"
    )
    cap = Reason.of("page-cap", cap=3)
    assert reason_words(Reason.of("pages-read", pages=3, because=cap)) == (
        "only its first 3 pages could be read: the service reads at most 3 pages of a list"
    )
    assert reason_words(Reason.of("page-cap", cap=1)).endswith("at most 1 page of a list")


def test_a_validators_message_is_shown_as_it_is() -> None:
    assert reason_words(invalid("status: Field required")) == "status: Field required"


def test_lists_are_named_in_words_and_records_by_their_reference() -> None:
    for key in LISTS:
        assert list_name(key) != key
    assert list_name("medicationStatements") == "medication list"
    assert source_name("medicationStatements") == "the medication list"
    assert source_name("MedicationStatement/ms-9") == "MedicationStatement/ms-9"
