"""The audit suites: what an ``apk``/``libs`` audit runs, and what it does not load."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from symaudit.suites import AppRequest, audit_app, references_enabled

ROOT = Path(__file__).resolve().parents[1]
GOOD = ROOT / "fixtures" / "platform" / "good"


def test_an_audit_without_reference_libraries_imports_no_http_stack() -> None:
    code = (
        "import sys\n"
        "from symaudit.suites import AppRequest, audit_app\n"
        f"report = audit_app(AppRequest([{str(GOOD)!r}], min_sdk=21), lambda: 1 / 0)\n"
        "assert report.libraries, 'nothing audited'\n"
        "print(sorted(m for m in ('requests', 'urllib3', 'symaudit.http') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_ignores_are_applied_once_by_the_suite(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("ANDROID_NDK_HOME", "ANDROID_NDK_ROOT", "ANDROID_NDK", "NDK_ROOT", "ANDROID_HOME", "ANDROID_SDK_ROOT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no local.properties naming an NDK
    # No minSdk: one min-sdk-assumed info (a package-level finding) for the ignore to drop.
    report = audit_app(AppRequest([str(GOOD)]), None)
    assert any(f.rule == "min-sdk-assumed" for f in report.findings)
    ignored = audit_app(AppRequest([str(GOOD)], ignore=("min-sdk-assumed",)), None)
    assert [f for f in ignored.findings if f.rule == "min-sdk-assumed"] == []
    assert len(ignored.findings) == len(report.findings) - 1


def test_references_are_off_by_flag_or_environment() -> None:
    assert references_enabled(True, {})
    assert not references_enabled(False, {})
    assert not references_enabled(True, {"SYMAUDIT_REFERENCES": "0"})
    assert references_enabled(True, {"SYMAUDIT_REFERENCES": "1"})
