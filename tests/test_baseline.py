"""--baseline hides findings an earlier JSON report already had and shows new ones;
--write-baseline records the current state."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from symaudit.baseline import load_baseline, split_findings
from symaudit.errors import InputError
from symaudit.findings import Finding, Severity
from tests.symaudit_cli import run

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ROOT / "fixtures" / "packages"
WENET = str(PACKAGES / "wenet-new-runtime.apk")
SCHEMA = json.loads((ROOT / "symaudit" / "schemas" / "report-1.json").read_text())


def errors(report: dict) -> list[tuple[str, str]]:
    return sorted((f["rule"], f["abi"]) for f in report["findings"] if f["severity"] == "error")


def test_a_written_baseline_hides_every_old_finding(tmp_path: Path) -> None:
    first = run(
        "apk", WENET, "--write-baseline", "baseline.json", "--format", "json", "-o", "r1.json", cwd=tmp_path
    )
    assert first.returncode == 1, first.stderr
    assert "baseline: baseline.json" in first.stderr
    recorded = json.loads((tmp_path / "baseline.json").read_text())
    assert len(errors(recorded)) == 4

    second = run("apk", WENET, "--baseline", "baseline.json", "--format", "json", cwd=tmp_path)
    assert second.returncode == 0, second.stderr  # nothing new: the build passes
    report = json.loads(second.stdout)
    assert report["findings"] == []
    assert report["baseline"] == {"path": "baseline.json", "known": len(recorded["findings"])}
    jsonschema.validate(report, SCHEMA)


def test_findings_missing_from_the_baseline_are_shown(tmp_path: Path) -> None:
    assert run("apk", WENET, "--format", "json", "-o", "full.json", cwd=tmp_path).returncode == 1
    old = json.loads((tmp_path / "full.json").read_text())
    # The earlier report knew the problem on three ABIs only: arm64-v8a is new.
    old["findings"] = [f for f in old["findings"] if f["abi"] != "arm64-v8a"]
    (tmp_path / "old.json").write_text(json.dumps(old))
    result = run("apk", WENET, "--baseline", "old.json", "--format", "json", cwd=tmp_path)
    assert result.returncode == 1
    assert errors(json.loads(result.stdout)) == [("unresolved-symbol", "arm64-v8a")]
    text = run("apk", WENET, "--baseline", "old.json", cwd=tmp_path)
    assert "arm64-v8a" in text.stdout and "== x86 ==" not in text.stdout


def test_a_baseline_from_a_clean_build_hides_nothing(tmp_path: Path) -> None:
    assert (
        run("apk", str(PACKAGES / "clean.apk"), "--write-baseline", "clean.json", cwd=tmp_path).returncode
        == 0
    )
    result = run("apk", WENET, "--baseline", "clean.json", "--format", "json", cwd=tmp_path)
    assert result.returncode == 1
    assert len(errors(json.loads(result.stdout))) == 4


def test_a_bad_baseline_is_a_usage_error_before_the_audit(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("[1, 2]")
    result = run("apk", WENET, "--baseline", "bad.json", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("symaudit: error: bad.json: not a symaudit JSON report")
    assert run("apk", WENET, "--baseline", "absent.json", cwd=tmp_path).returncode == 2


def test_identity_ignores_wording_and_severity(tmp_path: Path) -> None:
    old = Finding(
        "missing-library", Severity.ERROR, "x86", "liba.so", "old words", "old hint", needed="libb.so"
    )
    report = {
        "schema": "symaudit.report/1",
        "tool": {"name": "symaudit", "version": "0.0.1"},
        "input": {"path": "app.apk", "kind": "apk", "sha256": None},
        "libraries": [],
        "findings": [
            {"rule": old.rule, "severity": "error", "abi": "x86", "library": "liba.so", "symbol": None,
             "needed": "libb.so", "demangled": None, "message": old.message, "hint": old.hint}
        ],
        "summary": {"errors": 1, "warnings": 0, "infos": 0},
        "app": None,
    }  # fmt: skip
    (tmp_path / "b.json").write_text(json.dumps(report))
    baseline = load_baseline(tmp_path / "b.json")
    same = Finding("missing-library", Severity.WARNING, "x86", "liba.so", "new words", "", needed="libb.so")
    other = Finding("missing-library", Severity.ERROR, "x86_64", "liba.so", "old words", "", needed="libb.so")
    assert split_findings([same, other], baseline) == ((other,), (same,))
    (tmp_path / "broken.json").write_text(
        '{"schema": "symaudit.report/1", "input": {}, "findings": [{}], "libraries": []}'
    )
    with pytest.raises(InputError, match="broken.json"):
        load_baseline(tmp_path / "broken.json")
