"""symaudit's models of the real corpus libraries against ``llvm-readelf-19 --dyn-syms`` and
against LIEF (an independent parser: SONAME, DT_NEEDED and the classified symbols).

Exports are defined GLOBAL/WEAK/GNU_UNIQUE symbols of DEFAULT or PROTECTED visibility; imports are
named undefined GLOBAL/WEAK symbols (see ``symaudit/elf/model.py``). The same classification is
applied to llvm-readelf's JSON; both must agree on every library, name for name.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from symaudit.elf.reader import read_elf
from tests.elf.lief_view import lief_view

from .aars import HERMES_CPPRUNTIME, HERMES_DEBUG, HERMES_RELEASE, JSC, RN, jni_libraries

EXPORT_BINDINGS = {1, 2, 10}  # GLOBAL, WEAK, GNU_UNIQUE
IMPORT_BINDINGS = {1, 2}
EXPORT_VISIBILITIES = {0, 3}  # DEFAULT, PROTECTED


def _readelf_symbols(readelf: str, path: Path) -> tuple[Counter[str], Counter[str]]:
    done = subprocess.run(
        [readelf, "--elf-output-style=JSON", "--dyn-syms", str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    (view,) = json.loads(done.stdout)
    exports: Counter[str] = Counter()
    imports: Counter[str] = Counter()
    for entry in view["DynamicSymbols"]:
        symbol = entry["Symbol"]
        name = symbol["Name"]["Name"].split("@", 1)[0]
        binding = symbol["Binding"]["Value"]
        if symbol["Section"]["Value"] == 0:  # SHN_UNDEF
            if name and binding in IMPORT_BINDINGS:
                imports[name] += 1
        elif binding in EXPORT_BINDINGS and symbol["Other"]["Value"] & 3 in EXPORT_VISIBILITIES:
            exports[name] += 1
    return exports, imports


@pytest.mark.parametrize("aar", [RN, HERMES_RELEASE, HERMES_DEBUG, HERMES_CPPRUNTIME, JSC])
def test_models_agree_with_readelf_dyn_syms(
    corpus: dict[str, Path], readelf: str, tmp_path: Path, aar: str
) -> None:
    checked: set[str] = set()
    for (abi, name), data in sorted(jni_libraries(corpus[aar]).items()):
        digest = hashlib.sha256(data).hexdigest()
        if digest in checked:  # libc++_shared.so ships in several AARs, byte for byte
            continue
        checked.add(digest)
        path = tmp_path / f"{abi}-{name}"
        path.write_bytes(data)
        library = read_elf(data, name)
        exports, imports = _readelf_symbols(readelf, path)
        where = f"{aar}: jni/{abi}/{name}"
        assert (len(library.exports), len(library.imports)) == (
            sum(exports.values()),
            sum(imports.values()),
        ), where
        assert Counter(library.exports.names) == exports, where
        assert Counter(library.imports.names) == imports, where
        assert library.anomalies == (), where


@pytest.mark.parametrize("aar", [RN, HERMES_RELEASE, HERMES_DEBUG, HERMES_CPPRUNTIME, JSC])
def test_models_agree_with_lief(corpus: dict[str, Path], aar: str) -> None:
    checked: set[str] = set()
    for (abi, name), data in sorted(jni_libraries(corpus[aar]).items()):
        digest = hashlib.sha256(data).hexdigest()
        if digest in checked:
            continue
        checked.add(digest)
        library = read_elf(data, name)
        view = lief_view(data)
        where = f"{aar}: jni/{abi}/{name}"
        assert (library.soname, library.needed) == (view.soname, view.needed), where
        assert Counter(library.exports.names) == view.exports, where
        assert Counter(library.imports.names) == view.imports, where
