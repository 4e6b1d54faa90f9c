"""docker/build-image.sh takes the Debian mirror for debootstrap from apt's own sources, read at
run time (nothing host-specific is committed): deb822 .sources files and one-line lists."""

import subprocess
from pathlib import Path

import pytest

from tests.deploy.conftest import ROOT, clean_env

SCRIPT = ROOT / "docker" / "build-image.sh"


def mirror_from(apt_dir: Path) -> str:
    result = subprocess.run(
        ["bash", str(SCRIPT), "--print-mirror"],
        env=clean_env(LYO_APT_DIR=str(apt_dir)),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def apt(tmp_path: Path, files: dict[str, str]) -> Path:
    (tmp_path / "sources.list.d").mkdir()
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return tmp_path


DEB822 = """\
Types: deb
URIs: http://security.mirror.example/debian-security
Suites: bookworm-security
Components: main

Types: deb-src
URIs: http://src.mirror.example/debian
Suites: bookworm
Components: main

Types: deb
URIs: http://disabled.mirror.example/debian
Suites: bookworm
Components: main
Enabled: no

Types: deb deb-src
URIs: http://main.mirror.example/debian http://second.mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""


@pytest.mark.parametrize(
    ("files", "mirror"),
    [
        ({"sources.list.d/debian.sources": DEB822}, "http://main.mirror.example/debian"),
        (
            {
                "sources.list": (
                    "# a comment\n"
                    "deb-src http://src.mirror.example/debian bookworm main\n"
                    "deb http://security.mirror.example/debian-security bookworm-security main\n"
                    "deb [arch=amd64 signed-by=/k.gpg] http://one.mirror.example/debian bookworm\n"
                )
            },
            "http://one.mirror.example/debian",
        ),
        # .sources files are read before one-line lists
        (
            {
                "sources.list": "deb http://one.mirror.example/debian bookworm main\n",
                "sources.list.d/debian.sources": DEB822,
            },
            "http://main.mirror.example/debian",
        ),
        (
            {"sources.list.d/other.list": "deb http://list.mirror.example/debian bookworm main\n"},
            "http://list.mirror.example/debian",
        ),
        # nothing for bookworm itself: the script refuses to guess a host
        ({"sources.list": "deb http://old.mirror.example/debian bullseye main\n"}, ""),
    ],
)
def test_the_debian_mirror_comes_from_apts_sources(tmp_path, files, mirror):
    assert mirror_from(apt(tmp_path, files)) == mirror
