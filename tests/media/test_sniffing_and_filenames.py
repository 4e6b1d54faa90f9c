import codecs

import pytest

from apps.media.filenames import download_filename, sanitize_filename
from apps.media.sniffing import Utf8Validator, sniff_content_type
from tests.media.factories import HTML, PDF, SVG_WITH_SCRIPT, image_bytes, zip_bytes


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (image_bytes("PNG"), "image/png"),
        (image_bytes("JPEG"), "image/jpeg"),
        (image_bytes("WEBP"), "image/webp"),
        (image_bytes("GIF"), "image/gif"),
        (PDF, "application/pdf"),
        (zip_bytes(), "application/zip"),
        (b"PK\x05\x06" + b"\x00" * 18, "application/zip"),
        (b"Week 1: bring a pencil.\r\n\tThanks!", "text/plain"),
        (codecs.BOM_UTF8 + "Ünïcödé notes".encode(), "text/plain"),
        ("日本語のノート".encode()[:-1], "text/plain"),  # cut inside a character
        (HTML, "text/html"),
        (b"  \n<html><body>x</body></html>", "text/html"),
        (b"<!-- comment --><script>alert(1)</script>", "text/html"),
        (SVG_WITH_SCRIPT, "image/svg+xml"),
        (b"<svg onload=alert(1)>", "image/svg+xml"),
        (b'<?xml version="1.0"?><note/>', "application/xml"),
        (b"#!/usr/bin/env python\nprint(1)\n", "text/x-script"),
        (b"", None),
        (b"\x00\x01\x02\x03", None),
        (b"\x7fELF\x02\x01\x01\x00", None),
        (b"\xff\xfeh\x00i\x00", None),  # UTF-16
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", None),
        (b"\x89PNX", None),
    ],
)
def test_sniffer_recognises_types_from_bytes(head, expected):
    assert sniff_content_type(head) == expected


def test_utf8_validator_checks_the_whole_stream():
    validator = Utf8Validator()
    text = "naïve café ".encode() * 10
    for start in range(0, len(text), 7):  # chunks split inside characters
        validator.feed(text[start : start + 7])
    validator.feed(b"", final=True)
    assert validator.valid

    broken = Utf8Validator()
    broken.feed(b"fine so far ")
    broken.feed(b"\xc3")  # an unfinished character at the very end
    broken.feed(b"", final=True)
    assert not broken.valid


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("../../etc/passwd.png", "passwd.png"),
        ("C:\\Users\\ada\\Desktop\\me.jpg", "me.jpg"),
        ("..hidden.png", "hidden.png"),
        ("  my   holiday\tphoto .png ", "my holiday photo .png"),
        ("invoice\u202egpj.exe", "invoicegpj.exe"),
        ("nul\x00byte.png", "nulbyte.png"),
        ("", ""),
        (None, ""),
        ("é" * 300 + ".pdf", "é" * 196 + ".pdf"),
    ],
)
def test_filenames_are_sanitized(raw, clean):
    assert sanitize_filename(raw) == clean


@pytest.mark.parametrize(
    ("original", "content_type", "offered"),
    [
        ("syllabus.pdf", "application/pdf", "syllabus.pdf"),
        ("notes.html", "text/plain", "notes.html.txt"),
        ("report.docx", "application/zip", "report.docx"),
        ("photo.JPEG", "image/jpeg", "photo.JPEG"),
        ("photo.pdf", "image/png", "photo.pdf.png"),
        ("", "application/pdf", "abc.pdf"),
    ],
)
def test_downloads_get_an_extension_matching_their_type(original, content_type, offered):
    assert (
        download_filename(original=original, content_type=content_type, fallback_stem="abc")
        == offered
    )
