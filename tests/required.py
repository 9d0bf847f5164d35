"""What a test needs that a laptop may lack: a tool on PATH or a built fixture.

Without it the test is skipped, except when ``SYMAUDIT_REQUIRE_ALL`` is set (CI sets it to 1):
then it fails, so a green CI run means every check ran.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import NoReturn

import pytest


def skip_or_fail(reason: str) -> NoReturn:
    if os.environ.get("SYMAUDIT_REQUIRE_ALL"):
        pytest.fail(f"{reason} (SYMAUDIT_REQUIRE_ALL is set: CI must run this check)")
    pytest.skip(reason)


def need_tools(*tools: str) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        skip_or_fail(f"{', '.join(missing)} not on PATH")


def built(path: Path, script: str = "scripts/build_fixtures.py") -> Path:
    """``path`` when the fixture exists; else skip (or fail in CI) naming the script that builds it."""
    if not path.exists():
        skip_or_fail(f"fixture {path} is not built ({script})")
    return path
