"""The sandbox's server side: when it is served, the fixture requests it builds, the chart
summary, and card rendering that no card text can turn into markup. The page itself is driven
in a browser in test_sandbox_browser.py."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from cds_service.config import Settings
from cds_service.web import sandbox_fixtures
from cds_service.web.security import CONTENT_SECURITY_POLICY

from fixture_files import NAMES, fixture_request


@pytest.mark.parametrize("path", ["/sandbox", "/sandbox/request", "/sandbox/static/sandbox.js"])
def test_sandbox_is_404_unless_enabled(
    path: str, make_app: Callable[..., Flask], trusted_file: Path
) -> None:
    app = make_app(trusted_clients=str(trusted_file))
    assert app.test_client().get(path).status_code == 404


def test_sandbox_setting_turns_it_on_outside_dev_mode(
    make_app: Callable[..., Flask], trusted_file: Path
) -> None:
    client = make_app(trusted_clients=str(trusted_file), sandbox=True).test_client()
    assert client.get("/sandbox").status_code == 200  # a clinician's browser has no token
    assert client.post("/sandbox/render", json={"cards": []}).status_code == 200
    # The hook calls the page makes are still guarded: they need the Bearer JWT field.
    body = fixture_request("01-crps-left-apixaban")
    assert client.post("/cds-services/lsb-order-select", json=body).status_code == 401


def test_sandbox_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDS_SANDBOX", "1")
    monkeypatch.setenv("CDS_SANDBOX_FIXTURES", "/nowhere")
    settings = Settings.from_env()
    assert settings.sandbox and settings.sandbox_enabled
    assert settings.sandbox_fixtures == "/nowhere"
    assert Settings(dev_mode=True).sandbox_enabled and not Settings().sandbox_enabled


def test_sandbox_page_has_a_strict_csp_and_no_inline_script(client: FlaskClient) -> None:
    response = client.get("/sandbox?patient=01-crps-left-apixaban")
    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "default-src 'self'" in CONTENT_SECURITY_POLICY
    html = response.get_data(as_text=True)
    assert "onclick" not in html and "style=" not in html
    assert "<script>" not in html  # only <script src=...> from our own origin
    for path in ("/sandbox/static/sandbox.js", "/sandbox/static/sandbox.css"):
        assert client.get(path).status_code == 200


def test_education_page_has_the_same_csp(client: FlaskClient) -> None:
    response = client.get("/education/lumbar-sympathetic-block")
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "onclick" not in response.get_data(as_text=True)


def test_chart_summary_of_fixture_01(client: FlaskClient) -> None:
    chart = sandbox_fixtures.chart(fixture_request("01-crps-left-apixaban"))
    assert chart.patient == "lsb-01" and chart.hook == "order-select"
    assert [(r.code, r.status) for r in chart.conditions.rows] == [("G90.522", "active")]
    assert [r.text for r in chart.medications.rows] == ["apixaban 5 MG Oral Tablet"]
    refs = [(o.ref, o.selected, o.is_block) for o in chart.orders]
    assert refs == [
        ("MedicationRequest/f01-ord-opioid", True, False),
        (sandbox_fixtures.LSB_REF, False, True),  # the block, offered for selection
    ]


def test_chart_summary_says_what_could_not_be_read() -> None:
    chart = sandbox_fixtures.chart(fixture_request("19-crps-statements-operationoutcome"))
    assert "could not be fetched" in chart.medications.problem
    assert sandbox_fixtures.chart(fixture_request("25-conditions-key-omitted")).conditions.problem
    inactive = sandbox_fixtures.chart(fixture_request("13-crps-abated-resolved-refuted"))
    assert not any(r.active for r in inactive.conditions.rows)


def test_chart_summary_names_contained_and_included_medications() -> None:
    name = "09-cancer-pain-snomed-enoxaparin-contained"
    contained = sandbox_fixtures.chart(fixture_request(name))
    assert any("enoxaparin" in r.text.lower() for r in contained.medications.rows)
    included = sandbox_fixtures.chart(fixture_request("10-causalgia-left-clopidogrel-included"))
    assert any("clopidogrel" in r.text.lower() for r in included.medications.rows)


def test_heavy_patient_summary_is_short() -> None:
    chart = sandbox_fixtures.chart(fixture_request("27-heavy-patient"))
    assert len(chart.conditions.rows) == sandbox_fixtures.CHART_LIMIT
    assert chart.conditions.rows[0].active and chart.conditions.more > 1000


def test_a_fixture_already_drafting_the_block_offers_it_once() -> None:
    listed = sandbox_fixtures.orders(fixture_request("16-lsb-selected-aspirin"))
    assert sum(o.is_block for o in listed) == 1
    assert sandbox_fixtures.LSB_REF not in {o.ref for o in listed}


@pytest.mark.parametrize("name", NAMES)
def test_every_fixture_opens(client: FlaskClient, name: str) -> None:
    response = client.get(f"/sandbox?patient={name}")
    assert response.status_code == 200
    assert f"<code>{name}</code>" in response.get_data(as_text=True)


def test_unknown_patient_is_404(client: FlaskClient) -> None:
    assert client.get("/sandbox?patient=../../etc/passwd").status_code == 404


def test_request_selecting_the_block_puts_it_on_the_pad(client: FlaskClient) -> None:
    query = {
        "patient": "01-crps-left-apixaban",
        "order": sandbox_fixtures.LSB_REF,
        "hook": "order-select",
    }
    built = client.get("/sandbox/request", query_string=query).get_json()
    original = fixture_request("01-crps-left-apixaban")
    assert built["hookInstance"] != original["hookInstance"]
    assert built["context"]["selections"] == [sandbox_fixtures.LSB_REF]
    block = built["context"]["draftOrders"]["entry"][-1]["resource"]
    assert block["code"]["coding"][0]["code"] == "64520"
    assert block["subject"] == {"reference": "Patient/lsb-01"}
    response = client.post("/cds-services/lsb-order-select", json=built)
    kinds = [c["source"]["topic"]["code"] for c in response.get_json()["cards"]]
    assert kinds == ["lsb-bleeding-risk"]


def test_request_for_order_sign_has_no_selections(client: FlaskClient) -> None:
    query = {
        "patient": "01-crps-left-apixaban",
        "order": "MedicationRequest/f01-ord-opioid",
        "hook": "order-sign",
    }
    built = client.get("/sandbox/request", query_string=query).get_json()
    assert built["hook"] == "order-sign" and "selections" not in built["context"]
    assert client.post("/cds-services/lsb-order-sign", json=built).status_code == 200


@pytest.mark.parametrize(
    "query",
    [
        {"patient": "01-crps-left-apixaban", "order": "Nope/1", "hook": "order-select"},
        {"patient": "01-crps-left-apixaban", "order": sandbox_fixtures.LSB_REF, "hook": "x"},
    ],
)
def test_request_rejects_what_is_not_on_offer(client: FlaskClient, query: dict[str, str]) -> None:
    response = client.get("/sandbox/request", query_string=query)
    assert response.status_code == 400
    assert response.get_json()["resourceType"] == "OperationOutcome"


HOSTILE_CARD = {
    "uuid": "u-1",
    "summary": "<img src=x onerror=alert(1)> summary",
    "indicator": 'critical" onmouseover="alert(1)',
    "detail": (
        "**bold** <script>alert(1)</script> [click](javascript:alert(1)) "
        "<a href='javascript:alert(2)'>raw</a> ![img](https://evil.example/x.png)"
    ),
    "source": {"label": "<b>src</b>", "url": "javascript:alert(3)"},
    "links": [
        {"label": "bad", "url": "javascript:alert(4)", "type": "absolute"},
        {"label": "good", "url": "https://example.org/page", "type": "absolute"},
    ],
    "suggestions": [
        {
            "label": "<i>go</i>",
            "uuid": 's-1" data-x="',
            "actions": [{"type": "create", "description": "d", "resource": {"text": "</pre>"}}],
        }
    ],
    "overrideReasons": [{"system": "s", "code": 'c"><b>', "display": "<b>reason</b>"}],
}


def test_render_escapes_and_sanitises_card_text(client: FlaskClient) -> None:
    response = client.post("/sandbox/render", json={"cards": [HOSTILE_CARD]})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<strong>bold</strong>" in html  # Markdown is rendered
    for bad in ("<script", "<img", 'href="javascript', "<b>", "<i>", "evil"):
        assert bad not in html, bad
    assert "onerror=" not in html.replace("&lt;img src=x onerror=", "")  # only as text
    assert "&lt;img src=x onerror=alert(1)&gt; summary" in html
    assert "&lt;/pre&gt;" in html  # the suggested resource is shown as text
    assert 'class="card card-info"' in html  # an unknown indicator falls back to info
    assert 'href="https://example.org/page"' in html
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


def test_render_needs_a_cards_list(client: FlaskClient) -> None:
    assert client.post("/sandbox/render", json={"cards": "no"}).status_code == 400
    assert client.post("/sandbox/render", data="x", content_type="text/plain").status_code == 400


def test_a_booking_fixture_shows_its_appointments_and_moves_them_together() -> None:
    request = fixture_request("46-book-series-of-three")
    chart = sandbox_fixtures.chart(request)
    assert chart.hook == "appointment-book" and chart.orders == []
    assert [a.ref for a in chart.appointments] == [
        "Appointment/f46-apt-first",
        "Appointment/f46-apt-second",
        "Appointment/f46-apt-third",
    ]
    assert sandbox_fixtures.first_day(request) == "2026-12-15"
    built = sandbox_fixtures.build_request(request, "", "appointment-book", "2027-02-28")
    starts = {
        e["resource"]["id"]: e["resource"]["start"]
        for e in built["context"]["appointments"]["entry"]
    }
    assert starts == {
        "f46-apt-first": "2027-02-28T09:00:00+00:00",
        "f46-apt-second": "2027-03-07T09:00:00+00:00",  # across the month end, 7 days on
        "f46-apt-third": "2027-03-28T09:00:00+00:00",
    }
    assert built["hookInstance"] != request["hookInstance"]
    with pytest.raises(ValueError):
        sandbox_fixtures.build_request(request, "", "appointment-book", "28/02/2027")
    with pytest.raises(ValueError):  # an order fixture books nothing
        sandbox_fixtures.build_request(
            fixture_request("01-crps-left-apixaban"), "", "appointment-book"
        )


def test_booking_request_endpoint_takes_the_date(client: FlaskClient) -> None:
    response = client.get(
        "/sandbox/request?patient=40-book-warfarin-in-time&hook=appointment-book&date=2027-01-01"
    )
    [entry] = response.get_json()["context"]["appointments"]["entry"]
    assert entry["resource"]["start"] == "2027-01-01T09:00:00-05:00"
    bad = client.get(
        "/sandbox/request?patient=40-book-warfarin-in-time&hook=appointment-book&date=x"
    )
    assert bad.status_code == 400


def _bundle(*resources: dict) -> dict:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": r} for r in resources],
    }


def _with_prefetch(name: str, **prefetch: object) -> dict:
    request = fixture_request(name)
    request["prefetch"] = {**request["prefetch"], **prefetch}
    return request


def test_chart_shows_therapy_and_injections_tried_with_their_dates() -> None:
    chart = sandbox_fixtures.chart(fixture_request("31-crps-therapy-tried"))
    rows = [(r.text.split(",")[0], r.code, r.when, r.active) for r in chart.procedures.rows]
    assert rows == [  # latest first
        ("Injection", "64493", "2026-08-12", True),
        ("Physical therapy evaluation: low complexity", "97161", "2026-05-04", True),
    ]
    assert chart.allergies.note == chart.labs.note == "none on record"


def test_chart_lists_a_completed_order_only_where_no_procedure_records_it() -> None:
    block = {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "64520"}]}
    done = {
        "resourceType": "ServiceRequest",
        "id": "sr-done",
        "status": "completed",
        "code": block,
        "occurrenceDateTime": "2026-10-01",
    }
    recorded = {
        "resourceType": "ServiceRequest",
        "id": "sr-recorded",
        "status": "completed",
        "code": block,
        "occurrenceDateTime": "2026-09-01",
    }
    procedure = {
        "resourceType": "Procedure",
        "id": "p1",
        "status": "not-done",
        "code": block,
        "performedDateTime": "2026-09-02",
        "basedOn": [{"reference": "ServiceRequest/sr-recorded"}],
    }
    request = _with_prefetch(
        "31-crps-therapy-tried",
        procedures=_bundle(procedure),
        completedServiceRequests=_bundle(done, recorded),
    )
    rows = sandbox_fixtures.chart(request).procedures.rows
    assert [(r.when, r.status, r.active) for r in rows] == [
        ("2026-10-01", "completed order", True),
        ("2026-09-02", "not-done", False),  # shown, struck through: it was not done
    ]


def test_chart_shows_an_allergy_with_criticality_and_reaction() -> None:
    chart = sandbox_fixtures.chart(fixture_request("32-lsb-contrast-allergy"))
    [row] = chart.allergies.rows
    assert (row.text, row.code, row.status, row.active) == (
        "Allergy to contrast media (finding)",
        "293637006",
        "active",
        True,
    )
    assert row.detail == "criticality high, reaction: Hives and wheezing after a CT scan"


@pytest.mark.parametrize(
    ("clinical", "verification", "status"),
    [
        ("active", "refuted", "refuted"),
        ("active", "entered-in-error", "entered-in-error"),
        ("resolved", "confirmed", "resolved"),
    ],
)
def test_chart_strikes_through_refuted_and_resolved_allergies(
    clinical: str, verification: str, status: str
) -> None:
    allergy = {
        "resourceType": "AllergyIntolerance",
        "id": "a1",
        "code": {"text": "Iohexol"},
        "clinicalStatus": {"coding": [{"code": clinical}]},
        "verificationStatus": {"coding": [{"code": verification}]},
    }
    request = _with_prefetch("32-lsb-contrast-allergy", allergies=_bundle(allergy))
    [row] = sandbox_fixtures.chart(request).allergies.rows
    assert (row.text, row.status, row.active) == ("Iohexol", status, False)


def test_chart_shows_the_latest_inr_and_platelets_as_the_lab_reported_them() -> None:
    chart = sandbox_fixtures.chart(fixture_request("33-lsb-warfarin-inr"))
    rows = [(r.text, r.when, r.detail) for r in chart.labs.rows]
    inr = ("INR", "2026-11-20", "1.1, flagged Normal, reference range 0.8 to 1.2")
    assert inr in rows  # the UCUM annotation {INR} names no unit, so none is shown
    assert len(rows) == 2 and rows[1][0] == "Platelet count" and "10*3/uL" in rows[1][2]


def test_chart_names_a_flag_sent_as_a_code_alone() -> None:
    chart = sandbox_fixtures.chart(fixture_request("60-lsb-sign-low-platelets-no-drug"))
    [row] = chart.labs.rows
    assert row.detail.startswith("45 10*3/uL, flagged Critical low, reference range 150")


def test_chart_labs_keep_a_test_the_rules_do_not_read() -> None:
    sodium = {
        "resourceType": "Observation",
        "id": "na",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "2951-2"}], "text": "Sodium"},
        "effectiveDateTime": "2026-11-01T08:00:00Z",
        "valueQuantity": {"value": 139, "comparator": "<", "unit": "mmol/L"},
    }
    request = _with_prefetch("33-lsb-warfarin-inr", observations=_bundle(sodium))
    [row] = sandbox_fixtures.chart(request).labs.rows
    assert (row.text, row.when, row.detail) == ("Sodium", "2026-11-01", "<139 mmol/L")


def test_chart_record_sections_say_what_could_not_be_read() -> None:
    outcome = {"resourceType": "OperationOutcome", "issue": []}
    request = _with_prefetch(
        "33-lsb-warfarin-inr",
        allergies=outcome,
        observations="garbage",
        completedServiceRequests=outcome,
    )
    chart = sandbox_fixtures.chart(request)
    assert "could not be fetched" in chart.allergies.problem and not chart.allergies.rows
    assert chart.labs.problem == "not readable"
    assert "completed orders could not be fetched" in chart.procedures.problem
    del request["prefetch"]["allergies"]
    assert sandbox_fixtures.chart(request).allergies.note == "not supplied in prefetch"


def test_chart_record_sections_of_the_heavy_patient_say_how_many_more() -> None:
    chart = sandbox_fixtures.chart(fixture_request("27-heavy-patient"))
    assert len(chart.procedures.rows) == sandbox_fixtures.CHART_LIMIT
    assert chart.procedures.more > 0 and chart.allergies.more > 0


def test_booking_chart_shows_the_earlier_block_and_the_allergy() -> None:
    chart = sandbox_fixtures.chart(fixture_request("48-book-second-block-contrast-allergy"))
    assert [(r.code, r.when) for r in chart.procedures.rows] == [("64520", "2026-11-23")]
    assert chart.allergies.rows[0].code == "293637006"
    assert chart.labs.note == "none on record" and chart.appointments


def test_booking_chart_shows_the_lab_results_booking_reads() -> None:
    chart = sandbox_fixtures.chart(fixture_request("75-book-low-platelets-no-drug"))
    [row] = chart.labs.rows
    assert (row.text, row.when) == ("Platelet count", "2026-11-20")
    assert row.detail.startswith("45 10*3/uL, flagged Critical low")
    without = fixture_request("75-book-low-platelets-no-drug")
    del without["prefetch"]["observations"]
    assert sandbox_fixtures.chart(without).labs.note == "not supplied in prefetch"


def test_chart_shows_the_schedule_of_a_booking_in_date_order() -> None:
    chart = sandbox_fixtures.chart(fixture_request("50-book-scheduled-block-far-enough"))
    assert [(r.text, r.when, r.status, r.active) for r in chart.schedule.rows] == [
        ("Pain clinic procedure", "2026-12-02", "booked", True),
        ("Physical therapy evaluation", "2026-12-18", "booked", True),
    ]
    cancelled = {"resourceType": "Appointment", "id": "c", "status": "cancelled",
                 "description": "Nerve block", "start": "2026-12-01T09:00:00-05:00"}
    request = _with_prefetch("49-book-scheduled-block-too-close",
                             scheduledAppointments=_bundle(cancelled))
    [row] = sandbox_fixtures.chart(request).schedule.rows
    assert (row.text, row.status, row.active) == ("Nerve block", "cancelled", False)
    unreadable = sandbox_fixtures.chart(fixture_request("51-book-scheduled-unreadable"))
    assert "could not be fetched" in unreadable.schedule.problem
    assert sandbox_fixtures.chart(fixture_request("01-crps-left-apixaban")).schedule.rows == []
