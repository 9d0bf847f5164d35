"""The runtime fixtures rebuild bit for bit (clang-19/lld-19; skipped without them unless CI)."""

from __future__ import annotations

import subprocess
import sys

from tests.required import need_tools
from tests.torchmodel.helpers import ROOT


def test_model_runtime_fixtures_are_reproducible() -> None:
    need_tools("clang-19", "ld.lld-19", "llvm-objcopy-19")
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_model_fixtures.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
