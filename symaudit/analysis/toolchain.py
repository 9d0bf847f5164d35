"""Which NDK built a library and which C++ runtime it uses.

Sources, most specific first: the ``.note.android.ident`` note (API level, and from NDK r15 on
the NDK release and build number), the ``.comment`` clang banner (toolchain build, mapped to a
release through ``symaudit/data/ndk_releases.json``) and, for prefab AARs, the module's
``abi.json``. Pure functions of the model; the annotator turns them into JSON fields.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from symaudit.elf.model import ElfLibrary
from symaudit.facts import load_data

NT_ANDROID_TYPE_IDENT = 1

# "Android (10552028, +pgo, +bolt, +lto, -mlgo, based on r487747d) clang version 17.0.2 (...)"
# "Android (6317467 based on r365631c1) clang version 9.0.8 (...)"
_BANNER = re.compile(
    r"Android \((?P<build>\d+)[ ,][^)]*?based on (?P<base>r\d+[a-z]*\d*)\) clang version (?P<version>[\d.]+)"
)
_PLAIN_CLANG = re.compile(r"(?:^|\s)clang version (?P<version>[\d.]+)")

SHARED_RUNTIMES = {
    "libc++_shared.so": "c++_shared",
    "libgnustl_shared.so": "gnustl_shared",
    "libstlport_shared.so": "stlport_shared",
}
_NDK_CXX_PREFIXES = ("_ZNSt6__ndk1", "_ZNKSt6__ndk1", "_ZTVNSt6__ndk1", "_ZTINSt6__ndk1", "_ZTSNSt6__ndk1")


@dataclass(frozen=True, slots=True)
class NdkRelease:
    release: str
    build: str
    clang_build: str | None
    clang_version: str | None

    @property
    def order(self) -> tuple[int, int]:
        """(major, letter index): r21b -> (21, 1). Comparable across releases."""
        return release_order(self.release)


def release_order(release: str) -> tuple[int, int]:
    match = re.fullmatch(r"r(\d+)([a-z]?)(?:-beta\d+)?", release.strip())
    if not match:
        return (0, 0)
    letter = match.group(2)
    return (int(match.group(1)), ord(letter) - ord("a") if letter else 0)


@lru_cache(maxsize=1)
def ndk_releases() -> tuple[NdkRelease, ...]:
    return tuple(
        NdkRelease(row["release"], row["build"], row["clang_build"], row["clang_version"])
        for row in load_data("ndk_releases.json")["releases"]
    )


@dataclass(frozen=True, slots=True)
class NdkInfo:
    release: str | None
    build: str | None
    api: int | None
    clang: str | None
    source: str
    """``note``, ``comment``, ``prefab`` or a ``+``-joined combination."""

    def as_json(self) -> dict[str, object]:
        return {
            "release": self.release,
            "build": self.build,
            "api": self.api,
            "clang": self.clang,
            "source": self.source,
        }

    @property
    def order(self) -> tuple[int, int] | None:
        return release_order(self.release) if self.release else None


@dataclass(frozen=True, slots=True)
class AndroidNote:
    api: int
    ndk_version: str | None
    ndk_build: str | None


def android_note(library: ElfLibrary) -> AndroidNote | None:
    """The ``.note.android.ident`` note: API level, NDK release and build when recorded."""
    for note in library.notes:
        if note.name != "Android" or note.type != NT_ANDROID_TYPE_IDENT or len(note.desc) < 4:
            continue
        api = int.from_bytes(note.desc[0:4], "little", signed=True)
        version = _c_string(note.desc[4:68]) if len(note.desc) >= 68 else None
        build = _c_string(note.desc[68:132]) if len(note.desc) >= 132 else None
        return AndroidNote(api, version or None, build or None)
    return None


def _c_string(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("ascii", "replace").strip()


def clang_banner(library: ElfLibrary) -> tuple[str | None, str | None, bool]:
    """(clang version, toolchain build, is an NDK toolchain) from ``.comment``."""
    for line in library.comment:
        match = _BANNER.search(line)
        if match:
            return match.group("version"), match.group("build"), True
    for line in library.comment:
        plain = _PLAIN_CLANG.search(line)
        if plain:
            return plain.group("version"), None, False
    return None, None, False


def identify_ndk(library: ElfLibrary, prefab: Mapping[str, object] | None = None) -> NdkInfo | None:
    """What the library says about the NDK that built it; ``None`` when it says nothing."""
    note = android_note(library)
    clang, clang_build, from_ndk = clang_banner(library)
    release = note.ndk_version if note else None
    build = note.ndk_build if note else None
    api = note.api if note else None
    sources = ["note"] if note else []
    if clang:
        sources.append("comment")
    if release is None and clang_build is not None and from_ndk:
        matches = [r for r in ndk_releases() if r.clang_build == clang_build]
        if matches:
            release, build = matches[0].release, matches[0].build
    if release is None and build is not None:
        for candidate in ndk_releases():
            if candidate.build == build:
                release = candidate.release
    if prefab:
        ndk_major = prefab.get("ndk")
        prefab_api = prefab.get("api")
        if api is None and isinstance(prefab_api, int):
            api = prefab_api
        if release is None and isinstance(ndk_major, int):
            release = f"r{ndk_major}"
        sources.append("prefab")
    if not sources:
        return None
    return NdkInfo(release, build, api, clang, "+".join(sources))


def exports_ndk_cxx(library: ElfLibrary) -> bool:
    """Whether the library itself defines (and exports) NDK libc++ symbols."""
    return library.exports.any_startswith(_NDK_CXX_PREFIXES)


def imports_cxx(library: ElfLibrary) -> bool:
    return library.imports.any_startswith(("_Z", "__cxa_"))


def identify_stl(name: str, library: ElfLibrary, prefab: Mapping[str, object] | None = None) -> str:
    """``c++_shared``, ``c++_static``, ``gnustl_shared``, ``stlport_shared``, ``system`` or ``none``.

    A shared runtime is itself identified as that runtime. Otherwise the DT_NEEDED entries decide;
    a library that exports ``std::__ndk1`` symbols without needing ``libc++_shared.so`` embeds a
    static libc++. A library that needs only the platform ``libstdc++.so`` uses the "system" STL.
    """
    if name in SHARED_RUNTIMES:
        return SHARED_RUNTIMES[name]
    for needed in library.needed:
        if needed in SHARED_RUNTIMES:
            return SHARED_RUNTIMES[needed]
    if exports_ndk_cxx(library):
        return "c++_static"
    stl = prefab.get("stl") if prefab else None
    if isinstance(stl, str) and stl:
        return stl
    if "libstdc++.so" in library.needed and imports_cxx(library):
        return "system"
    return "none"
