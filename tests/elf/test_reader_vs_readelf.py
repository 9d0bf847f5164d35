"""Differential test: every fixture library, read by symaudit and by ``llvm-readelf-19``.

llvm-readelf is the reference for what the bytes say; symaudit must agree on everything the
audit relies on: SONAME, DT_NEEDED order, RUNPATH, machine and class, every program header, and
the dynamic symbols it classifies as exports and imports, with binding, type, visibility and
version (``name@V`` for a reference or a hidden definition, ``name@@V`` for a default one).
Skipped without llvm-readelf-19, failed instead under ``SYMAUDIT_REQUIRE_ALL``.
"""

from __future__ import annotations

import functools
import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from symaudit.elf.model import ElfLibrary, SymbolTable
from symaudit.elf.reader import read_elf

from .fixture_libs import ABIS, all_libs, lib_id, skip_or_fail, tool

READELF = "llvm-readelf-19"
LIBRARIES = all_libs()

EXPORT_BINDINGS = {1, 2}  # GLOBAL, WEAK (bionic ignores GNU_UNIQUE definitions)
IMPORT_BINDINGS = {1, 2}
EXPORT_VISIBILITIES = {0, 3}  # DEFAULT, PROTECTED


@dataclass(frozen=True)
class ReadelfView:
    header: dict[str, Any]
    program_headers: list[dict[str, Any]]
    dynamic: list[dict[str, Any]]
    dynamic_symbols: list[dict[str, Any]]
    has_versym: bool
    """Whether llvm-readelf found the versym table: it finds it only through section headers."""
    version_needs: list[tuple[str, tuple[str, ...]]]
    versions_defined: set[str]


def _run(*args: str) -> str:
    done = subprocess.run([tool(READELF), *args], capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


_VERNEED_FILE = re.compile(r"^\s+0x[0-9a-f]+: Version: \d+\s+File: (\S+)\s+Cnt: \d+$")
_VERNAUX = re.compile(r"^\s+0x[0-9a-f]+:\s+Name: (\S+)\s+Flags: .*Version: \d+$")
_VERDEF = re.compile(r"^\s+0x[0-9a-f]+: Rev: \d+\s+Flags: (\S+)\s+Index: \d+\s+Cnt: \d+\s+Name: (\S+)$")


def _parse_versions(text: str) -> tuple[bool, list[tuple[str, tuple[str, ...]]], set[str]]:
    """``llvm-readelf -V`` as text: its JSON form of verdef is not valid JSON in LLVM 19."""
    needs: list[tuple[str, list[str]]] = []
    defined: set[str] = set()
    section = ""
    for line in text.splitlines():
        if line.startswith("Version "):
            section = line.split("'")[1] if "'" in line else line
            continue
        if section == ".gnu.version_r":
            if match := _VERNEED_FILE.match(line):
                needs.append((match.group(1), []))
            elif match := _VERNAUX.match(line):
                needs[-1][1].append(match.group(1))
        elif section == ".gnu.version_d" and (match := _VERDEF.match(line)):
            if "BASE" not in match.group(1):
                defined.add(match.group(2))
    has_versym = "Version symbols section" in text
    return has_versym, [(file, tuple(names)) for file, names in needs], defined


@functools.cache
def readelf(path: Path) -> ReadelfView:
    (report,) = json.loads(
        _run(
            "--elf-output-style=JSON",
            "--file-header",
            "--program-headers",
            "--dynamic-table",
            "--dyn-syms",
            str(path),
        )
    )
    has_versym, needs, defined = _parse_versions(_run("-V", str(path)))
    return ReadelfView(
        header=report["ElfHeader"],
        program_headers=[entry["ProgramHeader"] for entry in report.get("ProgramHeaders", [])],
        dynamic=report.get("DynamicSection", []),
        dynamic_symbols=[entry["Symbol"] for entry in report.get("DynamicSymbols", [])],
        has_versym=has_versym,
        version_needs=needs,
        versions_defined=defined,
    )


@functools.cache
def model(path: Path) -> ElfLibrary:
    return read_elf(path.read_bytes(), path.name)


def _library_id(param: Path | str | None) -> str:
    if param is None:
        return "no-fixture-libs"
    return param if isinstance(param, str) else lib_id(param)


@pytest.fixture(
    params=[*(LIBRARIES or [None]), *(f"{abi}/built/libsymver.so" for abi in ABIS)], ids=_library_id
)
def library(request: pytest.FixtureRequest) -> Path:
    """A committed fixture, or ``libsymver.so`` built from ``src/`` (versions, RUNPATH)."""
    param: Path | str | None = request.param
    if param is None:
        skip_or_fail("no fixture libraries under fixtures/libs (scripts/build_fixtures.py)")
    tool(READELF)
    if isinstance(param, str):
        built: dict[str, Path] = request.getfixturevalue("symver_libs")
        return built[param.split("/")[0]]
    return param


def _dynamic_values(view: ReadelfView, kind: str, key: str) -> list[Any]:
    return [entry[key] for entry in view.dynamic if entry["Type"] == kind]


def _symbol_rows(table: SymbolTable, *, defined: bool, versions: bool) -> list[tuple[str, int, int]]:
    """(name as llvm-readelf prints it, st_info, visibility) for each entry, in .dynsym order."""
    rows = []
    for symbol in table:
        name = symbol.name
        if versions and symbol.version is not None:
            name += f"@{symbol.version}" if symbol.hidden or not defined else f"@@{symbol.version}"
        rows.append((name, int(symbol.binding) << 4 | int(symbol.type), int(symbol.visibility)))
    return rows


def _readelf_rows(view: ReadelfView, *, defined: bool) -> list[tuple[str, int, int]]:
    rows = []
    for symbol in view.dynamic_symbols:
        binding = symbol["Binding"]["Value"]
        visibility = symbol["Other"]["Value"] & 3
        is_defined = symbol["Section"]["Value"] != 0
        name = symbol["Name"]["Name"]
        if defined:
            keep = is_defined and binding in EXPORT_BINDINGS and visibility in EXPORT_VISIBILITIES
        else:
            keep = not is_defined and binding in IMPORT_BINDINGS and name != ""
        if keep:
            rows.append((name, binding << 4 | symbol["Type"]["Value"], visibility))
    return rows


def test_header_matches_readelf(library: Path) -> None:
    lib, view = model(library), readelf(library)
    assert lib.elf_class.value == view.header["Ident"]["Class"]["Value"]
    assert lib.machine == view.header["Machine"]["Value"]
    assert lib.elf_type == 3 and view.header["Type"].startswith("SharedObject")


def test_dynamic_array_matches_readelf(library: Path) -> None:
    lib, view = model(library), readelf(library)
    assert ([lib.soname] if lib.soname else []) == _dynamic_values(view, "SONAME", "Name")
    assert list(lib.needed) == _dynamic_values(view, "NEEDED", "Library")
    runpath = [p for paths in _dynamic_values(view, "RUNPATH", "Path") for p in paths if p]
    assert list(lib.runpath) == runpath
    rpath = [p for paths in _dynamic_values(view, "RPATH", "Path") for p in paths if p]
    assert list(lib.rpath) == rpath
    assert lib.flags == sum(_dynamic_values(view, "FLAGS", "Value"))
    assert lib.flags_1 == sum(_dynamic_values(view, "FLAGS_1", "Value"))
    assert lib.dynamic_tags == {entry["Tag"] for entry in view.dynamic if entry["Tag"] != 0}


def test_program_headers_match_readelf(library: Path) -> None:
    lib, view = model(library), readelf(library)
    expected = [
        (
            header["Type"]["Value"],
            header["Flags"]["Value"],
            header["Offset"],
            header["VirtualAddress"],
            header["FileSize"],
            header["MemSize"],
            header["Alignment"],
        )
        for header in view.program_headers
    ]
    actual = [(s.type, s.flags, s.offset, s.vaddr, s.filesz, s.memsz, s.align) for s in lib.segments]
    assert actual == expected


def test_exports_match_readelf(library: Path) -> None:
    lib, view = model(library), readelf(library)
    rows = _symbol_rows(lib.exports, defined=True, versions=view.has_versym)
    assert rows == _readelf_rows(view, defined=True)


def test_imports_match_readelf(library: Path) -> None:
    lib, view = model(library), readelf(library)
    rows = _symbol_rows(lib.imports, defined=False, versions=view.has_versym)
    assert rows == _readelf_rows(view, defined=False)
    if view.has_versym:
        required = {(file, version) for file, versions in view.version_needs for version in versions}
        for symbol in lib.imports:
            if symbol.version is not None:
                assert (symbol.version_file, symbol.version) in required, symbol


def test_version_records_match_readelf(library: Path) -> None:
    lib, view = model(library), readelf(library)
    if lib.section_headers:  # llvm-readelf reads version records through section headers only
        assert lib.has_versym is view.has_versym
        assert [(need.file, need.versions) for need in lib.version_needs] == view.version_needs
        assert lib.versions_defined == view.versions_defined
    else:
        assert not view.has_versym
        assert lib.has_versym is any(entry["Type"] == "VERSYM" for entry in view.dynamic)
