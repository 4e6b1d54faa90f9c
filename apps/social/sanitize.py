"""Post and comment bodies: text with a small set of safe inline tags and http(s) links.

Bodies are stored already sanitized (an HTML fragment clients may render as is): no scripts,
no event handlers, no javascript: URLs, no images (media will be attached separately), and
every link opens with rel="noopener noreferrer nofollow".
"""

import nh3

ALLOWED_TAGS = {"a", "b", "strong", "i", "em", "code", "pre", "blockquote", "br", "p"}
ALLOWED_TAGS |= {"ul", "ol", "li", "del"}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}


def sanitize_body(text: str) -> str:
    return nh3.clean(
        text.strip(),
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    ).strip()


def has_text(html: str) -> bool:
    """Whether a sanitized body still says something once the markup is taken away."""
    return bool(nh3.clean(html, tags=set()).strip())
