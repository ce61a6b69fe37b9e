"""Errors as the CDS Hooks spec asks: a non-2xx status with a FHIR OperationOutcome body.

No error body carries a stack trace, a token or a patient identifier.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify
from werkzeug.exceptions import ClientDisconnected, HTTPException

log = logging.getLogger(__name__)

# OperationOutcome issue codes (http://hl7.org/fhir/issue-type) by HTTP status.
ISSUE_CODE = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    408: "timeout",
    412: "incomplete",
    413: "too-long",
    415: "not-supported",
    429: "throttled",
    500: "exception",
    503: "transient",
}


# Seconds an EHR is asked to wait before calling again after a 503 (the database or another
# dependency is down): long enough not to hammer it, short enough for the next order.
RETRY_AFTER_S = 5


class CdsError(Exception):
    """An error the caller can act on; `problems` lists each one (field path → message)."""

    def __init__(
        self,
        status: int,
        message: str,
        problems: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.problems = problems or {}
        self.headers = headers or {}


def operation_outcome(status: int, message: str, problems: dict[str, str] | None = None) -> dict:
    code = ISSUE_CODE.get(status, "processing")
    issues: list[dict[str, Any]] = [{"severity": "error", "code": code, "diagnostics": message}]
    for where, what in (problems or {}).items():
        issues.append(
            {"severity": "error", "code": code, "diagnostics": what, "expression": [where]}
        )
    return {"resourceType": "OperationOutcome", "issue": issues}


def error_response(status: int, message: str, problems: dict[str, str] | None = None) -> Response:
    response = jsonify(operation_outcome(status, message, problems))
    response.status_code = status
    return response


def register_error_handlers(app: Flask) -> None:
    @app.after_request
    def retry_after(response: Response) -> Response:
        # Every 503 says when to try again (RFC 9110 10.2.3), whichever part raised it.
        if response.status_code == 503:
            response.headers.setdefault("Retry-After", str(RETRY_AFTER_S))
        return response

    @app.errorhandler(CdsError)
    def cds_error(exc: CdsError) -> Response:
        response = error_response(exc.status, exc.message, exc.problems)
        response.headers.update(exc.headers)
        return response

    @app.errorhandler(ClientDisconnected)
    def body_cut_short(exc: ClientDisconnected) -> Response:
        if isinstance(exc.__context__, TimeoutError):  # the server's read timeout (--read-timeout)
            return error_response(408, "The request body stopped arriving; send it again.")
        return error_response(400, "The request body ended before its declared length.")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        response = error_response(status, exc.description or exc.name)
        for name, value in exc.get_headers():
            if name.lower() in ("allow", "retry-after"):
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        # Logged with the exception type and place only: the message may quote patient data.
        log.error("unhandled %s", type(exc).__name__, exc_info=app.debug)
        return error_response(500, "The service failed to process the request.")
