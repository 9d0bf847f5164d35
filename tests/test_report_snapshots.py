"""The JSON report of every fixture package, model and platform folder, byte for byte.

JSON reports are a public contract: a change that moves code keeps these bytes. A change that
alters a report on purpose rewrites them (``python scripts/report_snapshots.py write
tests/data/report-snapshots``) and the diff shows reviewers exactly what users will see.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOTS = ROOT / "tests" / "data" / "report-snapshots"


def test_json_reports_of_every_fixture_match_the_committed_snapshots() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "report_snapshots.py"), "check", str(SNAPSHOTS)],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "identical" in result.stdout
    assert len(list(SNAPSHOTS.glob("*.json"))) >= 80


def test_every_snapshot_reads_back_and_renders_to_the_same_bytes() -> None:
    """``--baseline`` and ``symaudit comment`` read reports back: nothing may be lost or retyped,
    and typed facts (suggestions, reference matches) come back typed."""
    from symaudit.report.from_json import load_report
    from symaudit.report.json import render

    typed = 0
    for path in sorted(SNAPSHOTS.glob("*.json")):
        report = load_report(path)
        assert render(report) == path.read_text(encoding="utf-8"), path.name
        typed += sum(1 for f in report.findings if f.suggestion is not None)
        typed += sum(1 for r in report.libraries if r.reference is not None)
    assert typed > 0
