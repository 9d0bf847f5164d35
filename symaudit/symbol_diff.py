"""``symaudit diff A B``: what changed in the dynamic symbols between two builds of a library.

Each side is a ``.so``, a package (APK/AAR/folder, with ``abi``/``library`` to pick one of its
libraries) or a Maven coordinate (through the reference manifests, so a warm run opens no AAR).
Exports and imports are compared as sets of names; names only on one side are then grouped by
demangled qualified name, so ``torch::jit::load`` losing one overload and gaining another shows
as one signature change instead of one removal among thousands. Only the names that differ are
demangled: the cost is the set difference, not the library size.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from typing import Any

from symaudit.containers import open_package
from symaudit.containers.base import library_bytes
from symaudit.demangle import demangle
from symaudit.elf.model import SymbolTable
from symaudit.elf.reader import CorruptElfError, read_elf
from symaudit.errors import InputError
from symaudit.maven.coordinates import Coordinate
from symaudit.references.families import RUNTIME_NAMES
from symaudit.references.manifest import ReferenceManifest
from symaudit.references.symbols import base_of

SCHEMA = "symaudit.diff/1"
PREFERRED_ABIS = ("arm64-v8a", "armeabi-v7a", "x86_64", "x86")


@dataclass(frozen=True, slots=True)
class Side:
    label: str
    """What the user named, and which library of it (``app.apk!lib/arm64-v8a/libfoo.so``)."""
    abi: str | None
    library: str
    sha256: str | None
    exports: Mapping[str, str | None]
    """Exported name -> symbol version (None when unversioned)."""
    imports: Mapping[str, str | None]


@dataclass(frozen=True, slots=True)
class Change:
    name: str
    """Demangled qualified name (``torch::jit::load``)."""
    removed: tuple[str, ...]
    added: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TableDiff:
    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[Change, ...]
    """Qualified names that lost some signatures and gained others."""
    reversioned: tuple[tuple[str, str | None, str | None], ...]
    """(name, old version, new version) of names on both sides with another version."""
    unchanged: int
    demangled: Mapping[str, str | None]
    """Demangled form of every name listed above (computed once, for grouping and display)."""


@dataclass(frozen=True, slots=True)
class DiffResult:
    a: Side
    b: Side
    exports: TableDiff
    imports: TableDiff


def _table(table: SymbolTable) -> dict[str, str | None]:
    versions = table.versions or (None,) * len(table.names)
    return dict(zip(table.names, versions, strict=True))


def _pick(
    options: list[str], wanted: str | None, what: str, label: str, prefer: Callable[[str], bool]
) -> str:
    if wanted is not None:
        if wanted not in options:
            raise InputError(f"{label}: no {what} {wanted} (found: {', '.join(options) or 'none'})")
        return wanted
    if len(options) == 1:
        return options[0]
    preferred = [o for o in options if prefer(o)]
    if preferred:
        return preferred[0]
    raise InputError(f"{label}: several {what}s ({', '.join(options)}); choose one with --{what}")


def _abi_order(abi: str) -> bool:
    return abi in PREFERRED_ABIS


def _abi_sorted(abis: set[str]) -> list[str]:
    rank = {abi: i for i, abi in enumerate(PREFERRED_ABIS)}
    return sorted(abis, key=lambda a: (rank.get(a, len(rank)), a))


def _from_package(path: str, abi: str | None, library: str | None) -> Side:
    with open_package([path]) as package:
        entries = package.libraries()
        if not entries:
            raise InputError(f"{path}: no native library")
        if len(entries) == 1 and entries[0].abi is None:
            entry = entries[0]
        else:
            abis = _abi_sorted({e.abi for e in entries if e.abi})
            chosen_abi = _pick(abis, abi, "abi", path, _abi_order)
            names = sorted({e.name for e in entries if e.abi == chosen_abi})
            chosen = _pick(names, library, "library", path, lambda n: RUNTIME_NAMES.match(n) is not None)
            entry = next(e for e in entries if e.abi == chosen_abi and e.name == chosen)
        with library_bytes(package, entry) as (data, sha256):
            try:
                elf = read_elf(data, entry.name)
            except CorruptElfError as exc:
                raise InputError(f"{path}: {entry.path}: {exc}") from None
            digest = sha256()
            exports, imports = _table(elf.exports), _table(elf.imports)
    label = path if entry.path == path else f"{path}!{entry.path}"
    return Side(label, entry.abi, entry.name, digest, exports, imports)


def _from_manifest(manifest: ReferenceManifest, abi: str | None, library: str | None) -> Side:
    label = str(manifest.coordinate)
    chosen_abi = _pick(_abi_sorted(set(manifest.abis)), abi, "abi", label, _abi_order)
    names = sorted({lib.name for lib in manifest.libraries if lib.abi == chosen_abi})
    chosen = _pick(names, library, "library", label, lambda n: RUNTIME_NAMES.match(n) is not None)
    lib = manifest.library(chosen_abi, chosen)
    assert lib is not None
    exports: dict[str, str | None] = dict.fromkeys(lib.exports)
    exports.update(dict(lib.export_versions))
    imports: dict[str, str | None] = dict.fromkeys(lib.imports)
    imports.update(dict(lib.import_versions))
    return Side(f"{label}!jni/{chosen_abi}/{chosen}", chosen_abi, chosen, lib.sha256, exports, imports)


def load_side(
    spec: str,
    abi: str | None,
    library: str | None,
    manifest_for: Callable[[Coordinate], ReferenceManifest],
) -> Side:
    """A side of the diff from a path, else a Maven coordinate (``manifest_for`` fetches it)."""
    if os.path.exists(spec) or not Coordinate.looks_like(spec):
        return _from_package(spec, abi, library)
    coordinate = Coordinate.parse(spec)
    if coordinate.version is None:
        raise InputError(f"{spec}: name a version (group:artifact:version)")
    return _from_manifest(manifest_for(coordinate), abi, library)


def diff_tables(old: Mapping[str, str | None], new: Mapping[str, str | None]) -> TableDiff:
    removed = old.keys() - new.keys()
    added = new.keys() - old.keys()
    demangled = {name: demangle(name) for name in removed | added}
    groups: dict[str, tuple[list[str], list[str]]] = {}
    for names, side in ((removed, 0), (added, 1)):
        for name in names:
            text = demangled[name]
            groups.setdefault(base_of(text) if text else name, ([], []))[side].append(name)
    changed = tuple(
        Change(base, tuple(sorted(gone)), tuple(sorted(came)))
        for base, (gone, came) in sorted(groups.items())
        if gone and came
    )
    in_changes = {n for c in changed for n in (*c.removed, *c.added)}
    both = old.keys() & new.keys()
    if (set(old.values()) | set(new.values())) - {None}:
        reversioned = tuple(sorted((n, old[n], new[n]) for n in both if old[n] != new[n]))
    else:  # neither side is versioned: nothing can have changed version (a C-speed check)
        reversioned = ()
    for name, _, _ in reversioned:
        demangled[name] = demangle(name)
    return TableDiff(
        added=tuple(sorted(added - in_changes)),
        removed=tuple(sorted(removed - in_changes)),
        changed=changed,
        reversioned=reversioned,
        unchanged=len(both) - len(reversioned),
        demangled=demangled,
    )


def diff(a: Side, b: Side) -> DiffResult:
    return DiffResult(a, b, diff_tables(a.exports, b.exports), diff_tables(a.imports, b.imports))


def diff_sides(
    a: str, b: str, abi: str | None, library: str | None, stores: Callable[[], AbstractContextManager[Any]]
) -> DiffResult:
    """``symaudit diff A B``: each side a file, a package or a coordinate; ``stores`` opens the
    reference store, only when a side is a coordinate (and then once)."""
    with ExitStack() as stack:
        opened: list[Any] = []

        def manifest_for(coordinate: Coordinate) -> ReferenceManifest:
            if not opened:
                opened.append(stack.enter_context(stores()))
            manifest: ReferenceManifest = opened[0].manifest(coordinate)
            return manifest

        return diff(load_side(a, abi, library, manifest_for), load_side(b, abi, library, manifest_for))
