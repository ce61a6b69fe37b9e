"""Headers for the pages people open in a browser (sandbox, patient education)."""

from __future__ import annotations

from flask import Response

# Nothing from other origins, no inline script or style, no framing: the pages hold no
# secrets, but the sandbox shows patient records and sends feedback.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)


def page_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
