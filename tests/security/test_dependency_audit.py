"""The CI audit step fails on fixable vulnerabilities and never reports "clean" unaudited."""

import json
import subprocess

import pytest

from tests.security import dependency_audit


def _pip_audit_answers(monkeypatch, dependencies):
    completed = subprocess.CompletedProcess(
        args=[], returncode=0, stdout=json.dumps({"dependencies": dependencies}), stderr=""
    )
    monkeypatch.setattr(dependency_audit.subprocess, "run", lambda *a, **k: completed)
    monkeypatch.setattr(dependency_audit, "probe", lambda: "GET probe -> HTTP 404")


def test_a_vulnerability_with_a_fix_fails_the_build(monkeypatch, capsys):
    _pip_audit_answers(
        monkeypatch,
        [
            {
                "name": "django",
                "version": "5.2.0",
                "vulns": [{"id": "X-1", "fix_versions": ["5.2.1"]}],
            },
            {"name": "nh3", "version": "0.3.8", "vulns": [{"id": "X-2", "fix_versions": []}]},
        ],
    )
    assert dependency_audit.main() == 1
    out = capsys.readouterr().out
    assert "VULNERABLE: django 5.2.0: X-1; fixed in 5.2.1" in out
    assert "no fix released yet: nh3 0.3.8: X-2" in out


def test_a_clean_audit_passes(monkeypatch, capsys):
    _pip_audit_answers(monkeypatch, [{"name": "django", "version": "5.2.0", "vulns": []}])
    assert dependency_audit.main() == 0
    assert "No known vulnerabilities with an available fix." in capsys.readouterr().out


@pytest.mark.parametrize(("required", "status"), [("0", 0), ("1", 2)])
def test_an_unreachable_service_is_reported_as_not_audited(monkeypatch, capsys, required, status):
    monkeypatch.setenv("LYO_AUDIT_REQUIRED", required)
    _pip_audit_answers(
        monkeypatch,
        [
            {
                "name": "django",
                "skip_reason": "Dependency not found on PyPI and could not be audited",
            }
        ],
    )
    assert dependency_audit.main() == status
    out = capsys.readouterr().out
    assert "1 of 1 packages were NOT AUDITED" in out
    assert "No known vulnerabilities" not in out
