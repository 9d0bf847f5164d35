"""Run the real ``symaudit`` command line in a subprocess, as users and CI do."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


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
