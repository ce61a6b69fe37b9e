"""The sandbox and the patient-education page in headless Chromium, against the real service
under gunicorn on loopback: what a clinician or an integrator sees and does.

Every page here must load nothing from another origin and log no script or CSP error.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from cds_service.web import education

from browser_support import CHROMIUM, launch_chromium
from fixture_files import NAMES, card_kind, fixture_expected, fixture_request, matched_cards

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium for the whole module: starting it is most of a browser test's cost."""
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing: `make browser` installs Debian's chromium"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture()
def page(browser: Browser, live_server: str) -> Iterator[Page]:
    context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    foreign: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(live_server) else foreign.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    # HTTP errors the tests provoke (400, 412, a missing feedback endpoint) are logged as
    # "Failed to load resource"; anything else (a CSP refusal, a script error) is a failure.
    page.on(
        "console",
        lambda m: errors.append(m.text)
        if m.type == "error" and not m.text.startswith("Failed to load resource")
        else None,
    )
    yield page
    context.close()
    assert foreign == [], "the page reached another origin"
    assert errors == [], "the page logged errors"


def open_patient(page: Page, name: str) -> None:
    page.goto(f"/sandbox?patient={name}")
    page.wait_for_selector("body[data-ready='1']")


def settle(page: Page) -> None:
    page.wait_for_selector("body:not([data-busy])")


def fire(page: Page) -> None:
    page.click("#fire")
    settle(page)


def send_edited(page: Page, body: dict[str, Any] | str) -> None:
    if not page.is_checked("#edit-mode"):
        page.check("#edit-mode")
    page.fill("#request-json", body if isinstance(body, str) else json.dumps(body))
    page.click("#send-edited")
    settle(page)


def shown_cards(page: Page) -> list[dict[str, str]]:
    return page.eval_on_selector_all(
        "#cards .card",
        """cards => cards.map(c => ({
            kind: c.dataset.kind,
            indicator: c.className.replace('card card-', ''),
            text: c.querySelector('.card-summary').innerText + '\\n'
                + c.querySelector('.card-detail').innerText,
        }))""",
    )


def feedback_landed(page: Page, card: Any) -> bool:
    """Whether the service took the feedback; False while its endpoint does not exist."""
    expect(card).to_have_attribute("data-feedback", "sent")
    status = card.locator(".feedback-status")
    if status.get_attribute("data-status") == "404":
        return False
    expect(status).to_contain_text("HTTP 200, stored 1")
    return True


def stored_feedback(card_uuid: str) -> list[dict[str, Any]]:
    """What the live server stored for a card, read from its database (CDS_DATABASE_URL)."""
    from sqlalchemy import create_engine, select

    from cds_service.feedback.models import CardFeedback

    engine = create_engine(os.environ["CDS_DATABASE_URL"])
    try:
        with engine.connect() as connection:
            query = select(CardFeedback.__table__).where(CardFeedback.card_uuid == card_uuid)
            return [dict(row) for row in connection.execute(query).mappings()]
    finally:
        engine.dispose()


# The live server runs at the fixtures' "today" (CDS_FIXED_NOW = FIXTURE_NOW): cards that
# depend on the date (the series, the booking dates) are checked here too. It has no clinic
# protocol: a fixture that needs one is checked in test_fixtures.py.
@pytest.mark.parametrize("name", [n for n in NAMES if "protocol" not in fixture_expected(n)])
def test_each_fixture_shows_its_expected_cards(page: Page, name: str) -> None:
    expected = fixture_expected(name)
    open_patient(page, name)
    fire(page)
    status = page.get_attribute("#call-status", "data-status")
    assert status == str(expected["status"])
    cards = shown_cards(page)
    want = sorted((c["kind"], c["indicator"]) for c in expected["cards"])
    assert sorted((c["kind"], c["indicator"]) for c in cards) == want
    for card, shown in matched_cards(cards, expected["cards"], lambda c: c["kind"]):
        text = shown["text"].lower()
        for mention in card["mentions"]:
            assert mention.lower() in text, (card["kind"], mention)
    if not expected["cards"]:
        expect(page.locator("#cards")).to_contain_text(
            "No cards" if status == "200" else f"HTTP {status}"
        )


def test_cards_render_as_an_ehr_shows_them(page: Page, live_server: str) -> None:
    open_patient(page, "01-crps-left-apixaban")
    expect(page.locator(".chart-list[data-list=problems]")).to_contain_text("G90.522")
    expect(page.locator(".chart-list[data-list=medications]")).to_contain_text("apixaban")
    fire(page)
    expect(page.locator("#call-status")).to_have_text(
        re.compile(r"lsb-order-select: HTTP 200 · \d+ ms · 1 card")
    )
    expect(page.locator("#latency")).to_have_text(re.compile(r"HTTP 200 · \d+ ms"))
    info = page.locator(".card[data-kind=lsb-suggestion]")
    expect(info).to_have_class(re.compile(r"\bcard-info\b"))
    expect(info.locator("svg.card-icon")).to_be_visible()
    # Markdown is rendered: bold becomes <strong>, no asterisks left.
    expect(info.locator(".card-detail strong").first).to_contain_text("Complex regional pain")
    assert "**" not in info.locator(".card-detail").inner_text()
    expect(info.locator(".card-detail")).to_contain_text("Apixaban")  # one line per drug
    expect(info.locator(".card-source")).to_contain_text("knowledge ")
    links = info.locator(".card-links a")
    assert [links.nth(i).get_attribute("href") for i in range(links.count())] == [
        f"{live_server}/education/lumbar-sympathetic-block/clinicians",
        f"{live_server}/education/lumbar-sympathetic-block",
    ]
    assert links.first.get_attribute("rel") == "noopener noreferrer"
    expect(info.locator("[data-suggestion]")).to_have_text(
        [
            "Order a lumbar sympathetic block (draft, for review)",
            "Refer to pain medicine (draft referral)",
        ]
    )
    sent = json.loads(page.input_value("#request-json"))
    assert sent["context"]["selections"] == ["MedicationRequest/f01-ord-opioid"]
    received = json.loads(page.inner_text("#response-json"))
    assert [card_kind(c) for c in received["cards"]] == ["lsb-suggestion"]


def test_accepting_a_suggestion_shows_the_order_and_sends_feedback(page: Page) -> None:
    open_patient(page, "01-crps-left-apixaban")
    fire(page)
    card = page.locator(".card[data-kind=lsb-suggestion]")
    card.locator("[data-suggestion]").first.click()
    shown = card.locator("[data-accepted]").first
    expect(shown).to_be_visible()
    expect(shown).to_contain_text("The EHR would")
    resource = json.loads(shown.locator("pre.resource").inner_text())
    assert resource["resourceType"] == "ServiceRequest" and resource["status"] == "draft"
    assert resource["code"]["coding"][0]["code"] == "64520"
    assert resource["reasonReference"] == [{"reference": "Condition/f01-crps"}]
    expect(card.locator("[data-suggestion]").last).to_be_disabled()  # at-most-one
    expect(card).to_have_attribute("data-state", "accepted")
    sent = json.loads(page.locator("#feedback-log pre").first.inner_text())["feedback"][0]
    assert sent["card"] == card.get_attribute("data-uuid")
    assert sent["outcome"] == "accepted"
    assert sent["acceptedSuggestions"] == [
        {"id": card.locator("[data-suggestion]").first.get_attribute("data-suggestion")}
    ]
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$", sent["outcomeTimestamp"])
    if not feedback_landed(page, card):
        pytest.skip("POST /cds-services/{id}/feedback is not on this branch yet (HTTP 404)")
    [row] = stored_feedback(sent["card"])
    assert row["outcome"] == "accepted"
    assert row["accepted_suggestions"] == [sent["acceptedSuggestions"][0]["id"]]


def test_dismissing_offers_the_override_reasons_and_sends_feedback(page: Page) -> None:
    open_patient(page, "16-lsb-selected-aspirin")
    fire(page)
    card = page.locator(".card[data-kind=lsb-bleeding-risk]")
    expect(card).to_have_class(re.compile(r"\bcard-warning\b"))  # aspirin: shared assessment
    expect(card.locator(".indicator")).to_have_text("warning")
    expect(card.locator("form.override")).to_be_hidden()
    card.locator("[data-dismiss]").click()
    reasons = card.locator("form.override input[name=reason]")
    expect(reasons).to_have_count(2)
    reason = "Plan agreed with the prescriber"
    expect(card.locator("form.override")).to_contain_text(reason)
    card.get_by_label(reason).check()
    card.locator("input[name=comment]").fill("Anticoagulation clinic has the plan")
    card.locator("form.override button[type=submit]").click()
    expect(card).to_have_attribute("data-state", "overridden")
    expect(card.locator(".card-body")).to_be_hidden()
    sent = json.loads(page.locator("#feedback-log pre").first.inner_text())["feedback"][0]
    assert sent["outcome"] == "overridden" and sent["card"] == card.get_attribute("data-uuid")
    assert sent["overrideReason"] == {
        "reason": {
            "system": "urn:lsb-cds-service:override-reason",
            "code": "hold-planned",
            "display": "Plan agreed with the prescriber",
        },
        "userComment": "Anticoagulation clinic has the plan",
    }
    if not feedback_landed(page, card):
        pytest.skip("POST /cds-services/{id}/feedback is not on this branch yet (HTTP 404)")
    [row] = stored_feedback(sent["card"])
    assert row["outcome"] == "overridden"
    assert row["override_reason_code"] == "hold-planned"
    assert row["user_comment"] == "Anticoagulation clinic has the plan"


def test_selecting_the_block_itself_warns_critically(page: Page) -> None:
    open_patient(page, "01-crps-left-apixaban")
    page.check("input[name=order][value='ServiceRequest/sandbox-lsb']")
    settle(page)
    assert json.loads(page.input_value("#request-json"))["context"]["selections"] == [
        "ServiceRequest/sandbox-lsb"
    ]
    fire(page)
    cards = shown_cards(page)
    assert [(c["kind"], c["indicator"]) for c in cards] == [("lsb-bleeding-risk", "critical")]
    assert "apixaban" in cards[0]["text"].lower()
    card = page.locator(".card-critical")
    card.locator("[data-suggestion]").click()
    expect(card.locator("[data-accepted]")).to_contain_text("ServiceRequest/sandbox-lsb")


def test_chart_shows_procedures_allergies_and_labs(page: Page) -> None:
    """The record's own procedures, allergies and labs, beside the cards made from them."""
    open_patient(page, "31-crps-therapy-tried")
    procedures = page.locator(".chart-list[data-list=procedures] li")
    expect(procedures).to_have_count(2)
    expect(procedures.first).to_contain_text("facet joint")
    expect(procedures.first.locator("time")).to_have_text("2026-08-12")
    expect(procedures.nth(1)).to_contain_text("Physical therapy")
    expect(page.locator("section.chart")).to_contain_text("none on record")

    open_patient(page, "32-lsb-contrast-allergy")
    allergy = page.locator(".chart-list[data-list=allergies] li")
    expect(allergy).to_contain_text("Allergy to contrast media")
    expect(allergy).to_contain_text("criticality high")
    expect(allergy).to_contain_text("Hives and wheezing after a CT scan")
    expect(allergy).to_have_class("active")

    open_patient(page, "33-lsb-warfarin-inr")
    inr = page.locator(".chart-list[data-list=labs] li").filter(has_text="INR")
    expect(inr).to_contain_text("1.1, flagged Normal")
    expect(inr.locator("time")).to_have_text("2026-11-20")
    assert "{INR}" not in inr.inner_text()  # a UCUM annotation is not a unit a person reads
    expect(page.locator(".chart-list[data-list=labs]")).to_contain_text("Platelet count")


def test_booking_with_the_date_picker(page: Page) -> None:
    """appointment-book: too soon on the fixture's date; the earliest date the card names
    clears it, and the follow-up can be accepted (the server's clock is FIXTURE_NOW)."""
    open_patient(page, "41-book-warfarin-too-soon")
    expect(page.locator(".chart-list[data-list=appointments]")).to_contain_text("2026-11-27")
    expect(page.locator("#booking-date")).to_have_value("2026-11-27")
    fire(page)
    critical = page.locator(".card[data-kind=booking-too-soon]")
    expect(critical).to_have_class(re.compile(r"\bcard-critical\b"))
    expect(critical).to_contain_text("Earliest date that works: Tuesday 1 December 2026")
    expect(critical.locator("[data-suggestion]")).to_have_count(0)  # nothing moves the booking
    critical.locator("[data-dismiss]").click()
    expect(critical.locator("form.override")).to_contain_text("Hold already started")
    expect(critical.locator("form.override")).to_contain_text("Prescriber plan differs")

    page.fill("#booking-date", "2026-12-01")
    fire(page)
    sent = json.loads(page.input_value("#request-json"))
    [entry] = sent["context"]["appointments"]["entry"]
    assert entry["resource"]["start"] == "2026-12-01T09:00:00-05:00"
    assert entry["resource"]["end"] == "2026-12-01T10:00:00-05:00"
    expect(page.locator(".card[data-kind=booking-too-soon]")).to_have_count(0)
    plan = page.locator(".card[data-kind=booking-hold-plan]")
    expect(plan).to_contain_text("Last dose: Wednesday 25 November 2026")
    info = page.locator(".card[data-kind=booking-preparation]")
    info.locator("[data-suggestion]").click()
    resource = json.loads(info.locator("[data-accepted] pre.resource").inner_text())
    assert resource["occurrencePeriod"] == {"start": "2026-12-08", "end": "2026-12-15"}
    sent_feedback = json.loads(page.locator("#feedback-log pre").first.inner_text())
    assert feedback_landed(page, info)
    [row] = stored_feedback(sent_feedback["feedback"][0]["card"])
    assert row["outcome"] == "accepted"


def test_booking_shows_the_schedule_and_warns_next_to_a_block_in_it(page: Page) -> None:
    open_patient(page, "49-book-scheduled-block-too-close")
    schedule = page.locator(".chart-list[data-list=schedule] li")
    expect(schedule).to_have_count(1)
    expect(schedule.first).to_contain_text("Lumbar sympathetic block, left")
    expect(schedule.first.locator("time")).to_have_text("2026-12-10")
    fire(page)
    spacing = page.locator(".card[data-kind=booking-series-spacing]")
    expect(spacing).to_contain_text("Thursday 10 December 2026")
    open_patient(page, "01-crps-left-apixaban")  # ordering: no schedule section
    expect(page.locator(".chart-list[data-list=schedule]")).to_have_count(0)


def test_order_sign_signs_the_pad(page: Page) -> None:
    open_patient(page, "01-crps-left-apixaban")
    page.check("input[name=hook][value=order-sign]")
    settle(page)
    expect(page.locator("#fire")).to_have_text("Fire order-sign")
    sent = json.loads(page.input_value("#request-json"))
    assert sent["hook"] == "order-sign" and "selections" not in sent["context"]
    fire(page)
    expect(page.locator("#call-status")).to_contain_text("lsb-order-sign: HTTP 200")
    # At signing only safety cards; the block is not among the orders, so there are none.
    assert shown_cards(page) == []
    expect(page.locator("#cards")).to_contain_text("No cards")


def test_edit_request_mode_sends_exactly_what_is_pasted(page: Page) -> None:
    open_patient(page, "01-crps-left-apixaban")
    expect(page.locator("#request-json")).to_have_attribute("readonly", "")
    send_edited(page, fixture_request("04-phantom-pain-amputation"))
    expect(page.locator("#fire")).to_be_disabled()  # the pad would not send the edits
    cards = shown_cards(page)
    assert [c["kind"] for c in cards] == ["lsb-suggestion"]
    assert "phantom limb" in cards[0]["text"].lower()
    send_edited(page, "{oops")
    expect(page.locator("#call-status")).to_contain_text("HTTP 400")
    expect(page.locator("#cards .error")).to_contain_text("HTTP 400")
    assert json.loads(page.inner_text("#response-json"))["resourceType"] == "OperationOutcome"


def test_record_text_is_shown_as_text_never_as_markup(page: Page) -> None:
    body = fixture_request("01-crps-left-apixaban")
    condition = body["prefetch"]["conditions"]["entry"][0]["resource"]
    hostile = '<img src=x onerror="document.body.dataset.pwned=1"> [x](javascript:alert(1))'
    condition["code"]["coding"][0]["display"] = hostile
    open_patient(page, "01-crps-left-apixaban")
    send_edited(page, body)
    card = page.locator(".card[data-kind=lsb-suggestion]")
    expect(card.locator(".card-detail")).to_contain_text('<img src=x onerror="document.body')
    assert card.locator(".card-detail img, .card-detail a").count() == 0
    assert page.get_attribute("body", "data-pwned") is None


def test_education_page_is_readable_and_printable(page: Page) -> None:
    open_patient(page, "04-phantom-pain-amputation")
    fire(page)
    href = page.get_by_role("link", name="Patient information: lumbar sympathetic block")
    page.goto(href.get_attribute("href") or "")
    expect(page.locator("h1")).to_have_text("Lumbar sympathetic block: what to expect")
    headings = [title for title, _ in education.page_sections("lumbar-sympathetic-block")[1:]]
    assert len(headings) == 7  # what it is, can do, risks, before, on the day, after, help
    expect(page.locator("h2")).to_have_text(headings)
    style = "el => parseFloat(getComputedStyle(el).fontSize)"
    assert page.eval_on_selector("main p", style) >= 17  # large enough to read
    assert page.eval_on_selector("main", "el => el.getBoundingClientRect().width") <= 720
    print_button = page.get_by_role("button", name="Print this page")
    expect(print_button).to_be_visible()  # its script ran under the page's CSP
    page.emulate_media(media="print")
    expect(print_button).to_be_hidden()
    pdf = page.pdf(format="A4")
    assert pdf.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page\b", pdf)) <= 2


def test_clinician_page_is_readable_and_printable(page: Page) -> None:
    open_patient(page, "01-crps-left-apixaban")
    fire(page)
    link = page.locator(".card[data-kind=lsb-suggestion] .card-links a").first
    page.goto(link.get_attribute("href") or "")
    expect(page.locator("h1")).to_have_text("Lumbar sympathetic block: for clinicians")
    expect(page.locator("table")).to_contain_text("warfarin")
    expect(page.locator("main")).to_contain_text("as tabulated in")
    print_button = page.get_by_role("button", name="Print this page")
    expect(print_button).to_be_visible()  # its script ran under the page's CSP
    page.emulate_media(media="print")
    expect(print_button).to_be_hidden()
    assert page.pdf(format="A4").startswith(b"%PDF")
