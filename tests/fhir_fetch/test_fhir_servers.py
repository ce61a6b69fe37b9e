"""The allowlist rules on their own: what counts as "under" an allowed base URL."""

from __future__ import annotations

import pytest

from cds_service.data.fhir_client import retry_after_seconds
from cds_service.data.fhir_servers import parse_url, server_allowed

ALLOWED = ("https://ehr.example.org/fhir/R4",)


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://ehr.example.org/fhir/R4", True),
        ("https://EHR.example.org:443/fhir/R4/", True),
        ("https://ehr.example.org/fhir/R4/tenant-1", True),
        ("https://ehr.example.org/fhir/R4b", False),  # whole path segments only
        ("https://ehr.example.org/fhir", False),
        ("http://ehr.example.org/fhir/R4", False),  # scheme counts
        ("https://ehr.example.org:8443/fhir/R4", False),  # port counts
        ("https://ehr.example.org.evil.test/fhir/R4", False),
        ("https://user:pw@ehr.example.org/fhir/R4", False),
        ("https://ehr.example.org/fhir/R4/../../admin", False),
        ("https://ehr.example.org/fhir/R4/%2e%2e/admin", False),
        ("https://ehr.example.org/fhir/R4?x=1", False),
        ("https://169.254.169.254/latest/meta-data", False),
        ("http://127.0.0.1:8080/fhir", False),  # loopback only when allowed explicitly
        ("file:///etc/passwd", False),
    ],
)
def test_server_allowed(url: str, allowed: bool) -> None:
    assert server_allowed(url, ALLOWED, allow_loopback=False) is allowed


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/fhir", "http://127.8.0.1/fhir", "http://localhost/fhir",
            "http://[::1]:9/fhir"],
)
def test_loopback_is_allowed_only_when_configured(url: str) -> None:
    assert server_allowed(url, (), allow_loopback=True)
    assert not server_allowed(url, (), allow_loopback=False)


def test_an_unparsable_allowlist_entry_allows_nothing() -> None:
    assert parse_url("not a url", base=True) is None
    assert not server_allowed("https://ehr.example.org/fhir", ("not a url",), False)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [(None, None), ("", None), ("0", 0.0), ("2", 2.0), ("soon", None),
     ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)],  # a date in the past: no wait
)
def test_retry_after(header: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(header) == seconds
