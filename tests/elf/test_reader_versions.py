"""Symbol versions: versioned libc imports (committed fixtures) and ``f@V1``/``f@@V2`` definitions
(``src/symver.c``, built under the toolchain gate because no committed fixture defines them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from symaudit.elf.model import Binding, Visibility
from symaudit.elf.reader import read_elf

from .conftest import RUNPATH
from .fixture_libs import ABIS, read_lib


@pytest.mark.parametrize("abi", ABIS)
def test_import_from_versioned_libc_stub_names_version_and_file(abi: str) -> None:
    wenet = read_elf(read_lib(f"{abi}/wenet-new/libwenet.so"))
    libc = read_elf(read_lib(f"{abi}/platform/libc.so"))
    (malloc,) = wenet.imports.all_named("malloc")
    assert (malloc.version, malloc.version_file) == ("LIBC", "libc.so")
    assert malloc.version in libc.versions_defined
    assert malloc.version_file == libc.soname and malloc.version_file in wenet.needed
    (provided,) = libc.exports.all_named("malloc")
    assert (provided.version, provided.hidden, provided.version_file) == ("LIBC", False, None)


@pytest.mark.parametrize("abi", ABIS)
def test_hidden_and_default_versions_of_one_name(abi: str, symver_libs: dict[str, Path]) -> None:
    library = read_elf(symver_libs[abi].read_bytes())
    assert library.versions_defined == {"V1", "V2"}
    old, new = library.exports.all_named("f")
    assert (old.version, old.hidden) == ("V1", True)
    assert (new.version, new.hidden) == ("V2", False)
    assert library.exports.get("f") == old  # the first in .dynsym order, as get() documents
    assert library.exports.names.count("f") == 2


@pytest.mark.parametrize("abi", ABIS)
def test_built_library_binding_visibility_and_runpath(abi: str, symver_libs: dict[str, Path]) -> None:
    library = read_elf(symver_libs[abi].read_bytes())
    assert library.runpath == tuple(RUNPATH.split(":"))
    assert library.needed == ("libc.so",) and library.soname == "libsymver.so"
    protected = library.exports.get("protected_export")
    weak = library.exports.get("weak_export")
    assert protected is not None and protected.visibility is Visibility.PROTECTED
    assert weak is not None and weak.binding is Binding.WEAK and weak.version == "V2"
    assert "hidden_helper" not in library.exports
    hook = library.imports.get("optional_hook")
    assert hook is not None and hook.weak and (hook.version, hook.version_file) == (None, None)
    (malloc,) = library.imports.all_named("malloc")
    assert (malloc.version, malloc.version_file) == ("LIBC", "libc.so")
    assert [(need.file, need.versions) for need in library.version_needs] == [("libc.so", ("LIBC",))]
