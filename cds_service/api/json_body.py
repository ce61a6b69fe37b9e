"""The JSON body of a request, read and parsed one way for every endpoint (hook calls, feedback).

Reading: a body over the endpoint's size limit is a 413 however it is framed. With a
Content-Length, Werkzeug refuses it before reading; a chunked body has no length up front, so it
is read up to one byte past the limit, never cut at the limit and parsed. A body whose framing
is broken (a malformed chunk, a connection closed early) is a 400, not a 500.

Parsing: strict JSON (RFC 8259), as FHIR JSON requires, with orjson: `NaN`, `Infinity`,
`-Infinity`, numbers beyond a double (`1e999999`) and text that is not Unicode (a lone
surrogate escape such as `\\ud800`, which no database can store) are refused.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import orjson
from flask import request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from cds_service.api.errors import CdsError

log = logging.getLogger(__name__)

JSON_TYPES = ("application/json", "application/fhir+json")
READ_SIZE = 64 * 1024
LONE_SURROGATE = "a lone surrogate (\\ud800-\\udfff), which is not Unicode text"


def read_json_body() -> Any:
    """The request's JSON value; CdsError (400, 413, 415) when it cannot be had."""
    if request.mimetype not in JSON_TYPES:
        raise CdsError(415, "Send the request as application/json.")
    return parse_json(read_body(request.max_content_length))


def read_body(limit: int | None) -> bytes:
    try:
        if request.content_length is not None or limit is None:
            return request.get_data(cache=False)  # over the limit: 413 before reading
        return _read_unsized(request.environ["wsgi.input"], limit)
    except HTTPException:
        raise
    except Exception as exc:  # the server's parser (e.g. gunicorn's InvalidChunkSize) or I/O
        log.info("request body unreadable: %s", type(exc).__name__)
        raise CdsError(
            400,
            "The request body could not be read: its framing (chunked encoding or "
            "Content-Length) is malformed or it ended early.",
        ) from None


def _read_unsized(stream: Any, limit: int) -> bytes:
    """A body without Content-Length (chunked): refused once it passes `limit` bytes."""
    if not request.environ.get("wsgi.input_terminated"):
        return b""  # a server that does not end the stream: nothing can be read safely
    data = bytearray()
    while chunk := stream.read(min(READ_SIZE, limit + 1 - len(data))):
        data += chunk
        if len(data) > limit:
            raise RequestEntityTooLarge()
    return bytes(data)


def parse_json(raw: bytes | str) -> Any:
    """Strict JSON; CdsError 400 saying where it is not, and naming the field for bad text."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        where = f" (line {exc.lineno}, column {exc.colno})" if exc.lineno else ""
        problems = _surrogate_fields(raw) if "surrogate" in exc.msg else {}
        raise CdsError(
            400, f"The request body is not valid JSON{where}: {exc.msg}.", problems
        ) from None


def _surrogate_fields(raw: bytes | str) -> dict[str, str]:
    """Where lone surrogates are: the standard library accepts them, so it can say which field.
    Only on this error path; the result is never used as data."""
    try:
        value = json.loads(raw, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        return {}
    found: dict[str, str] = {}
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack and len(found) < 10:
        node, path = stack.pop()
        if isinstance(node, dict):
            items: Any = node.items()
        elif isinstance(node, list):
            items = enumerate(node)
        else:
            continue
        for key, child in items:
            where = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and _has_surrogate(key):
                found[path or "request"] = f"a member name holds {LONE_SURROGATE}"
            elif isinstance(child, str) and _has_surrogate(child):
                found[where] = f"holds {LONE_SURROGATE}"
            else:
                stack.append((child, where))
    return found


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _refuse_constant(name: str) -> Any:
    raise ValueError(name)
