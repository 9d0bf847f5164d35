"""The committed fixture libraries (``fixtures/libs/<abi>/<group>/<name>.so``) and the toolchain.

A missing fixture or tool skips the test, with the reason in pytest's summary (``-ra``), or fails
it when ``SYMAUDIT_REQUIRE_ALL`` is set, as in CI: a green run there means every check ran.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.required import skip_or_fail  # noqa: F401 - re-exported for the elf tests

LIBS = Path(__file__).resolve().parents[2] / "fixtures" / "libs"
ABIS = ("arm64-v8a", "armeabi-v7a", "x86", "x86_64")


def all_libs() -> list[Path]:
    """Every fixture ``.so``, sorted; empty before ``scripts/build_fixtures.py`` has run."""
    return sorted(LIBS.rglob("*.so")) if LIBS.is_dir() else []


def lib_id(path: Path) -> str:
    return path.relative_to(LIBS).as_posix()


def lib_path(relative: str) -> Path:
    path = LIBS / relative
    if not path.is_file():
        skip_or_fail(f"fixture {path} is not built (scripts/build_fixtures.py)")
    return path


def read_lib(relative: str) -> bytes:
    return lib_path(relative).read_bytes()


def tool(name: str) -> str:
    """Path of a toolchain program (``llvm-readelf-19``, ``clang-19``, ...)."""
    found = shutil.which(name)
    if found is None:
        skip_or_fail(f"{name} is not installed")
    return found
