"""Every report format on real React Native AARs from the npm corpus, within the line budgets of
issue 12: the reader sees who crashes and where, not 750 lines of one repeated finding.

react-native 0.68.2 and 0.70.6 (the AAR of the issue) are looked up by their corpus entry names.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import jsonschema

from tests.corpus.aars import ROOT, SCHEMA
from tests.required import skip_or_fail
from tests.symaudit_cli import run

TEXT_BUDGET = 80
ANNOTATIONS = 10


def _pinned_names() -> set[str]:
    spec = importlib.util.spec_from_file_location("fetch_corpus_pins", ROOT / "scripts" / "fetch_corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return {member.name for pin in module.PINS for member in pin.members}


def _entry(corpus: dict[str, Path], entry: str) -> Path:
    """The cached AAR of corpus entry ``entry`` (its file name without ``.aar``)."""
    assert any(Path(name).stem == entry for name in _pinned_names()), f"{entry} is not pinned"
    for name, path in corpus.items():
        if Path(name).stem == entry:
            return path
    skip_or_fail(f"{entry} is pinned but not in the corpus cache: run `python scripts/fetch_corpus.py`")


def _render_all(aar: Path, out: Path) -> dict[str, Any]:
    result = run(
        "aar", "--offline", str(aar),
        "--format", "json", "-o", str(out / "r.json"),
        "--format", "sarif", "-o", str(out / "r.sarif"),
        "--format", "markdown", "-o", str(out / "r.md"),
        "--format", "github", "-o", str(out / "r.github"),
        "--format", "text",
        unset=("GITHUB_",),
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    return {
        "text": result.stdout,
        "stderr": result.stderr,
        "json": json.loads((out / "r.json").read_text()),
        "sarif": json.loads((out / "r.sarif").read_text()),
        "markdown": (out / "r.md").read_text(),
        "github": (out / "r.github").read_text(),
    }


def _check_budgets_and_horizons(outputs: dict[str, Any]) -> None:
    report = outputs["json"]
    jsonschema.validate(report, SCHEMA)
    # JSON stays one finding per ABI and library: the grouped formats must not change it.
    per_pair = Counter((f["rule"], f["abi"], f["library"], f["symbol"] or f["needed"]) for f in report["findings"])
    assert max(per_pair.values()) == 1
    unaligned = [f for f in report["findings"] if f["rule"] == "load-align-16k"]
    assert unaligned, "the pre-2024 React Native libraries are 4 KB aligned"
    assert len(outputs["sarif"]["runs"][0]["results"]) == len(report["findings"])

    text = outputs["text"]
    lines = text.splitlines()
    assert len(lines) <= TEXT_BUDGET, f"{len(lines)} lines:\n{text}"
    verdict = lines[-1]
    libraries = len({f["library"] for f in unaligned})
    sixteen = f"{libraries} libraries cannot load on 16 KB-page devices (arm64-v8a, x86_64)"
    assert verdict.startswith("FAIL: ") and sixteen in verdict
    # The 16 KB horizon is its own clause, apart from any failure on every device.
    clauses = verdict.removeprefix("FAIL: ").split("; ")
    assert sixteen in clauses and not any("16 KB" in c and "any device" in c for c in clauses)
    # One block for the repeated 16 KB finding, and the NDK that built the libraries is shown.
    assert sum(1 for line in lines if line.startswith("ERROR load-align-16k")) == 1
    ndk = Counter(r["ndk"]["release"] for r in report["libraries"] if r.get("ndk")).most_common(1)[0][0]
    assert re.search(rf"\b{re.escape(ndk)} API \d+\b", text)
    assert f"{verdict} (report: " in outputs["stderr"]

    github = outputs["github"].splitlines()
    assert 1 <= sum(1 for line in github if line.startswith("::error ")) <= ANNOTATIONS
    assert sum(1 for line in github if line.startswith("::warning ")) <= ANNOTATIONS
    assert github[-1] == verdict
    first = next(line for line in github if line.startswith("::error "))
    errors = {(g["rule"]) for g in report["findings"] if g["severity"] == "error"}
    if errors - {"load-align-16k", "zip-align-16k"}:  # a load failure on every device comes first
        assert "16k" not in first.split("::")[1]

    markdown = outputs["markdown"]
    assert markdown.startswith("### :x: symaudit — FAIL: ") and sixteen in markdown.splitlines()[0]
    rows = [line for line in markdown.splitlines() if line.startswith("| :x: | `load-align-16k`")]
    assert len(rows) == 1 and f"{libraries} libraries" not in rows[0]  # names, folded to a count
    assert f"and {libraries - 5} more (arm64-v8a, x86_64)" in rows[0]


def test_react_native_0_68_2_every_format_within_budget(corpus: dict[str, Path], tmp_path: Path) -> None:
    _check_budgets_and_horizons(_render_all(_entry(corpus, "react-native-0.68.2"), tmp_path))


def test_react_native_0_70_6_every_format_within_budget(corpus: dict[str, Path], tmp_path: Path) -> None:
    _check_budgets_and_horizons(_render_all(_entry(corpus, "react-native-0.70.6-release"), tmp_path))


def test_verbose_lists_every_library(corpus: dict[str, Path]) -> None:
    aar = _entry(corpus, "react-native-0.68.2")
    short = run("aar", "--offline", str(aar)).stdout
    full = run("aar", "--offline", str(aar), "--verbose").stdout
    assert "and 45 more" in short and "and 45 more" not in full
    assert "libyoga.so" in full.split("ERROR load-align-16k", 1)[1].split("\n\n", 1)[0]
