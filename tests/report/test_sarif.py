"""SARIF output: every fixture scenario validates against the OASIS SARIF 2.1.0 schema
(vendored in tests/data, see its README), rules come from the registry, results sit at the
library's path inside the package, and fingerprints are stable across runs."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from symaudit.findings import Finding, Severity
from symaudit.report import sarif
from symaudit.results import InputRecord, Report
from symaudit.rules import RULES

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ROOT / "fixtures" / "packages"
SARIF_SCHEMA = json.loads((ROOT / "tests" / "data" / "sarif-schema-2.1.0.json").read_text())
REPORT_SCHEMA = json.loads((ROOT / "symaudit" / "schemas" / "report-1.json").read_text())
SCENARIOS = sorted(
    p.name for p in PACKAGES.iterdir() if p.is_dir() or p.suffix in {".apk", ".aab", ".apks", ".aar"}
)


def audit(name: str, out: Path) -> tuple[int, dict, dict]:
    command = "aar" if name.endswith(".aar") else "libs" if (PACKAGES / name).is_dir() else "apk"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("SYMAUDIT_DEBUG", None)
    sarif_path, json_path = out / f"{name}.sarif", out / f"{name}.json"
    result = subprocess.run(
        [sys.executable, "-m", "symaudit.cli", command, str(PACKAGES / name),
         "--format", "sarif", "--output", str(sarif_path), "--format", "json", "--output", str(json_path)],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(sarif_path.read_text()), json.loads(json_path.read_text())


def test_every_scenario_is_covered() -> None:
    assert {"clean.apk", "wenet-new-runtime.apk", "missing-fbjni.apk"} <= set(SCENARIOS)


@pytest.mark.parametrize("name", SCENARIOS)
def test_fixture_sarif_validates_and_mirrors_the_json_report(name: str, tmp_path: Path) -> None:
    _, log, report = audit(name, tmp_path)
    jsonschema.validate(log, SARIF_SCHEMA)
    jsonschema.validate(report, REPORT_SCHEMA)
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [r.id for r in RULES]
    results = run["results"]
    assert len(results) == len(report["findings"])
    for result, finding in zip(results, report["findings"], strict=True):
        assert result["ruleId"] == finding["rule"]
        assert rules[result["ruleIndex"]]["id"] == finding["rule"]
        assert (
            result["level"] == {"error": "error", "warning": "warning", "info": "note"}[finding["severity"]]
        )
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        if finding["path"]:
            assert uri == finding["path"]
        identity = "|".join(finding[k] or "" for k in ("rule", "abi", "library")) + "|"
        identity += finding["symbol"] or finding["needed"] or ""
        assert result["partialFingerprints"] == {"symaudit/v1": hashlib.sha256(identity.encode()).hexdigest()}


def test_wenet_result_is_located_at_the_library_and_names_the_symbol(tmp_path: Path) -> None:
    code, log, _ = audit("wenet-new-runtime.apk", tmp_path)
    assert code == 1
    run = log["runs"][0]
    errors = [r for r in run["results"] if r["level"] == "error"]
    assert [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in errors] == [
        f"lib/{abi}/libwenet.so" for abi in ("arm64-v8a", "armeabi-v7a", "x86", "x86_64")
    ]
    logical = errors[0]["locations"][0]["logicalLocations"][0]
    assert logical["name"] == "torch::jit::load(std::string const&, c10::optional<c10::Device>)"
    assert logical["decoratedName"].startswith("_ZN5torch3jit4load")
    assert len({r["partialFingerprints"]["symaudit/v1"] for r in errors}) == 4  # one per ABI
    rule = run["tool"]["driver"]["rules"][errors[0]["ruleIndex"]]
    assert rule["name"] == "UnresolvedSymbol"
    assert rule["help"]["markdown"] == next(r.doc for r in RULES if r.id == "unresolved-symbol")
    assert rule["defaultConfiguration"] == {"level": "error"}


def test_fingerprints_are_stable_across_runs(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _, first, _ = audit("missing-fbjni.apk", tmp_path / "a")
    _, second, _ = audit("missing-fbjni.apk", tmp_path / "b")
    prints = [[r["partialFingerprints"] for r in log["runs"][0]["results"]] for log in (first, second)]
    assert prints[0] == prints[1] and prints[0]


def test_fingerprint_ignores_wording_and_severity() -> None:
    base = Finding(
        "unresolved-symbol", Severity.ERROR, "x86", "liba.so", "one wording", "a hint", symbol="_Zf"
    )
    reworded = Finding(
        "unresolved-symbol", Severity.WARNING, "x86", "liba.so", "other words", "", symbol="_Zf"
    )
    other_abi = Finding(
        "unresolved-symbol", Severity.ERROR, "x86_64", "liba.so", "one wording", "", symbol="_Zf"
    )
    assert sarif.fingerprint(base) == sarif.fingerprint(reworded) != sarif.fingerprint(other_abi)


def test_package_level_finding_and_unknown_rule_still_validate() -> None:
    findings = (
        Finding("abi-incomplete", Severity.WARNING, "x86", "libwenet.so", "missing for x86", "build it"),
        Finding("rule-from-the-future", Severity.INFO, None, None, "something new", ""),
    )
    report = Report(InputRecord("/abs/app.apk", "apk", None), (), findings)
    log = json.loads(sarif.render(report))
    jsonschema.validate(log, SARIF_SCHEMA)
    results = log["runs"][0]["results"]
    assert results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "file:///abs/app.apk"
    assert log["runs"][0]["tool"]["driver"]["rules"][results[1]["ruleIndex"]]["id"] == "rule-from-the-future"
