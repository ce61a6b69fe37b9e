"""Responses serialised with orjson, which request bodies are parsed with too.

Flask's default provider (the standard library's encoder) cost about a tenth of a typical
hook call. orjson writes UTF-8 (JSON's encoding, RFC 8259) and keeps the order cards' fields
were built in. Dates, dataclasses, UUIDs and `__html__` objects go to Flask's own fallback,
so every response keeps the shape it had; what orjson refuses (an integer past 64 bits echoed
from a request) is written by Flask's own encoder.
"""

from __future__ import annotations

from typing import Any

import orjson
from flask.json.provider import DefaultJSONProvider

_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME


class OrjsonProvider(DefaultJSONProvider):
    sort_keys = False  # cards' fields stay in the spec's order

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        try:
            return self._encode(obj, kwargs).decode()
        except orjson.JSONEncodeError:
            return super().dumps(obj, **kwargs)

    def response(self, *args: Any, **kwargs: Any) -> Any:
        obj = self._prepare_response_obj(args, kwargs)
        try:
            return self._app.response_class(self._encode(obj, {}), mimetype=self.mimetype)
        except orjson.JSONEncodeError:
            return super().response(obj)

    def _encode(self, obj: Any, kwargs: dict[str, Any]) -> bytes:
        options = _OPTIONS
        pretty = self.compact is False or (self.compact is None and self._app.debug)
        if kwargs.get("indent") or pretty:
            options |= orjson.OPT_INDENT_2
        if kwargs.get("sort_keys", self.sort_keys):
            options |= orjson.OPT_SORT_KEYS
        return orjson.dumps(obj, default=kwargs.get("default", self.default), option=options)
