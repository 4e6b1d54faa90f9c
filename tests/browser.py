"""Headless Chromium (Debian's package) driven by Playwright, for the server-rendered pages."""

import os
import shutil

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    path = os.environ.get("LYO_CHROMIUM") or shutil.which("chromium")
    if not path:
        raise RuntimeError("Browser tests need Debian's chromium: apt-get install chromium")
    return path
