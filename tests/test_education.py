"""The patient-education page linked from the suggestion card."""

from __future__ import annotations

from flask.testing import FlaskClient


def test_education_page_is_readable_html(client: FlaskClient) -> None:
    response = client.get("/education/lumbar-sympathetic-block")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<h1>Lumbar sympathetic block: what to expect</h1>" in html
    for section in ("What it is", "Before the procedure", "On the day", "Afterwards"):
        assert f"<h2>{section}</h2>" in html
    assert "driver" in html or "drive you home" in html
    assert "@media print" in client.get("/education/static/education.css").get_data(as_text=True)


def test_unknown_or_odd_topics_are_404(client: FlaskClient) -> None:
    for topic in ("nope", "..%2Fsecret", "lumbar_sympathetic_block"):
        response = client.get(f"/education/{topic}")
        assert response.status_code == 404
        assert response.get_json()["resourceType"] == "OperationOutcome"
