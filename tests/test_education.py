"""The patient-education page linked from the suggestion card: what a patient needs before
consenting, the clinic's number, its sources and its reading grade."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
import textstat
from flask import Flask
from flask.testing import FlaskClient

from cds_service.config import ConfigError
from cds_service.web import education

TOPIC = "lumbar-sympathetic-block"
PAGE = f"/education/{TOPIC}"
SECTIONS = [
    "What it is",
    "What it can do for you",
    "Risks and side effects",
    "Before the procedure",
    "On the day",
    "Afterwards",
    "When to get help",
]
GRADE_GOAL = 8.0  # Flesch-Kincaid grade: the most patient material should ask of a reader


def test_education_page_is_readable_html(client: FlaskClient) -> None:
    response = client.get(PAGE)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<h1>Lumbar sympathetic block: what to expect</h1>" in html
    assert re.findall(r"<h2>(.*?)</h2>", html) == SECTIONS
    assert "@media print" in client.get("/education/static/education.css").get_data(as_text=True)


def section(topic_text: list[tuple[str, str]], title: str) -> str:
    return dict(topic_text)[title].lower()


def test_what_a_patient_needs_before_consenting_is_on_the_page() -> None:
    sections = education.page_sections(TOPIC)
    risks = section(sections, "Risks and side effects")
    for risk in ("numb or weak leg", "groin", "thigh", "low blood pressure", "bleeding",
                 "infection", "may not ease your pain"):
        assert risk in risks, risk
    can_do = section(sections, "What it can do for you")
    assert "not a cure" in can_do and "does not help everyone" in can_do
    assert "physical therapy" in can_do
    after = section(sections, "Afterwards")
    assert "blood thinners" in after and "the day the clinic gives you" in after
    assert "steroid" in after and "blood sugar" in after
    day = section(sections, "On the day")
    assert "list of all your medicines" in day and "blood sugar" in day
    # Blood thinners in general terms: the clinic gives each patient's own dates, no interval.
    text = " ".join(t for _, t in sections).lower()
    assert not re.search(r"\b\d+\s*(hours?|days?)\b.{0,40}(stop|pause|restart|start)", text)


def test_driving_advice_is_the_same_everywhere_on_the_page() -> None:
    text = " ".join(t for _, t in education.page_sections(TOPIC))
    # Everyone: no driving that day (the leg may be numb or weak); sedation: an adult home.
    assert text.count("Do not drive for the rest of the day") == 1
    assert "You should not drive that day" in text
    assert "help you relax. If so," in text and "An adult must take you home" in text
    assert not re.search(r"(only|unless).{0,40}driv", text, re.IGNORECASE)


def test_when_to_get_help_is_a_list_with_the_clinic_number(
    make_app: Callable[..., Flask],
) -> None:
    html = make_app(dev_mode=True, clinic_phone="+44 (0)20 7946 0000").test_client().get(
        PAGE).get_data(as_text=True)
    help_part = html.split("<h2>When to get help</h2>")[1]
    assert "Call your clinic on <strong>+44 (0)20 7946 0000</strong> if you have:" in help_part
    assert help_part.count("<li>") >= 6
    assert "{{" not in html


def test_without_a_number_the_page_says_your_clinic(client: FlaskClient) -> None:
    html = client.get(PAGE).get_data(as_text=True)
    assert "Call your clinic if you have:" in html
    assert "{{" not in html and "clinic on" not in html


@pytest.mark.parametrize("phone", ["call us", "<b>1</b>", "12", "555-0100; drop"])
def test_a_clinic_phone_that_is_not_a_number_stops_start_up(
    make_app: Callable[..., Flask], phone: str
) -> None:
    with pytest.raises(ConfigError, match="CDS_CLINIC_PHONE"):
        make_app(dev_mode=True, clinic_phone=phone)


def test_every_section_reads_at_grade_8_or_below() -> None:
    grades = {
        title: textstat.flesch_kincaid_grade(text) for title, text in education.page_sections(TOPIC)
    }
    assert list(grades)[1:] == SECTIONS
    assert {t: g for t, g in grades.items() if g > GRADE_GOAL} == {}
    # The measure can fail: a sentence written for clinicians scores far above the goal.
    clinical = ("Sympathetically mediated neuropathic pain of the lower extremity may respond to "
                "fluoroscopically guided paravertebral local anaesthetic sympathetic blockade.")
    assert textstat.flesch_kincaid_grade(clinical) > GRADE_GOAL


def test_every_section_has_its_sources_in_the_reviewer_note() -> None:
    note = (education.EDUCATION_DIR / f"{TOPIC}.sources.md").read_text(encoding="utf-8")
    rows = [line.split("|")[1:4] for line in note.splitlines() if line.startswith("| ")][1:]
    covered = {cell.strip() for cell, _, _ in rows}
    for title in SECTIONS:
        assert any(title.startswith(c) for c in covered), f"no source for section {title!r}"
    cited = {key for _, _, sources in rows for key in re.findall(r"\[(\w+)\]", sources)}
    defined = set(re.findall(r"^- \[(\w+)\]", note, re.MULTILINE))
    assert cited and cited <= defined, cited - defined


def test_unknown_or_odd_topics_are_404(client: FlaskClient) -> None:
    for topic in ("nope", "..%2Fsecret", "lumbar_sympathetic_block",
                  "lumbar-sympathetic-block.sources"):
        response = client.get(f"/education/{topic}")
        assert response.status_code == 404
        assert response.get_json()["resourceType"] == "OperationOutcome"
