"""Recognise a file's type from its first bytes (magic numbers), without libmagic.

Only the types Lyo might accept are recognised positively; markup and scripts are recognised
so they can be refused by name. Anything else is unknown (None) and refused by the caller.
"""

import codecs
import re

from . import policies

SNIFF_BYTES = 4096

HTML = "text/html"
SVG = "image/svg+xml"
XML = "application/xml"
SCRIPT = "text/x-script"

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", policies.JPEG),
    (b"\x89PNG\r\n\x1a\n", policies.PNG),
    (b"GIF87a", policies.GIF),
    (b"GIF89a", policies.GIF),
    (b"%PDF-", policies.PDF),
    (b"PK\x03\x04", policies.ZIP),
    (b"PK\x05\x06", policies.ZIP),  # an empty archive
)

# Control codes that do not occur in text (tab, line feed, form feed and carriage return do).
# They are single bytes in UTF-8, never part of a multi-byte character, so bytes can be searched.
_BINARY_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def sniff_content_type(head: bytes) -> str | None:
    """The type of a file starting with `head` (pass at least SNIFF_BYTES when available)."""
    for magic, content_type in _MAGIC:
        if head.startswith(magic):
            return content_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return policies.WEBP
    return _sniff_text(head)


def _sniff_text(head: bytes) -> str | None:
    if not head:
        return None
    sample = head.removeprefix(codecs.BOM_UTF8)
    if _BINARY_CONTROL.search(sample):
        return None
    try:
        # Not final: the sample may end inside a multi-byte character.
        text = codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        return None
    start = text.lstrip().lower()
    if start.startswith("<"):
        # Browsers would render any of these given a chance; never store them as text.
        if "<svg" in start:
            return SVG
        if start.startswith("<?xml"):
            return XML
        return HTML
    if start.startswith("#!"):
        return SCRIPT
    return policies.TEXT


class Utf8Validator:
    """Checks, chunk by chunk, that a whole file is UTF-8 text without binary control codes."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self.valid = True

    def feed(self, chunk: bytes, *, final: bool = False) -> None:
        if not self.valid:
            return
        if _BINARY_CONTROL.search(chunk):
            self.valid = False
            return
        try:
            self._decoder.decode(chunk, final=final)
        except UnicodeDecodeError:
            self.valid = False
