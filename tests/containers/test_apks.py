from __future__ import annotations

from pathlib import Path

import pytest

from symaudit.containers import PackageKind, apks, open_package
from symaudit.errors import InputError, MemberError

from .builders import DEFLATED, STORED, Member, elf, raw_zip, write

MANIFEST = Member("AndroidManifest.xml", b"\x03\x00\x08\x00")


def _split(*libs: Member) -> bytes:
    return raw_zip([MANIFEST, *libs], align=16384)


MAIN_SPLIT = elf("main-split", 3000)
MAIN_STANDALONE = elf("main-standalone", 3100)
MAIN_UNIVERSAL = elf("main-universal", 3200)
CXX = elf("cxx", 2000)
MAIN_32 = elf("main-32", 1500)

ARM64_SPLIT = _split(
    Member("lib/arm64-v8a/libmain.so", MAIN_SPLIT),
    Member("lib/arm64-v8a/libc++_shared.so", CXX, DEFLATED),
    Member("lib/arm64-v8a/wrap.sh", b"#!/bin/sh"),
)
ARM32_SPLIT = _split(Member("lib/armeabi-v7a/libmain.so", MAIN_32))
STANDALONE = raw_zip(
    [MANIFEST, Member("classes.dex", b"dex"), Member("lib/arm64-v8a/libmain.so", MAIN_STANDALONE)]
)
UNIVERSAL = raw_zip([MANIFEST, Member("lib/arm64-v8a/libmain.so", MAIN_UNIVERSAL, DEFLATED)])


def _apks(tmp_path: Path, *extra: Member) -> Path:
    members = [
        Member("toc.pb", b"\x0a\x00"),
        Member("universal.apk", UNIVERSAL, DEFLATED),
        Member("standalones/standalone-arm64_v8a.apk", STANDALONE),
        Member("splits/base-master.apk", _split(Member("classes.dex", b"dex")), DEFLATED),
        Member("splits/base-arm64_v8a.apk", ARM64_SPLIT),
        Member("splits/base-armeabi_v7a.apk", ARM32_SPLIT, DEFLATED),
        *extra,
    ]
    return write(tmp_path / "app.apks", raw_zip(members))


def test_nested_apks_are_listed_with_their_container(tmp_path: Path) -> None:
    with open_package([str(_apks(tmp_path))]) as package:
        assert package.kind is PackageKind.APKS
        entries = package.libraries()
        assert [(e.abi, e.name, e.container, e.size, e.compressed) for e in entries] == [
            ("arm64-v8a", "libc++_shared.so", "splits/base-arm64_v8a.apk", len(CXX), True),
            # Twins: the split (what a current device installs) comes first.
            ("arm64-v8a", "libmain.so", "splits/base-arm64_v8a.apk", len(MAIN_SPLIT), False),
            ("arm64-v8a", "libmain.so", "standalones/standalone-arm64_v8a.apk", len(MAIN_STANDALONE), False),
            ("arm64-v8a", "libmain.so", "universal.apk", len(MAIN_UNIVERSAL), True),
            ("armeabi-v7a", "libmain.so", "splits/base-armeabi_v7a.apk", len(MAIN_32), False),
        ]
        assert {e.path for e in entries} == {
            "lib/arm64-v8a/libc++_shared.so",
            "lib/arm64-v8a/libmain.so",
            "lib/armeabi-v7a/libmain.so",
        }
        # Offsets are inside the nested APK, the file a device installs.
        assert [e.data_offset for e in entries] == [
            None,
            ARM64_SPLIT.index(MAIN_SPLIT),
            STANDALONE.index(MAIN_STANDALONE),
            None,
            ARM32_SPLIT.index(MAIN_32),
        ]
        assert entries[1].data_offset is not None and entries[1].data_offset % 16384 == 0
        assert [package.read(e) for e in entries] == [
            CXX,
            MAIN_SPLIT,
            MAIN_STANDALONE,
            MAIN_UNIVERSAL,
            MAIN_32,
        ]


def test_reads_survive_dropping_nested_apks_from_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(apks, "NESTED_CACHE_BYTES", 1)
    with open_package([str(_apks(tmp_path))]) as package:
        entries = package.libraries()
        assert [package.read(e) for e in entries + entries[::-1]] == [
            CXX, MAIN_SPLIT, MAIN_STANDALONE, MAIN_UNIVERSAL, MAIN_32,
            MAIN_32, MAIN_UNIVERSAL, MAIN_STANDALONE, MAIN_SPLIT, CXX,
        ]  # fmt: skip


def test_nested_members_are_named_with_android_notation(tmp_path: Path) -> None:
    with open_package([str(_apks(tmp_path))]) as package:
        members = package.members()
        assert members[:6] == [
            "toc.pb",
            "universal.apk",
            "standalones/standalone-arm64_v8a.apk",
            "splits/base-master.apk",
            "splits/base-arm64_v8a.apk",
            "splits/base-armeabi_v7a.apk",
        ]
        assert "splits/base-master.apk!/AndroidManifest.xml" in members
        assert "universal.apk!/lib/arm64-v8a/libmain.so" in members
        assert package.read_member("splits/base-master.apk!/AndroidManifest.xml") == MANIFEST.data
        assert package.read_member("toc.pb") == b"\x0a\x00"
        with pytest.raises(MemberError) as error:
            package.read_member("splits/base-master.apk!/nope.xml")
        assert (
            str(error.value) == f"{tmp_path / 'app.apks'}: splits/base-master.apk: nope.xml: no such member"
        )


def test_corrupt_library_in_a_nested_apk_names_both_paths(tmp_path: Path) -> None:
    broken = bytearray(ARM64_SPLIT)
    broken[broken.index(MAIN_SPLIT) + 10] ^= 0xFF
    path = write(
        tmp_path / "app.apks",
        raw_zip([Member("toc.pb", b""), Member("splits/base-arm64_v8a.apk", bytes(broken), DEFLATED)]),
    )
    with open_package([str(path)]) as package:
        cxx, main = package.libraries()
        assert package.read(cxx) == CXX
        with pytest.raises(MemberError) as error:
            package.read(main)
        assert (
            str(error.value)
            == f"{path}: splits/base-arm64_v8a.apk: lib/arm64-v8a/libmain.so: bad CRC-32 (corrupt data)"
        )


def test_nested_apk_that_is_not_a_zip_stops_the_run(tmp_path: Path) -> None:
    path = _apks(tmp_path, Member("splits/base-x86.apk", b"this is not a zip"))
    with open_package([str(path)]) as package, pytest.raises(InputError) as error:
        package.libraries()
    assert not isinstance(error.value, MemberError)
    assert str(error.value) == (
        f"{path}: splits/base-x86.apk: nested APK is not a valid zip archive "
        "(no end of central directory record) (its libraries cannot be listed)"
    )


def test_unreadable_nested_apk_stops_the_run(tmp_path: Path) -> None:
    data = bytearray(
        raw_zip([Member("toc.pb", b""), Member("splits/base-arm64_v8a.apk", ARM64_SPLIT, STORED)])
    )
    data[data.index(ARM64_SPLIT) + 5] ^= 0xFF
    path = write(tmp_path / "app.apks", bytes(data))
    with open_package([str(path)]) as package, pytest.raises(InputError) as error:
        package.libraries()
    assert not isinstance(error.value, MemberError)
    assert str(error.value) == (
        f"{path}: splits/base-arm64_v8a.apk: bad CRC-32 (corrupt data) (its libraries cannot be listed)"
    )
