"""Libraries built from ``tests/elf/src`` with the toolchain, for what the fixtures lack.

Only toolchain-gated tests use them: without clang-19 and ld.lld-19 they skip (or fail under
``SYMAUDIT_REQUIRE_ALL``), and every other test reads committed fixtures only.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from .fixture_libs import ABIS, lib_path, tool

SRC = Path(__file__).resolve().parent / "src"
TRIPLES = {
    "arm64-v8a": "aarch64-linux-android21",
    "armeabi-v7a": "armv7a-linux-androideabi21",
    "x86": "i686-linux-android21",
    "x86_64": "x86_64-linux-android21",
}
RUNPATH = "$ORIGIN/lib:/data/local/tmp/symaudit"


@pytest.fixture(scope="session")
def symver_libs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``libsymver.so`` (``src/symver.c``) per ABI, linked against the fixtures' stub libc.so."""
    clang, lld = tool("clang-19"), tool("ld.lld-19")
    out = tmp_path_factory.mktemp("symver")
    result = {}
    for abi in ABIS:
        library = out / abi / "libsymver.so"
        library.parent.mkdir()
        command = [
            clang,
            f"--target={TRIPLES[abi]}",
            "-shared",
            "-nostdlib",
            "-fPIC",
            "-O1",
            f"--ld-path={lld}",
            "-o",
            str(library),
            str(SRC / "symver.c"),
            str(lib_path(f"{abi}/platform/libc.so")),
            f"-Wl,--version-script={SRC / 'symver.map.txt'}",
            "-Wl,-soname,libsymver.so",
            "-Wl,--enable-new-dtags",
            f"-Wl,-rpath,{RUNPATH}",
            "-Wl,--hash-style=both",
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
        assert done.returncode == 0, done.stderr
        result[abi] = library
    return result
