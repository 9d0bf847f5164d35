"""What the reader must find in the committed fixture libraries, without any toolchain.

The facts are the ones the audit is built on: the torch::jit::load name that changed between
libtorch 1.x and 2.x (wenet#2573), versioned libc imports, the NDK note, and a packer-stripped
library that the loader (and so the reader) sees exactly as the original.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from symaudit.elf.model import ElfClass, ElfLibrary, SymbolTable
from symaudit.elf.reader import read_elf

from .elf_edits import DT_DEBUG, DT_GNU_HASH, DT_HASH, with_dynamic_tag
from .fixture_libs import ABIS, all_libs, lib_id, read_lib, skip_or_fail

TORCH_LOAD_OLD = (
    "_ZN5torch3jit4loadERKNSt6__ndk112basic_stringIcNS1_11char_traitsIcEENS1_9allocatorIcEEEE"
    "N3c108optionalINSA_6DeviceEEE"
)
TORCH_LOAD_NEW = TORCH_LOAD_OLD + "b"  # the 2.x overload with `bool load_debug_files`

MACHINES = {"arm64-v8a": (183, ElfClass.ELF64), "armeabi-v7a": (40, ElfClass.ELF32)}
MACHINES |= {"x86": (3, ElfClass.ELF32), "x86_64": (62, ElfClass.ELF64)}

NT_ANDROID_TYPE_IDENT = 1


def _read(abi: str, relative: str) -> ElfLibrary:
    return read_elf(read_lib(f"{abi}/{relative}"), relative)


def _columns(table: SymbolTable) -> tuple[object, ...]:
    return (table.names, table.info, table.other, table.versions, table.hidden, table.version_files)


@pytest.mark.parametrize("abi", ABIS)
def test_old_runtime_exports_only_the_1x_torch_jit_load(abi: str) -> None:
    runtime = _read(abi, "runtime-old/libpytorch_jni.so")
    assert TORCH_LOAD_OLD in runtime.exports
    assert TORCH_LOAD_NEW not in runtime.exports
    assert runtime.soname == "libpytorch_jni.so"


@pytest.mark.parametrize("abi", ABIS)
def test_new_runtime_exports_only_the_2x_torch_jit_load(abi: str) -> None:
    runtime = _read(abi, "runtime-new/libpytorch_jni.so")
    assert TORCH_LOAD_NEW in runtime.exports
    assert TORCH_LOAD_OLD not in runtime.exports
    load = runtime.exports.get(TORCH_LOAD_NEW)
    assert load is not None and load.defined and load.version is None


@pytest.mark.parametrize("abi", ABIS)
def test_old_wenet_imports_the_1x_name_with_its_dependencies_in_link_order(abi: str) -> None:
    wenet = _read(abi, "wenet-old/libwenet.so")
    machine, elf_class = MACHINES[abi]
    assert (wenet.machine, wenet.elf_class) == (machine, elf_class)
    assert wenet.needed == ("libpytorch_jni.so", "libc++_shared.so", "libfbjni.so", "liblog.so", "libc.so")
    assert TORCH_LOAD_OLD in wenet.imports
    assert TORCH_LOAD_OLD not in wenet.exports


@pytest.mark.parametrize("abi", ABIS)
def test_libc_import_carries_its_version_and_the_library_that_defines_it(abi: str) -> None:
    wenet = _read(abi, "wenet-old/libwenet.so")
    assert wenet.has_versym
    malloc = wenet.imports.get("malloc")
    assert malloc is not None and not malloc.defined and not malloc.weak
    assert (malloc.version, malloc.version_file) == ("LIBC", "libc.so")
    assert wenet.imports.versions is not None and wenet.imports.version_files is not None
    position = wenet.imports.names.index("malloc")
    assert wenet.imports.versions[position] == "LIBC"
    assert wenet.imports.version_files[position] == "libc.so"
    assert [(need.file, need.versions) for need in wenet.version_needs] == [("libc.so", ("LIBC",))]
    # liblog is linked unversioned: its import has no version at all.
    log = wenet.imports.get("__android_log_print")
    assert log is not None and (log.version, log.version_file) == (None, None)


@pytest.mark.parametrize("abi", ABIS)
def test_weak_import_stays_weak(abi: str) -> None:
    wenet = _read(abi, "wenet-old/libwenet.so")
    atexit = wenet.imports.get("__cxa_thread_atexit_impl")
    assert atexit is not None and atexit.weak
    mask = wenet.imports.weak_mask
    assert [name for name, weak in zip(wenet.imports.names, mask, strict=True) if weak] == [
        "__cxa_thread_atexit_impl"
    ]


@pytest.mark.parametrize("abi", ABIS)
def test_versioned_libc_stub_defines_each_name_in_its_bionic_node(abi: str) -> None:
    libc = _read(abi, "platform/libc.so")
    assert libc.versions_defined == {"LIBC", "LIBC_N", "LIBC_O", "LIBC_P"}
    assert not libc.imports and libc.version_needs == ()
    expected = {"malloc": "LIBC", "getifaddrs": "LIBC_N", "__system_property_read_callback": "LIBC_O"}
    expected["getentropy"] = "LIBC_P"
    for name, version in expected.items():
        (symbol,) = libc.exports.all_named(name)
        assert (symbol.version, symbol.hidden) == (version, False)
    # The NDK stub deliberately lacks the API 23 name libwenet imports weakly.
    assert "__cxa_thread_atexit_impl" not in libc.exports


@pytest.mark.parametrize("abi", ABIS)
def test_stripped_library_reads_like_the_original(abi: str) -> None:
    original = _read(abi, "fbjni/libfbjni.so")
    stripped = _read(abi, "stripped/libfbjni.so")
    assert original.section_headers and not stripped.section_headers
    assert original.comment and stripped.comment == ()
    for field in ElfLibrary.__dataclass_fields__:
        if field in ("exports", "imports", "section_headers", "comment", "refusals"):
            continue
        assert getattr(stripped, field) == getattr(original, field), field
    # The tables read the same, but bionic's ElfReader refuses the file (linker_phdr.cpp):
    # e_shentsize and e_shstrndx 0 (fatal for targetSdk 26+), then no section headers at all.
    assert original.refusals == ()
    assert [r.reason for r in stripped.refusals] == ["e-shentsize", "e-shstrndx", "no-section-headers"]
    assert _columns(stripped.exports) == _columns(original.exports)
    assert _columns(stripped.imports) == _columns(original.imports)
    assert stripped.anomalies == ()


@pytest.mark.parametrize("abi", ABIS)
@pytest.mark.parametrize(
    "relative", ["fbjni/libfbjni.so", "stripped/libfbjni.so", "runtime-old/libpytorch_jni.so"]
)
def test_ndk_note_records_api_21(abi: str, relative: str) -> None:
    library = _read(abi, relative)
    (ident,) = [note for note in library.notes if note.name == "Android"]
    assert ident.type == NT_ANDROID_TYPE_IDENT
    assert len(ident.desc) == 132
    assert struct.unpack_from("<i", ident.desc, 0) == (21,)
    assert ident.desc[4:68].rstrip(b"\0") == b"r21b"
    assert ident.desc[68:132].rstrip(b"\0") == b"6352462"


@pytest.mark.parametrize("abi", ABIS)
def test_new_runtime_records_the_newer_ndk(abi: str) -> None:
    (ident,) = [note for note in _read(abi, "runtime-new/libpytorch_jni.so").notes if note.name == "Android"]
    assert struct.unpack_from("<i", ident.desc, 0) == (21,)
    assert ident.desc[4:68].rstrip(b"\0") == b"r26b"


@pytest.mark.parametrize("abi", ABIS)
def test_toolchain_banner_comes_from_comment(abi: str) -> None:
    comment = _read(abi, "runtime-new/libpytorch_jni.so").comment
    assert any(banner.startswith("Android (") and "clang version" in banner for banner in comment)
    assert "Linker: LLD 17.0.2" in comment


@pytest.mark.parametrize("path", all_libs() or [None], ids=lambda p: lib_id(p) if p else "no-fixture-libs")
def test_symbol_count_from_gnu_hash_alone_matches_sysv_hash(path: Path | None) -> None:
    """Every fixture has both tables; API 23+ libraries often have only DT_GNU_HASH."""
    if path is None:
        skip_or_fail("no fixture libraries under fixtures/libs (scripts/build_fixtures.py)")
    data = path.read_bytes()
    both = read_elf(data)
    assert {DT_HASH, DT_GNU_HASH} <= both.dynamic_tags
    gnu_only = read_elf(with_dynamic_tag(data, DT_HASH, DT_DEBUG))
    assert DT_HASH not in gnu_only.dynamic_tags
    assert _columns(gnu_only.exports) == _columns(both.exports)
    assert _columns(gnu_only.imports) == _columns(both.imports)
