"""``symaudit refs matrix``: every published release of the provider families, per ABI, and
whether a consumer's imports resolve against it (the table teams keep by hand: "which
pytorch_android works with this libwenet.so").

A cell compares the consumer's libtorch/fbjni imports (the names ``compatible_references`` uses,
:func:`~symaudit.references.families.is_family_symbol`) with everything the release's libraries
of that ABI define together: the same set arithmetic as ``compatible_references``, for every
release instead of the loaded ones. A release that cannot be had (offline, not downloadable,
the network budget spent) is a cell marked ``not-checked`` with the reason, never a guess.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tabulate import tabulate

from symaudit.containers import open_package
from symaudit.demangle import demangle
from symaudit.elf.reader import CorruptElfError, read_elf
from symaudit.errors import InputError, NetworkError, SymauditError
from symaudit.facts import abi_for_machine
from symaudit.maven.coordinates import Coordinate, version_key
from symaudit.references.families import is_family_symbol, is_reference_library, modules_for, symbol_modules
from symaudit.references.store import ReferenceStore

SCHEMA = "symaudit.matrix/1"
RESOLVES, MISSING, NO_LIBRARIES, NOT_CHECKED = "resolves", "missing", "no-libraries", "not-checked"


@dataclass(frozen=True, slots=True)
class Consumer:
    """One library (the same name on each ABI) whose imports are checked."""

    label: str
    name: str
    imports: dict[str, frozenset[str]]
    """ABI -> its libtorch/fbjni imports."""
    needed: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Cell:
    status: str
    missing: tuple[str, ...] = ()
    reason: str | None = None


@dataclass(slots=True)
class Matrix:
    consumer: Consumer
    modules: tuple[Coordinate, ...]
    abis: tuple[str, ...]
    rows: list[tuple[Coordinate, dict[str, Cell]]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


# --- the consumer ----------------------------------------------------------------------------


def load_consumer(path: str, library: str | None, abis: Sequence[str]) -> Consumer:
    """The consumer in ``path`` (a .so, or a package with ``library`` naming it when several of
    its libraries import libtorch/fbjni symbols), per ABI."""
    found: dict[str, dict[str, tuple[frozenset[str], tuple[str, ...]]]] = {}
    with open_package([path]) as package:
        entries = package.libraries()
        if not entries:
            raise InputError(f"{path}: no native library")
        loose = len(entries) == 1 and entries[0].abi is None
        for entry in entries:
            if entry.container is not None or (library is not None and entry.name != library):
                continue
            if not loose and (is_reference_library(entry.name) and library is None):
                continue  # the runtimes themselves are what the consumer is checked against
            try:
                elf = read_elf(package.read(entry), entry.name)
            except CorruptElfError as exc:
                raise InputError(f"{path}: {entry.path}: {exc}") from None
            abi = entry.abi if entry.abi is not None else abi_for_machine(elf.machine, elf.bits)
            if abi is None:
                raise InputError(
                    f"{path}: {entry.path}: not a library of an Android ABI (e_machine {elf.machine})"
                )
            imports = frozenset(n for n in elf.imports.names if is_family_symbol(n))
            if imports or library is not None or loose:
                found.setdefault(entry.name, {})[abi] = (imports, elf.needed)
    if library is not None and library not in found:
        raise InputError(f"{path}: no library {library}")
    if not found:
        raise InputError(f"{path}: no library imports libtorch or fbjni symbols (name one with --library)")
    if len(found) > 1:
        raise InputError(f"{path}: several consumers ({', '.join(sorted(found))}); choose one with --library")
    ((name, by_abi),) = found.items()
    if abis:
        absent = [a for a in abis if a not in by_abi]
        if absent:
            raise InputError(f"{path}: no {name} for ABI {absent[0]} (found: {', '.join(sorted(by_abi))})")
        by_abi = {a: by_abi[a] for a in abis}
    needed = tuple(sorted({n for _, (_, deps) in by_abi.items() for n in deps}))
    return Consumer(path, name, {a: imports for a, (imports, _) in sorted(by_abi.items())}, needed)


def provider_modules(consumer: Consumer) -> tuple[Coordinate, ...]:
    """The families to tabulate: the home modules of the reference libraries the consumer
    names in DT_NEEDED (``libpytorch_jni.so`` -> pytorch_android and fbjni); without one, the
    families its imports belong to (torch/c10/at/caffe2 -> both PyTorch modules, facebook::jni
    -> fbjni)."""
    by_needed = modules_for(consumer.needed)
    if by_needed:
        return by_needed
    return symbol_modules(frozenset().union(*consumer.imports.values()))


# --- the table -------------------------------------------------------------------------------


def build(store: ReferenceStore, consumer: Consumer, modules: Sequence[Coordinate]) -> Matrix:
    abis = tuple(consumer.imports)
    matrix = Matrix(consumer, tuple(modules), abis)
    client = store.client
    for module in modules:
        try:
            versions = store.versions(module)
        except NetworkError as exc:
            matrix.problems.append(f"{module}: version list not fetched: {exc}")
            store.give_up(exc)
            versions = sorted(client.known_versions(module), key=version_key)
        if not versions:
            matrix.problems.append(
                f"{module}: no version known ({client.offline_reason if client.offline else 'none published'})"
            )
        for version in sorted(versions, key=version_key):
            coordinate = module.with_version(version)
            try:
                manifest = store.manifest(coordinate, abis=abis)
            except SymauditError as exc:
                if isinstance(exc, NetworkError):
                    store.give_up(exc)
                reason = str(exc)
                matrix.rows.append((coordinate, dict.fromkeys(abis, Cell(NOT_CHECKED, reason=reason))))
                continue
            cells = {}
            for abi in abis:
                if abi not in manifest.abis:
                    cells[abi] = Cell(NO_LIBRARIES, reason=f"{coordinate} has no libraries for {abi}")
                    continue
                missing = tuple(sorted(consumer.imports[abi] - manifest.exports(abi)))
                cells[abi] = Cell(MISSING, missing) if missing else Cell(RESOLVES)
            matrix.rows.append((coordinate, cells))
    return matrix


# --- output ----------------------------------------------------------------------------------


def _cell_text(cell: Cell) -> str:
    if cell.status == MISSING:
        return f"{len(cell.missing)} missing"
    return {RESOLVES: "resolves", NO_LIBRARIES: "no libraries", NOT_CHECKED: "not checked"}[cell.status]


def _shown(name: str) -> str:
    text = demangle(name)
    return text if text else name


def _notes(matrix: Matrix) -> list[str]:
    notes: list[str] = []
    for coordinate, cells in matrix.rows:
        missing = {a: c for a, c in cells.items() if c.status == MISSING}
        if missing:
            first = next(iter(missing.values()))
            notes.append(f"{coordinate} ({', '.join(missing)}): lacks {_shown(first.missing[0])}")
        unchecked = [c for c in cells.values() if c.status == NOT_CHECKED]
        if unchecked:
            notes.append(f"{coordinate}: not checked: {unchecked[0].reason}")
    return notes


def _headline(matrix: Matrix) -> str:
    counts = ", ".join(f"{abi} {len(imports)}" for abi, imports in matrix.consumer.imports.items())
    return f"{matrix.consumer.name} ({matrix.consumer.label}): libtorch/fbjni imports per ABI: {counts}"


def render_text(matrix: Matrix, markdown: bool = False) -> str:
    rows = [[str(c), *(_cell_text(cells[a]) for a in matrix.abis)] for c, cells in matrix.rows]
    table = tabulate(rows, headers=["release", *matrix.abis], tablefmt="github" if markdown else "simple")
    bullet = "- " if markdown else "  "
    lines = [f"**{_headline(matrix)}**" if markdown else _headline(matrix), "", table]
    notes = _notes(matrix)
    if notes:
        lines += ["", "Notes:" if not markdown else "**Notes**", *(f"{bullet}{n}" for n in notes)]
    if matrix.problems:
        lines += [
            "",
            "Problems:" if not markdown else "**Problems**",
            *(f"{bullet}{p}" for p in matrix.problems),
        ]
    return "\n".join(lines) + "\n"


def to_json(matrix: Matrix) -> dict[str, Any]:
    def cell(c: Cell) -> dict[str, Any]:
        return {
            "status": c.status,
            "missing": len(c.missing) if c.status in (RESOLVES, MISSING) else None,
            "example": c.missing[0] if c.missing else None,
            "example_demangled": _shown(c.missing[0]) if c.missing else None,
            "reason": c.reason,
        }

    return {
        "schema": SCHEMA,
        "consumer": {
            "path": matrix.consumer.label,
            "library": matrix.consumer.name,
            "needed": list(matrix.consumer.needed),
            "imports": {abi: len(names) for abi, names in matrix.consumer.imports.items()},
        },
        "modules": [str(m) for m in matrix.modules],
        "abis": list(matrix.abis),
        "releases": [
            {
                "coordinate": str(c),
                "module": c.module,
                "version": c.version,
                "cells": {abi: cell(cells[abi]) for abi in matrix.abis},
            }
            for c, cells in matrix.rows
        ],
        "problems": list(matrix.problems),
    }


def render(matrix: Matrix, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(to_json(matrix), indent=2) + "\n"
    return render_text(matrix, markdown=fmt == "markdown")


def matrix_command(
    store: ReferenceStore, path: str, library: str | None, abis: Sequence[str], fmt: str
) -> str:
    """What ``symaudit refs matrix`` prints."""
    consumer = load_consumer(path, library, abis)
    return render(build(store, consumer, provider_modules(consumer)), fmt)
