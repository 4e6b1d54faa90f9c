"""Lesson bodies: Markdown in, sanitized HTML out (no scripts, no javascript: links).

Images come only from Lyo's own media, so a lesson cannot make learners' browsers call a third
party (tracking pixels, IP and reading-time leaks). An image names one of the lesson's image
attachments, `![Diagram](media:<media id>)` (the app's own media URL,
`/api/v1/media/<media id>/...`, is read the same way); it is stored as `media:<id>` and turned
into a fresh signed URL when the lesson is read (`lesson_html_for_reader`). Any other `src` is
dropped, on writing and again on reading (so bodies stored before the rule are covered too).
Links keep their target and get rel="noopener noreferrer nofollow".
"""

import re
from collections.abc import Mapping

import markdown as md
import nh3

ALLOWED_TAGS = {
    *("p", "br", "hr", "blockquote", "pre", "code", "em", "strong", "del", "sup", "sub"),
    *("h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "a", "img"),
    *("table", "thead", "tbody", "tr", "th", "td"),
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "code": {"class"},
    "th": {"align"},
    "td": {"align"},
}
LINK_REL = "noopener noreferrer nofollow"

_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_OWN_MEDIA = re.compile(rf"^(?:media:({_UUID})|/api/v1/media/({_UUID})/(?:content/)?(?:\?.*)?)$")


def own_media_id(src: str) -> str | None:
    """The media id an image source names when it is Lyo's own media, else None."""
    match = _OWN_MEDIA.match(src.strip())
    return (match.group(1) or match.group(2)).lower() if match else None


def _clean(html: str, image_src) -> str:
    def attribute_filter(tag: str, attribute: str, value: str) -> str | None:
        if tag == "img" and attribute == "src":
            return image_src(value)
        if tag == "a" and attribute == "href" and value.startswith("media:"):
            return None  # an unresolved reference, not a link
        return value

    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto", "media"},
        link_rel=LINK_REL,
        attribute_filter=attribute_filter,
    )


def _stored_src(src: str) -> str | None:
    media_id = own_media_id(src)
    return f"media:{media_id}" if media_id else None


def render_markdown(text: str) -> str:
    """The stored HTML of a lesson body: images only as `media:<id>` references."""
    html = md.markdown(text or "", extensions=["fenced_code", "tables", "sane_lists"])
    return _clean(html, _stored_src)


def lesson_html_for_reader(html: str, image_urls: Mapping[str, str]) -> str:
    """The stored HTML with each image's `media:<id>` replaced by the URL in `image_urls`
    (the lesson's image attachments, by id); images without one lose their `src`."""

    def reader_src(src: str) -> str | None:
        media_id = own_media_id(src)
        return image_urls.get(media_id) if media_id else None

    return _clean(html, reader_src)
