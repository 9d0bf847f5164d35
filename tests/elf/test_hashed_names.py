"""Large export tables are looked up through the library's own DT_GNU_HASH, as bionic does, and
decoded only when iterated: the answers must be exactly those of the decoded table."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from symaudit.elf import reader
from symaudit.elf.model import HashedNames, gnu_hash
from symaudit.elf.reader import read_elf

LIBS = Path(__file__).resolve().parents[2] / "fixtures" / "libs"


def _reference_hash(name: bytes) -> int:
    digest = 5381
    for byte in name:
        digest = (digest * 33 + byte) & 0xFFFFFFFF
    return digest


@pytest.mark.parametrize("size", [0, 1, 7, 80, 1023, 1024, 3000])
def test_gnu_hash_matches_the_definition(size: int) -> None:
    rng = random.Random(size)
    name = bytes(rng.randrange(1, 256) for _ in range(size))
    assert gnu_hash(name) == _reference_hash(name)
    assert gnu_hash(b"printf") == 0x156B2BB8  # from the GNU hash section documentation


@pytest.mark.parametrize("abi", ["arm64-v8a", "armeabi-v7a", "x86", "x86_64"])
@pytest.mark.parametrize(
    "variant", ["cxx-new/libc++_shared.so", "runtime-new/libpytorch_jni.so", "stripped/libfbjni.so"]
)
def test_hashed_lookups_agree_with_the_decoded_table(
    abi: str, variant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = (LIBS / abi / variant).read_bytes()
    eager = read_elf(data)
    monkeypatch.setattr(reader, "LAZY_NAMES_ABOVE", 1)
    lazy = read_elf(data)
    # Every fixture is linked with --hash-style=both, so the hashed path is always taken.
    assert isinstance(lazy.exports._hashed, HashedNames)  # noqa: SLF001 - the point of the test
    probes = list(eager.exports.names) + list(eager.imports.names) + ["", "nope", "_Z", "malloc\0x"]
    for name in probes:
        assert (name in lazy.exports) == (name in eager.exports), name
        assert lazy.exports.get(name) == eager.exports.get(name), name
        assert lazy.exports.all_named(name) == eager.exports.all_named(name), name
    # The batch lookup the linker uses gives the same answers, for both kinds of table.
    expected = [name in eager.exports.name_set for name in probes]
    assert lazy.exports.contains_each(probes) == expected
    assert eager.exports.contains_each(probes) == expected
    assert any(expected) and not all(expected)
    assert lazy.exports.names == eager.exports.names
    assert len(lazy.exports) == len(eager.exports)
    for prefixes in [("_ZNSt6__ndk1",), ("_ZN5torch",), ("nothing-like-this",)]:
        fresh = read_elf(data)
        assert fresh.exports.any_startswith(prefixes) == eager.exports.any_startswith(prefixes)


def test_a_broken_hash_chain_finds_nothing_rather_than_crashing(monkeypatch: pytest.MonkeyPatch) -> None:
    data = (LIBS / "arm64-v8a" / "cxx-new" / "libc++_shared.so").read_bytes()
    monkeypatch.setattr(reader, "LAZY_NAMES_ABOVE", 1)
    library = read_elf(data)
    hashed = library.exports._hashed  # noqa: SLF001
    assert hashed is not None
    # Point every bucket past the table: lookups must end, finding nothing.
    broken = HashedNames(
        hashed.text,
        hashed.offsets,
        hashed.runs,
        [10**6] * len(hashed.buckets),
        hashed.chains,
        hashed.symoffset,
    )
    assert broken.rows_named(library.exports.names[0]) == []


def test_export_rows_are_numbered_through_their_runs() -> None:
    names = HashedNames("\0", [], [(2, 5), (8, 10)], [], [], 0)
    assert [names.row_of(index) for index in range(11)] == [-1, -1, 0, 1, 2, -1, -1, -1, 3, 4, -1]


@pytest.mark.parametrize("middle", [0, 3, 300])
@pytest.mark.parametrize("starts", [False, True])
def test_a_prefix_is_found_at_a_string_start_only(middle: int, starts: bool) -> None:
    prefixes = ("_ZNSt6__ndk1", "_ZNKSt6__ndk1")
    names = [f"_ZN5torch{i}ENSt6__ndk112basic_stringE" for i in range(middle)]  # mid-name only
    names += ["_ZN3c10St6__ndk", "xx_ZNKSt6__ndk1x"]  # near misses
    if starts:
        names.append("_ZNKSt6__ndk16vectorE")
    text = "\0" + "\0".join(names) + "\0"
    table = HashedNames(text, [], [], [], [], 0)
    # 300 mid-name places exceed the one-by-one checks: the anchored pattern answers then.
    assert table.any_startswith(prefixes) is (None if starts else False)


def test_an_export_name_past_the_string_table_is_corrupt_on_the_hashed_path_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import io
    import struct

    from elftools.elf.elffile import ELFFile

    from symaudit.elf.reader import CorruptElfError

    data = bytearray((LIBS / "arm64-v8a" / "cxx-new" / "libc++_shared.so").read_bytes())
    elf = ELFFile(io.BytesIO(bytes(data)))
    dynsym = elf.get_section_by_name(".dynsym")
    dynstr = elf.get_section_by_name(".dynstr")
    index = next(i for i, symbol in enumerate(dynsym.iter_symbols()) if symbol["st_shndx"] != "SHN_UNDEF" and i)
    at = dynsym["sh_offset"] + index * dynsym["sh_entsize"]
    struct.pack_into("<I", data, at, dynstr["sh_size"] + 10)  # st_name past .dynstr
    monkeypatch.setattr(reader, "LAZY_NAMES_ABOVE", 1)
    with pytest.raises(CorruptElfError, match="past the end of .dynstr"):
        read_elf(bytes(data))


def test_names_decode_the_same_whether_or_not_they_start_strings() -> None:
    text = "\0abc\0bc\0"
    assert HashedNames(text, [1, 5, 1], [], [], [], 0, disjoint=True).decode() == ("abc", "bc", "abc")
    # An offset inside a string (a suffix shared with another name) is decoded from there.
    assert HashedNames(text, [1, 2, 5], [], [], [], 0, disjoint=False).decode() == ("abc", "bc", "bc")
