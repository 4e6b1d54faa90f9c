"""The API's JSON parser (DRF's default parser): bounded, strict about text.

Refused with 400 `malformed_request` before any view sees the data: bodies that are not UTF-8,
nesting deeper than MAX_JSON_DEPTH (Python's parser recurses: 50,000 `[` were a 500), and any
string, key or value, holding a NUL character (PostgreSQL cannot store one in text, and none
belongs in Lyo's data) or a lone UTF-16 surrogate (`\\ud800`, not a character: it cannot be
encoded for the database). Bodies over MAX_JSON_BODY_BYTES get 413 `payload_too_large`.
"""

import json
import re

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError

# Module import, not names: errors imports DRF's views, which import this parser setting.
from . import errors

# NUL, and the UTF-16 surrogate range (only ever lone in a Python str decoded from JSON).
_FORBIDDEN_CHARACTER = re.compile("[\x00\ud800-\udfff]")


def forbidden_character(text: str) -> str | None:
    """Why `text` may not enter Lyo ("nul_character", "lone_surrogate"), or None."""
    match = _FORBIDDEN_CHARACTER.search(text)
    if match is None:
        return None
    return "nul_character" if match.group() == "\x00" else "lone_surrogate"


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.MAX_JSON_BODY_BYTES
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise errors.PayloadTooLarge(details={"max_bytes": limit})
        encoding = parsers.get_encoding(parser_context or {})
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            raise errors.MalformedRequest(
                f"The body is not valid {encoding} (byte {exc.start}).",
                details={"reason": "invalid_encoding"},
            ) from None
        try:
            data = json.loads(text, parse_constant=json_constant_refused)
        except RecursionError:
            raise _too_deep() from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        check_json_value(data)
        return data


def json_constant_refused(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _too_deep() -> "errors.MalformedRequest":
    depth = settings.MAX_JSON_DEPTH
    return errors.MalformedRequest(
        f"The JSON is nested deeper than {depth} levels.",
        details={"reason": "too_deep", "max_depth": depth},
    )


def check_json_value(data) -> None:
    """Walk the parsed document (without recursion) checking depth and every string."""
    max_depth = settings.MAX_JSON_DEPTH
    pending = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            _check_text(value)
        elif isinstance(value, dict | list):
            if depth > max_depth:
                raise _too_deep()
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str):
                    _check_text(key)
                pending.append((item, depth + 1))


def _check_text(text: str) -> None:
    reason = forbidden_character(text)
    if reason == "nul_character":
        raise errors.MalformedRequest(
            "Text may not contain NUL (U+0000).", details={"reason": reason}
        )
    if reason is not None:
        raise errors.MalformedRequest(
            "Text may not contain lone UTF-16 surrogates (\\ud800-\\udfff).",
            details={"reason": reason},
        )
