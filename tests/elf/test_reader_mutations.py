"""Mutated real libraries: read_elf returns a consistent ElfLibrary or raises CorruptElfError.

A library inside an APK can be anything; one bad library must become a ``corrupt-library``
finding, never a crash of the whole audit. Beyond "no other exception", the CorruptElfError must
not be hiding a reader bug: the catch-all in :func:`read_elf` may only have caught what garbage
legitimately provokes (struct and decoding errors), not an IndexError or a TypeError.
Derandomized, so CI sees the same examples every run.
"""

from __future__ import annotations

import functools
import struct
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symaudit.elf.model import ElfLibrary, Note, Segment, Symbol, SymbolTable, VersionNeed
from symaudit.elf.reader import CorruptElfError, read_elf

from .elf_edits import Elf
from .fixture_libs import LIBS, skip_or_fail

CORPUS = (
    "arm64-v8a/wenet-old/libwenet.so",
    "arm64-v8a/stripped/libfbjni.so",
    "armeabi-v7a/fbjni/libfbjni.so",
    "armeabi-v7a/platform/libc.so",
    "x86/stripped/libfbjni.so",
    "x86_64/cxx-new/libc++_shared.so",
)
# What garbage bytes may legitimately raise inside the reader (UnicodeDecodeError is a ValueError).
EXPECTED_CAUSES = (struct.error, ValueError, OverflowError, MemoryError)
INTERESTING = (0, 1, 2, 3, 0x7F, 0x80, 0xFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFFFFF0)
SLOW_READ_SECONDS = 2.0

MUTATIONS = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@functools.cache
def _library(choice: int) -> tuple[bytes, tuple[tuple[int, int], ...]]:
    """A corpus library with the (offset, size) regions the reader parses.

    Not a pytest fixture: hypothesis would print the whole corpus with every failing example.
    """
    path = LIBS / CORPUS[choice]
    if not path.is_file():
        skip_or_fail(f"fixture {path} is not built (scripts/build_fixtures.py)")
    data = path.read_bytes()
    return data, tuple(Elf(data).loader_regions())


def _check_table(table: SymbolTable, defined: bool) -> None:
    count = len(table.names)
    assert len(table.info) == count and len(table.other) == count
    for column in (table.versions, table.hidden, table.version_files):
        assert column is None or len(column) == count
    assert all(isinstance(name, str) for name in table.names)
    for column in (table.versions, table.version_files):
        assert column is None or all(value is None or isinstance(value, str) for value in column)
    symbols = list(table)
    assert len(symbols) == count
    for symbol in symbols:
        assert isinstance(symbol, Symbol) and symbol.defined is defined
        assert table.get(symbol.name) is not None
    if not defined:
        assert len(table.weak_mask) == count  # type: ignore[attr-defined]


def _check_library(library: ElfLibrary) -> None:
    assert isinstance(library, ElfLibrary)
    _check_table(library.exports, defined=True)
    _check_table(library.imports, defined=False)
    assert library.soname is None or isinstance(library.soname, str)
    for strings in (library.needed, library.runpath, library.rpath, library.comment):
        assert isinstance(strings, tuple) and all(isinstance(s, str) for s in strings)
    assert all(isinstance(s, Segment) and s.offset >= 0 and s.filesz >= 0 for s in library.segments)
    assert library.load_segments
    assert all(
        isinstance(n, Note) and isinstance(n.name, str) and isinstance(n.desc, bytes) for n in library.notes
    )
    assert all(isinstance(v, VersionNeed) and isinstance(v.file, str) for v in library.version_needs)
    assert all(isinstance(name, str) for name in library.versions_defined)
    assert all(isinstance(tag, int) for tag in library.dynamic_tags)
    assert all(isinstance(a, str) and a and "\n" not in a for a in library.anomalies)
    assert 0 <= library.machine <= 0xFFFF


def _read(data: bytes) -> None:
    start = time.perf_counter()
    try:
        library = read_elf(data, "mutant.so")
    except CorruptElfError as exc:
        message = str(exc)
        assert message and "\n" not in message
        cause = exc.__cause__
        assert cause is None or isinstance(cause, EXPECTED_CAUSES), (
            f"reader bug behind {message!r}: {cause!r}"
        )
    else:
        _check_library(library)
    elapsed = time.perf_counter() - start
    assert elapsed < SLOW_READ_SECONDS, f"read took {elapsed:.1f}s"


CHOICE = st.integers(0, len(CORPUS) - 1)


@MUTATIONS
@given(choice=CHOICE, draw=st.data())
def test_overwritten_bytes_anywhere(choice: int, draw: st.DataObject) -> None:
    data, _ = _library(choice)
    out = bytearray(data)
    position = st.integers(4, len(data) - 1)  # past the magic, which only gives "not an ELF file"
    for at, value in draw.draw(st.lists(st.tuples(position, st.integers(0, 255)), min_size=1, max_size=8)):
        out[at] = value
    _read(bytes(out))


@MUTATIONS
@given(choice=CHOICE, draw=st.data())
def test_overwritten_words_in_loader_structures(choice: int, draw: st.DataObject) -> None:
    data, regions = _library(choice)
    out = bytearray(data)
    for _ in range(draw.draw(st.integers(1, 4))):
        offset, size = draw.draw(st.sampled_from(regions))
        fmt = draw.draw(st.sampled_from(("<B", "<H", "<I", "<Q")))
        width = struct.calcsize(fmt)
        at = draw.draw(st.integers(offset, max(offset, min(offset + size, len(data)) - width)))
        value = draw.draw(st.one_of(st.sampled_from(INTERESTING), st.integers(0, (1 << (8 * width)) - 1)))
        struct.pack_into(fmt, out, at, value & ((1 << (8 * width)) - 1))
    _read(bytes(out))


@MUTATIONS
@given(choice=CHOICE, draw=st.data(), tail=st.binary(max_size=16))
def test_truncated(choice: int, draw: st.DataObject, tail: bytes) -> None:
    data, regions = _library(choice)
    offset, size = draw.draw(st.sampled_from(regions))  # a cut inside a table, not only at its start
    _read(
        data[: draw.draw(st.integers(max(offset, 64), offset + size))] + tail
    )  # shorter: test_reader_corrupt


@MUTATIONS
@given(choice=CHOICE, draw=st.data(), inserted=st.binary(min_size=1, max_size=64))
def test_inserted_bytes(choice: int, draw: st.DataObject, inserted: bytes) -> None:
    data, regions = _library(choice)
    if draw.draw(st.booleans()):  # inside what the loader reads, or anywhere past e_ident
        offset, size = draw.draw(st.sampled_from(regions))
        at = draw.draw(st.integers(offset, offset + size))
    else:
        at = draw.draw(st.integers(16, len(data)))
    _read(data[:at] + inserted + data[at:])


@pytest.mark.parametrize("choice", range(len(CORPUS)), ids=CORPUS)
def test_corpus_reads_cleanly(choice: int) -> None:
    """The unmutated corpus parses, so the mutation tests start from valid libraries."""
    data, regions = _library(choice)
    _check_library(read_elf(data))
    assert len(regions) >= 3
