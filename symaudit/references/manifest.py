"""Reference manifests: what one reference AAR's libraries export and import, per ABI.

Compact JSON kept in the cache under the artifact's sha256, so a warm run never reopens an AAR.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from symaudit.analysis.toolchain import android_note
from symaudit.containers import open_package
from symaudit.elf.model import SymbolTable
from symaudit.elf.reader import CorruptElfError, read_elf
from symaudit.errors import InputError
from symaudit.maven.coordinates import Coordinate

SCHEMA = "symaudit.reference-manifest/1"


@dataclass(frozen=True, slots=True)
class ReferenceLibrary:
    abi: str
    name: str
    sha256: str
    soname: str | None
    needed: tuple[str, ...]
    ndk: str | None
    exports: frozenset[str]
    imports: frozenset[str]
    export_versions: tuple[tuple[str, str], ...] = ()
    """(name, version) of versioned exports only."""
    import_versions: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class ReferenceManifest:
    coordinate: Coordinate
    sha256: str
    libraries: tuple[ReferenceLibrary, ...]
    present: tuple[str, ...] | None = None
    """Every ABI the artifact has libraries for, when only some were read (``read``)."""
    read: tuple[str, ...] | None = None
    """The ABIs whose libraries were read (by range requests); None: every one."""

    def covers(self, abis: Sequence[str] | None) -> bool:
        """Whether the manifest holds every library of these ABIs (None: of every ABI)."""
        if self.read is None:
            return True
        if abis is None:
            return False
        return set(abis) & set(self.present or ()) <= set(self.read)

    def library(self, abi: str, name: str) -> ReferenceLibrary | None:
        return next((lib for lib in self.libraries if lib.abi == abi and lib.name == name), None)

    def exports(self, abi: str) -> frozenset[str]:
        """Everything the artifact's libraries of one ABI define together."""
        return frozenset().union(*(lib.exports for lib in self.libraries if lib.abi == abi))

    @property
    def abis(self) -> tuple[str, ...]:
        return tuple(sorted({lib.abi for lib in self.libraries}))


def _versions(table: SymbolTable) -> tuple[tuple[str, str], ...]:
    if table.versions is None:
        return ()
    return tuple(sorted({(n, v) for n, v in zip(table.names, table.versions, strict=True) if v}))


def library_record(coordinate: Coordinate, abi: str, name: str, path: str, data: bytes) -> ReferenceLibrary:
    """What a manifest keeps of one library of the artifact."""
    try:
        elf = read_elf(data, name)
    except CorruptElfError as exc:
        raise InputError(f"{coordinate}: {path}: {exc}") from None
    note = android_note(elf)
    return ReferenceLibrary(
        abi=abi,
        name=name,
        sha256=hashlib.sha256(data).hexdigest(),
        soname=elf.soname,
        needed=elf.needed,
        ndk=note.ndk_version if note else None,
        exports=frozenset(elf.exports.names),
        imports=frozenset(elf.imports.names),
        export_versions=_versions(elf.exports),
        import_versions=_versions(elf.imports),
    )


def build_manifest(coordinate: Coordinate, path: Path, sha256: str) -> ReferenceManifest:
    """Read every .so of the AAR at ``path`` in memory (never extracted)."""
    libraries: list[ReferenceLibrary] = []
    with open_package([str(path)]) as package:
        for entry in package.libraries():
            if entry.abi is None or entry.container is not None or "/prefab/" in f"/{entry.path}":
                continue
            libraries.append(
                library_record(coordinate, entry.abi, entry.name, entry.path, package.read(entry))
            )
    libraries.sort(key=lambda lib: (lib.abi, lib.name))
    return ReferenceManifest(coordinate, sha256, tuple(libraries))


def jni_member(path: str) -> tuple[str, str] | None:
    """(abi, file name) of an AAR member ``jni/<abi>/<name>.so``, the libraries a manifest holds."""
    parts = path.split("/")
    if len(parts) == 3 and parts[0] == "jni" and parts[1] and parts[2].endswith(".so"):
        return parts[1], parts[2]
    return None


def to_json(manifest: ReferenceManifest) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "coordinate": str(manifest.coordinate),
        "extension": manifest.coordinate.extension,
        "sha256": manifest.sha256,
        **(
            {"present": list(manifest.present or ()), "read": list(manifest.read)}
            if manifest.read is not None
            else {}
        ),
        "libraries": [
            {
                "abi": lib.abi,
                "name": lib.name,
                "sha256": lib.sha256,
                "soname": lib.soname,
                "needed": list(lib.needed),
                "ndk": lib.ndk,
                "exports": sorted(lib.exports),
                "imports": sorted(lib.imports),
                "export_versions": dict(lib.export_versions),
                "import_versions": dict(lib.import_versions),
            }
            for lib in manifest.libraries
        ],
    }


def from_json(data: Any) -> ReferenceManifest | None:
    """The manifest, or None for anything that is not one of ours (a stale or foreign cache file)."""
    if not isinstance(data, Mapping) or data.get("schema") != SCHEMA:
        return None
    try:
        coordinate = Coordinate.parse(f"{data['coordinate']}@{data.get('extension', 'aar')}")
        libraries = tuple(
            ReferenceLibrary(
                abi=str(lib["abi"]),
                name=str(lib["name"]),
                sha256=str(lib["sha256"]),
                soname=lib["soname"],
                needed=tuple(lib["needed"]),
                ndk=lib["ndk"],
                exports=frozenset(lib["exports"]),
                imports=frozenset(lib["imports"]),
                export_versions=tuple(sorted(lib["export_versions"].items())),
                import_versions=tuple(sorted(lib["import_versions"].items())),
            )
            for lib in data["libraries"]
        )
        read = data.get("read")
        present = data.get("present")
        if read is not None:
            return ReferenceManifest(
                coordinate,
                str(data["sha256"]),
                libraries,
                tuple(map(str, present or ())),
                tuple(map(str, read)),
            )
        return ReferenceManifest(coordinate, str(data["sha256"]), libraries)
    except (KeyError, TypeError, AttributeError, InputError):
        return None
