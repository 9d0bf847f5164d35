"""Finding an installed Android NDK and reading its platform stubs.

Search order (REFERENCE.md §4.2; the first directory holding ``source.properties`` wins):
``--ndk``; ``ANDROID_NDK_HOME``, ``ANDROID_NDK_ROOT``, ``ANDROID_NDK``, ``NDK_ROOT``;
``local.properties`` next to the input or in a parent (``ndk.dir``, else ``sdk.dir`` +
``ndk/<highest version>``); ``ANDROID_HOME``/``ANDROID_SDK_ROOT`` + ``ndk/<highest version>``,
then ``ndk-bundle``. An explicit ``--ndk`` that is not an NDK is an input error; everything else
is only a candidate.

A :class:`Sysroot` answers "from which API level does platform library L export symbol S" by
scanning ``sysroot/usr/lib/<triple>/<api>/L`` in ascending API order, reading each stub once.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from symaudit.errors import InputError

ENVIRONMENT_VARIABLES = ("ANDROID_NDK_HOME", "ANDROID_NDK_ROOT", "ANDROID_NDK", "NDK_ROOT")
SDK_VARIABLES = ("ANDROID_HOME", "ANDROID_SDK_ROOT")
MAX_STUB_SIZE = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Ndk:
    root: Path
    revision: str | None
    """``Pkg.Revision`` from ``source.properties`` (e.g. ``26.1.10909125``)."""
    found_by: str
    """How it was found: ``--ndk``, an environment variable's name, or ``local.properties``."""


def _is_ndk(path: Path) -> bool:
    return (path / "source.properties").is_file()


def _revision(path: Path) -> str | None:
    try:
        text = (path / "source.properties").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    match = re.search(r"^\s*Pkg\.Revision\s*=\s*(\S+)", text, re.MULTILINE)
    return match.group(1) if match else None


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", name)) or (0,)


def _in_sdk(sdk: Path) -> Path | None:
    side_by_side = sdk / "ndk"
    if side_by_side.is_dir():
        candidates = sorted(
            (p for p in side_by_side.iterdir() if _is_ndk(p)),
            key=lambda p: _version_key(p.name),
            reverse=True,
        )
        if candidates:
            return candidates[0]
    legacy = sdk / "ndk-bundle"
    return legacy if _is_ndk(legacy) else None


def _properties(path: Path) -> dict[str, str]:
    """Java ``.properties``, enough of it: ``key=value`` lines with backslash escapes."""
    result: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return result
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "!")) or "=" not in line:
            continue
        key, value = line.split("=", 1)
        result[key.strip()] = re.sub(r"\\(.)", r"\1", value.strip())
    return result


def _from_local_properties(start: Path) -> Path | None:
    directory = start if start.is_dir() else start.parent
    for folder in (directory, *directory.parents):
        properties = folder / "local.properties"
        if properties.is_file():
            values = _properties(properties)
            ndk_dir = values.get("ndk.dir")
            if ndk_dir and _is_ndk(Path(ndk_dir)):
                return Path(ndk_dir)
            sdk_dir = values.get("sdk.dir")
            if sdk_dir:
                return _in_sdk(Path(sdk_dir))
            return None
    return None


def find_ndk(
    explicit: str | None = None, near: str | None = None, environ: Mapping[str, str] | None = None
) -> Ndk | None:
    """The NDK to use, or ``None``. ``near`` is the audited input (for ``local.properties``)."""
    env = os.environ if environ is None else environ
    if explicit:
        path = Path(explicit).expanduser()
        if not _is_ndk(path):
            raise InputError(f"{explicit}: not an Android NDK (no source.properties)")
        return Ndk(path, _revision(path), "--ndk")
    for variable in ENVIRONMENT_VARIABLES:
        value = env.get(variable)
        if value and _is_ndk(Path(value)):
            return Ndk(Path(value), _revision(Path(value)), variable)
    if near:
        found = _from_local_properties(Path(near).resolve())
        if found is not None:
            return Ndk(found, _revision(found), "local.properties")
    for variable in SDK_VARIABLES:
        value = env.get(variable)
        if value:
            found = _in_sdk(Path(value))
            if found is not None:
                return Ndk(found, _revision(found), variable)
    return None


@dataclass
class Sysroot:
    """The platform stubs of one NDK for one target triple."""

    lib_dir: Path
    """``.../sysroot/usr/lib/<triple>``."""
    _first_api: dict[str, dict[str, int]] = field(default_factory=dict)

    @classmethod
    def of(cls, ndk: Ndk, triple: str) -> Sysroot | None:
        prebuilt = ndk.root / "toolchains" / "llvm" / "prebuilt"
        if not prebuilt.is_dir():
            return None
        for host in sorted(prebuilt.iterdir()):
            lib_dir = host / "sysroot" / "usr" / "lib" / triple
            if lib_dir.is_dir():
                return cls(lib_dir)
        return None

    @property
    def api_levels(self) -> list[int]:
        return sorted(int(p.name) for p in self.lib_dir.iterdir() if p.is_dir() and p.name.isdigit())

    def first_api(self, library: str) -> dict[str, int]:
        """Every symbol the stubs of ``library`` export, with the lowest API level that has it."""
        cached = self._first_api.get(library)
        if cached is not None:
            return cached
        from symaudit.elf.reader import CorruptElfError, read_elf

        first: dict[str, int] = {}
        for api in self.api_levels:
            stub = self.lib_dir / str(api) / library
            try:
                if not stub.is_file() or stub.stat().st_size > MAX_STUB_SIZE:
                    continue
                model = read_elf(stub.read_bytes(), library)
            except (OSError, CorruptElfError):
                continue  # a linker script or an unreadable stub: not evidence either way
            for name in model.exports.names:
                first.setdefault(name, api)
        self._first_api[library] = first
        return first

    def provides(self, library: str) -> bool:
        return any((self.lib_dir / str(api) / library).is_file() for api in self.api_levels)
