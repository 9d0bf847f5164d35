"""Where each package kind keeps its native libraries, and how a zip's member names reveal its kind.

Pure functions of member names (``/``-separated, as in a zip), shared by the zip readers and the
folder reader, so the path rules of REFERENCE.md §6.2 live in one place.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator
from typing import TypeVar

from symaudit.containers.base import KNOWN_ABIS, LEGACY_ABIS, PackageKind

ABI_DIRS = frozenset(KNOWN_ABIS + LEGACY_ABIS)
"""Directory names that mark a library's ABI outside the fixed APK/AAB/AAR layouts."""

# Top-level AAB folders that are not modules; no module can be named like them.
_AAB_NON_MODULES = frozenset({"BUNDLE-METADATA", "META-INF"})
_DEX = re.compile(r"classes\d*\.dex")
# bundletool's own folders for nested APKs (REFERENCE.md §6.2); toc.pb is the other marker.
_APKS_FOLDERS = ("splits/", "standalones/")

T = TypeVar("T")


def is_library_name(name: str) -> bool:
    """``wrap.sh``, ``gdbserver`` and ``libfoo.so.1`` sit beside libraries but are not loaded as one."""
    return name.endswith(".so") and len(name) > len(".so")


def apk_abi(member: str) -> str | None:
    """``lib/<abi>/<name>.so`` exactly: the package manager ignores deeper folders.

    Any ``<abi>`` is accepted, known or not: an unknown one is a finding for the analyses to make.
    """
    parts = member.split("/")
    if len(parts) == 3 and parts[0] == "lib" and parts[1] and is_library_name(parts[2]):
        return parts[1]
    return None


def aab_abi(member: str) -> str | None:
    """``<module>/lib/<abi>/<name>.so`` for the base and every feature module."""
    parts = member.split("/")
    if (
        len(parts) == 4
        and parts[1] == "lib"
        and parts[0]
        and parts[0] not in _AAB_NON_MODULES
        and parts[2]
        and is_library_name(parts[3])
    ):
        return parts[2]
    return None


def abi_dir_abi(member: str, top_dir: str = "") -> str | None:
    """Any ``.so`` whose immediate parent folder is an ABI name (plain zips and folders).

    Only known and legacy ABI names count here, because an arbitrary folder of ``.so`` files says
    nothing about ABIs. ``top_dir`` names the folder holding members that have no parent in
    ``member`` (a folder input that is itself ``arm64-v8a/``).
    """
    parent, _, name = member.rpartition("/")
    parent_name = parent.rpartition("/")[2] if parent else top_dir
    if parent_name in ABI_DIRS and is_library_name(name):
        return parent_name
    return None


def aar_libraries(members: Iterable[tuple[str, T]]) -> Iterator[tuple[str, T]]:
    """``jni/<abi>/*.so``, then the prefab copies that ``jni/`` does not already hold.

    AGP packs ``jni/`` into the app; prefab libraries reach it only through a consumer's CMake
    link, so a prefab library that duplicates a ``jni/`` one is the same library seen twice.
    Prefab folders are ``android.<abi>`` by convention only, so other names are skipped rather
    than reported as unknown ABIs.
    """
    jni: list[tuple[str, str, T]] = []
    prefab: list[tuple[str, str, T]] = []
    for member, item in members:
        parts = member.split("/")
        if len(parts) == 3 and parts[0] == "jni" and parts[1] and is_library_name(parts[2]):
            jni.append((parts[1], parts[2], item))
        elif (
            len(parts) == 6
            and parts[0] == "prefab"
            and parts[1] == "modules"
            and parts[3] == "libs"
            and parts[4].startswith("android.")
            and parts[4][len("android.") :] in ABI_DIRS
            and is_library_name(parts[5])
        ):
            prefab.append((parts[4][len("android.") :], parts[5], item))
    for abi, _, item in jni:
        yield abi, item
    in_jni = {(abi, name) for abi, name, _ in jni}
    for abi, name, item in prefab:
        if (abi, name) not in in_jni:
            yield abi, item


def is_nested_apk(member: str) -> bool:
    return member.endswith(".apk") and (member.startswith(_APKS_FOLDERS) or member == "universal.apk")


def detect_kind(names: Collection[str]) -> PackageKind:
    """The package kind from its member names alone; the file extension is not consulted.

    An APK with neither dex nor ``resources.arsc`` is still an APK when it has ``lib/``: ABI
    split APKs taken out of an APKS look like that.
    """
    if "BundleConfig.pb" in names:
        return PackageKind.AAB
    if "toc.pb" in names or any(is_nested_apk(name) for name in names):
        return PackageKind.APKS
    if "AndroidManifest.xml" in names:
        if "classes.jar" in names:
            return PackageKind.AAR
        if "resources.arsc" in names or any(
            _DEX.fullmatch(name) or name.startswith("lib/") for name in names
        ):
            return PackageKind.APK
    return PackageKind.ZIP


def libraries_of(
    kind: PackageKind, members: Iterable[tuple[str, T]], top_dir: str = ""
) -> Iterator[tuple[str, T]]:
    """``(abi, item)`` for each member that is a native library of a ``kind`` package.

    ``members`` pairs each member name with whatever the caller needs back (a ``ZipInfo``, a
    path); APKS is not handled here, each of its nested APKs is listed as an APK.
    """
    if kind is PackageKind.AAR:
        yield from aar_libraries(members)
        return
    for member, item in members:
        if kind is PackageKind.APK:
            abi = apk_abi(member)
        elif kind is PackageKind.AAB:
            abi = aab_abi(member)
        else:
            abi = abi_dir_abi(member, top_dir)
        if abi is not None:
            yield abi, item
