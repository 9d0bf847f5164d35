"""The runtime fixtures rebuild bit for bit (clang-19/lld-19; skipped without them unless CI)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from tests.model.helpers import ROOT


def test_model_runtime_fixtures_are_reproducible() -> None:
    tools = ("clang-19", "ld.lld-19", "llvm-objcopy-19")
    if any(shutil.which(tool) is None for tool in tools):
        if os.environ.get("SYMAUDIT_REQUIRE_ALL") == "1":
            pytest.fail("clang-19, lld-19 and llvm-objcopy-19 are needed to rebuild the model runtimes")
        pytest.skip("clang-19/lld-19 not installed")
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_model_fixtures.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
