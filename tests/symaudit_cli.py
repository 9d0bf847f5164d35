"""Run the real ``symaudit`` command line in a subprocess, as users and CI do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import jsonschema

ROOT = Path(__file__).resolve().parents[1]
REPORT_SCHEMA = json.loads((ROOT / "symaudit" / "schemas" / "report-1.json").read_text())


def run(
    *args: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    unset: Iterable[str] = (),
) -> subprocess.CompletedProcess[str]:
    """``python -m symaudit.cli ARGS``. ``unset`` names environment variables (or prefixes of
    them) the run must not see; ``SYMAUDIT_DEBUG`` is never passed, so errors stay one line."""
    prefixes = ("SYMAUDIT_DEBUG", *unset)
    full = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    full["PYTHONPATH"] = str(ROOT)
    full.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "symaudit.cli", *args],
        capture_output=True,
        text=True,
        env=full,
        timeout=120,
        cwd=cwd,
    )


def run_json(*args: str) -> tuple[int, dict[str, Any]]:
    """``run(*args, "--format", "json")``: its exit status (0 or 1, never a usage or input error)
    and its report, checked against the report's JSON schema."""
    result = run(*args, "--format", "json")
    assert result.returncode in (0, 1), result.stderr
    report = json.loads(result.stdout)
    jsonschema.validate(report, REPORT_SCHEMA)
    return result.returncode, report
