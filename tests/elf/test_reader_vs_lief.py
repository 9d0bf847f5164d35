"""Differential test: every fixture library, read by symaudit and by LIEF.

LIEF is the second, independent parser (its own C++ ELF reader; symaudit's is pyelftools plus
``struct``): both must agree on the SONAME, the DT_NEEDED list in order, and every dynamic
symbol classified as an export or an import, name for name and count for count. The real
corpus gets the same check in ``tests/corpus/test_real_symbols.py``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from symaudit.elf.reader import read_elf

from .fixture_libs import all_libs, lib_id, skip_or_fail
from .lief_view import lief_view

LIBRARIES = all_libs()


@pytest.mark.parametrize("path", LIBRARIES or [None], ids=lambda p: lib_id(p) if p else "no-fixture-libs")
def test_symaudit_and_lief_agree_on_names_needed_and_symbols(path: Path | None) -> None:
    if path is None:
        skip_or_fail("no fixture libraries under fixtures/libs (scripts/build_fixtures.py)")
    data = path.read_bytes()
    library = read_elf(data, path.name)
    view = lief_view(data)
    assert library.soname == view.soname
    assert library.needed == view.needed
    assert Counter(library.exports.names) == view.exports
    assert Counter(library.imports.names) == view.imports


def test_the_comparison_sees_a_difference() -> None:
    """A library and another one's view must not compare equal: the test can fail."""
    if len(LIBRARIES) < 2:
        skip_or_fail("no fixture libraries under fixtures/libs (scripts/build_fixtures.py)")
    fbjni = next(p for p in LIBRARIES if p.name == "libfbjni.so")
    runtime = next(p for p in LIBRARIES if p.name == "libpytorch_jni.so")
    assert Counter(read_elf(fbjni.read_bytes(), fbjni.name).exports.names) != lief_view(runtime.read_bytes()).exports
