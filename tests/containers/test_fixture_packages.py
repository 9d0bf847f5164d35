"""The committed fixture packages (``fixtures/packages``), read as a user's would be.

Their exact contents belong to the fixture builder; these tests check what must hold for any of
them: every library where its kind keeps it, bytes that are ELF and as long as declared, and
stored offsets that point at the ELF magic in the archive that holds the library.
"""

from __future__ import annotations

import hashlib
import io
import re
import struct
import zipfile
from pathlib import Path

import pytest

from symaudit.containers import LibraryEntry, Package, PackageKind, open_package
from symaudit.containers.base import KNOWN_ABIS
from tests.required import built

from .builders import central_entries

PACKAGES = Path(__file__).resolve().parents[2] / "fixtures" / "packages"
LAYOUTS = {
    PackageKind.APK: re.compile(r"lib/(?P<abi>[^/]+)/(?P<name>[^/]+\.so)"),
    PackageKind.APKS: re.compile(r"lib/(?P<abi>[^/]+)/(?P<name>[^/]+\.so)"),
    PackageKind.AAB: re.compile(r"[^/]+/lib/(?P<abi>[^/]+)/(?P<name>[^/]+\.so)"),
    PackageKind.AAR: re.compile(
        r"(jni/(?P<abi>[^/]+)|prefab/modules/[^/]+/libs/android\.(?P<prefab_abi>[^/]+))/(?P<name>[^/]+\.so)"
    ),
    PackageKind.FOLDER: re.compile(r"(.*/)?(?P<abi>[^/]+)/(?P<name>[^/]+\.so)"),
}


def _fixture(name: str) -> Path:
    return built(PACKAGES / name)


def _stored_offset_points_at_elf(archive: bytes, entry: LibraryEntry) -> None:
    _, local = central_entries(archive)[entry.path]
    name_length, extra_length = struct.unpack_from("<HH", archive, local + 26)
    method = struct.unpack_from("<H", archive, local + 8)[0]
    assert (method != 0) is entry.compressed
    if entry.compressed:
        assert entry.data_offset is None
    else:
        assert entry.data_offset == local + 30 + name_length + extra_length
        assert archive[entry.data_offset : entry.data_offset + 4] == b"\x7fELF"


def _check_libraries(package: Package, kind: PackageKind) -> list[LibraryEntry]:
    assert package.kind is kind
    entries = package.libraries()
    assert entries, "a fixture package without libraries tests nothing"
    for entry in entries:
        match = LAYOUTS[kind].fullmatch(entry.path)
        assert match is not None, entry.path
        assert entry.abi == (match.groupdict().get("prefab_abi") or match.group("abi"))
        assert entry.abi in KNOWN_ABIS
        assert entry.name == match.group("name")
        data = package.read(entry)
        assert len(data) == entry.size
        assert data[:4] == b"\x7fELF"
    return entries


@pytest.mark.parametrize(("name", "kind"), [("clean.apk", PackageKind.APK), ("clean.aab", PackageKind.AAB)])
def test_zip_fixture(name: str, kind: PackageKind) -> None:
    path = _fixture(name)
    raw = path.read_bytes()
    with open_package([str(path)]) as package:
        assert package.sha256 == hashlib.sha256(raw).hexdigest()
        for entry in _check_libraries(package, kind):
            _stored_offset_points_at_elf(raw, entry)


def test_apks_fixture_offsets_are_inside_the_nested_apk() -> None:
    path = _fixture("clean.apks")
    with open_package([str(path)]) as package, zipfile.ZipFile(path) as outer:
        entries = _check_libraries(package, PackageKind.APKS)
        for entry in entries:
            assert entry.container is not None and entry.container.endswith(".apk")
            _stored_offset_points_at_elf(outer.read(entry.container), entry)
        order = [(e.abi, e.name, e.path) for e in entries]
        assert order == sorted(order)


@pytest.mark.parametrize("name", ["pytorch_android-new.aar", "fbjni-prefab.aar"])
def test_aar_fixture_lists_each_library_once_per_abi(name: str) -> None:
    path = _fixture(name)
    with open_package([str(path)]) as package:
        entries = _check_libraries(package, PackageKind.AAR)
        pairs = [(e.abi, e.name) for e in entries]
        assert len(pairs) == len(set(pairs))
        with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as archive:
            jni = {
                tuple(n.split("/")[1:3])
                for n in archive.namelist()
                if n.startswith("jni/") and n.endswith(".so")
            }
        # Every jni/ library is listed from jni/, never from its prefab copy.
        assert {(e.abi, e.name) for e in entries if e.path.startswith("jni/")} == jni


def test_folder_fixture() -> None:
    path = _fixture("clean-folder")
    with open_package([str(path)]) as package:
        assert package.sha256 is None
        entries = _check_libraries(package, PackageKind.FOLDER)
        assert all(e.data_offset is None and not e.compressed for e in entries)
