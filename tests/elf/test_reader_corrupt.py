"""Broken inputs: each ends in CorruptElfError with a one-line reason a user can act on.

Damage the loader ignores (section headers) must not stop the read: it becomes an anomaly and the
tables still come from PT_DYNAMIC, exactly as on the device.
"""

from __future__ import annotations

import struct

import pytest

from symaudit.elf.model import ElfLibrary
from symaudit.elf.reader import CorruptElfError, read_elf

from .elf_edits import (
    DT_DEBUG,
    DT_GNU_HASH,
    DT_HASH,
    DT_STRTAB,
    PT_DYNAMIC,
    PT_NULL,
    SHT_DYNSYM,
    Elf,
    gnu_hash_chain_bounds,
    patched,
    with_dynamic_tag,
    with_dynamic_value,
    with_segment_type,
)
from .fixture_libs import read_lib

LIB64 = "arm64-v8a/fbjni/libfbjni.so"
LIB32 = "armeabi-v7a/fbjni/libfbjni.so"
BOTH = pytest.mark.parametrize("relative", [LIB64, LIB32])


def corrupt_message(data: bytes) -> str:
    with pytest.raises(CorruptElfError) as caught:
        read_elf(data, "libbroken.so")
    message = str(caught.value)
    assert message and "\n" not in message
    return message


def _same_tables(damaged: ElfLibrary, original: ElfLibrary) -> None:
    assert damaged.exports.names == original.exports.names
    assert damaged.imports.names == original.imports.names
    assert damaged.imports.versions == original.imports.versions
    assert damaged.needed == original.needed and damaged.soname == original.soname


def test_empty_file() -> None:
    assert "empty file" in corrupt_message(b"")


def test_text_file() -> None:
    assert "not an ELF file (bad magic)" in corrupt_message(b"version https://git-lfs.github.com/spec/v1\n")


def test_zip_archive() -> None:
    assert "zip archive" in corrupt_message(b"PK\x03\x04" + bytes(60))


@BOTH
def test_truncated_elf_header(relative: str) -> None:
    assert "shorter than an ELF header" in corrupt_message(read_lib(relative)[:40])


def test_truncated_elf64_header() -> None:
    assert "shorter than an ELF64 header" in corrupt_message(read_lib(LIB64)[:60])


@BOTH
def test_truncated_program_headers(relative: str) -> None:
    data = read_lib(relative)
    elf = Elf(data)
    message = corrupt_message(data[: elf.phoff + elf.phentsize + 3])
    assert "truncated: program headers end at offset" in message


@BOTH
def test_cut_inside_dynsym(relative: str) -> None:
    """An interrupted copy: the dynamic array (after .dynsym in the file) is gone first."""
    data = read_lib(relative)
    dynsym, _ = Elf(data).section_offset(SHT_DYNSYM)
    message = corrupt_message(data[: dynsym + 5])
    assert "truncated" in message and "PT_DYNAMIC" in message
    assert f"the file has {dynsym + 5}" in message


@BOTH
def test_garbage_section_header_offset_is_ignored_like_the_loader_does(relative: str) -> None:
    data = read_lib(relative)
    damaged = read_elf(patched(data, Elf(data).e_shoff_at, Elf(data).word, 0xFFFFFFF0))
    assert not damaged.section_headers
    assert any("section headers at offset 4294967280" in a for a in damaged.anomalies)
    assert damaged.comment == ()
    _same_tables(damaged, read_elf(data))


@BOTH
def test_garbage_section_header_entry_size_is_ignored_like_the_loader_does(relative: str) -> None:
    data = read_lib(relative)
    damaged = read_elf(patched(data, Elf(data).e_shentsize_at, "<H", 7))
    assert not damaged.section_headers
    assert any("e_shentsize is 7" in anomaly for anomaly in damaged.anomalies)
    _same_tables(damaged, read_elf(data))


@BOTH
def test_no_dynamic_segment(relative: str) -> None:
    data = with_segment_type(read_lib(relative), PT_DYNAMIC, PT_NULL)
    assert "no PT_DYNAMIC segment" in corrupt_message(data)


@BOTH
def test_string_table_outside_every_load_segment(relative: str) -> None:
    data = with_dynamic_value(read_lib(relative), DT_STRTAB, 0x7FFF0000)
    message = corrupt_message(data)
    assert "DT_STRTAB address 0x7fff0000 is not inside any PT_LOAD segment" in message


@BOTH
def test_huge_sysv_hash_chain_count(relative: str) -> None:
    data = read_lib(relative)
    elf = Elf(data)
    nchain_at = elf.vaddr_to_offset(elf.dynamic_entry(DT_HASH).value) + 4
    assert "symbol count 4294967295 is implausible" in corrupt_message(
        patched(data, nchain_at, "<I", 0xFFFFFFFF)
    )


@BOTH
def test_sysv_hash_chain_count_past_the_end_of_the_file(relative: str) -> None:
    data = read_lib(relative)
    elf = Elf(data)
    nchain_at = elf.vaddr_to_offset(elf.dynamic_entry(DT_HASH).value) + 4
    message = corrupt_message(patched(data, nchain_at, "<I", 1 << 20))
    assert "truncated: .dynsym (1048576 symbols)" in message


@BOTH
def test_gnu_hash_chain_without_terminator(relative: str) -> None:
    data = with_dynamic_tag(read_lib(relative), DT_HASH, DT_DEBUG)  # count from DT_GNU_HASH only
    chains_at, count = gnu_hash_chain_bounds(data)
    out = bytearray(data)
    for at in range(chains_at, chains_at + 4 * count, 4):
        (value,) = struct.unpack_from("<I", out, at)
        struct.pack_into("<I", out, at, value & ~1)
    assert "DT_GNU_HASH chain does not terminate" in corrupt_message(bytes(out))


@BOTH
def test_gnu_hash_alone_gives_the_same_symbols(relative: str) -> None:
    data = read_lib(relative)
    only_gnu = read_elf(with_dynamic_tag(data, DT_HASH, DT_DEBUG))
    assert DT_GNU_HASH in only_gnu.dynamic_tags and DT_HASH not in only_gnu.dynamic_tags
    _same_tables(only_gnu, read_elf(data))


@BOTH
def test_executable_is_not_a_shared_object(relative: str) -> None:
    message = corrupt_message(patched(read_lib(relative), 0x10, "<H", 2))
    assert "e_type is ET_EXEC, not ET_DYN" in message


@BOTH
def test_big_endian_flag(relative: str) -> None:
    data = bytearray(read_lib(relative))
    data[5] = 2
    assert "big-endian" in corrupt_message(bytes(data))


def test_unknown_class() -> None:
    data = bytearray(read_lib(LIB64))
    data[4] = 3
    assert "bad ELF class 3" in corrupt_message(bytes(data))


def test_64_bit_library_marked_32_bit() -> None:
    data = bytearray(read_lib(LIB64))
    data[4] = 1
    assert "program headers" in corrupt_message(bytes(data))


def test_32_bit_library_marked_64_bit() -> None:
    data = bytearray(read_lib(LIB32))
    data[4] = 2
    corrupt_message(bytes(data))
