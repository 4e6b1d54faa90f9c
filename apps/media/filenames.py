"""Uploaders' file names: kept as metadata only, cleaned, and given an honest extension."""

import unicodedata

from . import policies

MAX_FILENAME_LENGTH = 200
_MAX_EXTENSION_LENGTH = 16

# Extensions a download may keep for each sniffed type (the first is the default). Anything
# else gets the default appended, so "notes.html" that is really plain text downloads as
# "notes.html.txt" and never opens as a web page.
DOWNLOAD_EXTENSIONS: dict[str, tuple[str, ...]] = {
    policies.JPEG: ("jpg", "jpeg", "jpe"),
    policies.PNG: ("png",),
    policies.WEBP: ("webp",),
    policies.GIF: ("gif",),
    policies.PDF: ("pdf",),
    # Office and e-book formats are zip archives; their own extension keeps them usable.
    policies.ZIP: ("zip", "docx", "xlsx", "pptx", "odt", "ods", "odp", "epub"),
    policies.TEXT: (
        "txt", "text", "md", "markdown", "csv", "tsv", "log", "json", "yaml", "yml", "toml",
        "ini", "cfg", "tex", "srt", "vtt", "py", "java", "c", "h", "cpp", "rs", "go", "sql",
    ),
}  # fmt: skip


def sanitize_filename(name: str | None) -> str:
    """The last path segment of `name`, without control or invisible formatting characters
    (e.g. right-to-left overrides that disguise extensions), at most MAX_FILENAME_LENGTH."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(
        " " if char.isspace() else char
        for char in name
        if unicodedata.category(char) not in ("Cc", "Cf", "Cs", "Co", "Cn") or char.isspace()
    )
    name = " ".join(name.split()).lstrip(".").strip()
    if len(name) <= MAX_FILENAME_LENGTH:
        return name
    stem, dot, extension = name.rpartition(".")
    if dot and stem and len(extension) <= _MAX_EXTENSION_LENGTH:
        return f"{stem[: MAX_FILENAME_LENGTH - len(extension) - 1].rstrip()}.{extension}"
    return name[:MAX_FILENAME_LENGTH].rstrip()


def download_filename(*, original: str, content_type: str, fallback_stem: str) -> str:
    """The name a download is offered under: the original one with an extension that matches
    the sniffed type."""
    allowed = DOWNLOAD_EXTENSIONS.get(content_type, ("bin",))
    name = original or fallback_stem
    stem, dot, extension = name.rpartition(".")
    if dot and stem and extension.lower() in allowed:
        return name
    return f"{name}.{allowed[0]}"
