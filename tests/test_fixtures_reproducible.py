"""The committed fixtures: reproducible from ``fixtures/src``, and what ``fixtures/README.md`` says.

``scripts/build_fixtures.py --check`` needs clang-19 and lld-19; without them the rebuild test
skips, except under ``SYMAUDIT_REQUIRE_ALL=1`` (CI), where it fails. The property tests read the
committed libraries with a few lines of ``struct`` (section headers, ``.dynsym``, PT_NOTE), so
they run everywhere; only the symbol-version check asks ``llvm-readelf-19``.
"""

from __future__ import annotations

import io
import re
import struct
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.required import built, need_tools

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
LIBS = FIXTURES / "libs"
PACKAGES = FIXTURES / "packages"
ABIS = {"arm64-v8a": (183, 64), "armeabi-v7a": (40, 32), "x86": (3, 32), "x86_64": (62, 64)}
TORCH_LOAD_OLD = (
    "_ZN5torch3jit4loadERKNSt6__ndk112basic_stringIcNS1_11char_traitsIcEENS1_9allocatorIcEEEE"
    "N3c108optionalINSA_6DeviceEEE"
)
TORCH_LOAD_NEW = TORCH_LOAD_OLD + "b"
VERBOSE_ABORT = "_ZNSt6__ndk122__libcpp_verbose_abortEPKcz"


def _lib(abi: str, variant: str, name: str) -> bytes:
    return built(LIBS / abi / variant / name).read_bytes()


# --- a minimal ELF reader, independent of symaudit's ------------------------------------------


@dataclass(frozen=True)
class Sym:
    name: str
    bind: int
    defined: bool


@dataclass(frozen=True)
class Elf:
    data: bytes

    @property
    def is64(self) -> bool:
        return self.data[4] == 2

    def header(self) -> dict[str, int]:
        if self.is64:
            fields = struct.unpack_from("<HHIQQQIHHHHHH", self.data, 0x10)
        else:
            fields = struct.unpack_from("<HHIIIIIHHHHHH", self.data, 0x10)
        names = "type machine version entry phoff shoff flags ehsize phentsize phnum shentsize shnum shstrndx"
        return dict(zip(names.split(), fields, strict=True))

    def segments(self) -> Iterator[tuple[int, int, int, int, int]]:
        """(p_type, p_offset, p_vaddr, p_filesz, p_align) of each program header."""
        h = self.header()
        for i in range(h["phnum"]):
            at = h["phoff"] + i * h["phentsize"]
            if self.is64:
                p_type, _, off, vaddr, _, filesz, _, align = struct.unpack_from("<IIQQQQQQ", self.data, at)
            else:
                p_type, off, vaddr, _, filesz, _, _, align = struct.unpack_from("<IIIIIIII", self.data, at)
            yield p_type, off, vaddr, filesz, align

    def sections(self) -> list[tuple[int, int, int, int]]:
        """(sh_type, sh_offset, sh_size, sh_link) of each section header."""
        h = self.header()
        out = []
        for i in range(h["shnum"]):
            at = h["shoff"] + i * h["shentsize"]
            fmt = "<IIQQQQI" if self.is64 else "<IIIIIII"
            _, sh_type, _, _, off, size, link = struct.unpack_from(fmt, self.data, at)
            out.append((sh_type, off, size, link))
        return out

    def dynsyms(self) -> list[Sym]:
        sections = self.sections()
        _, off, size, link = next(s for s in sections if s[0] == 11)  # SHT_DYNSYM
        strtab = sections[link][1]
        syms = []
        entsize = 24 if self.is64 else 16
        for at in range(off + entsize, off + size, entsize):
            if self.is64:
                name, info, _, shndx = struct.unpack_from("<IBBH", self.data, at)
            else:
                name, _, _, info, _, shndx = struct.unpack_from("<IIIBBH", self.data, at)
            end = self.data.index(b"\0", strtab + name)
            syms.append(Sym(self.data[strtab + name : end].decode(), info >> 4, shndx != 0))
        return syms

    def exports(self) -> set[str]:
        return {s.name for s in self.dynsyms() if s.defined and s.bind in (1, 2)}

    def imports(self) -> set[str]:
        return {s.name for s in self.dynsyms() if not s.defined and s.name}

    def needed(self) -> list[str]:
        sections = self.sections()
        _, off, size, link = next(s for s in sections if s[0] == 6)  # SHT_DYNAMIC
        strtab = sections[link][1]
        fmt, step = ("<qQ", 16) if self.is64 else ("<iI", 8)
        out = []
        for at in range(off, off + size, step):
            tag, value = struct.unpack_from(fmt, self.data, at)
            if tag == 0:
                break
            if tag == 1:
                out.append(self.data[strtab + value : self.data.index(b"\0", strtab + value)].decode())
        return out

    def android_ident(self) -> tuple[int, str, str]:
        for p_type, off, _, filesz, _ in self.segments():
            if p_type != 4:
                continue
            pos = off
            while pos < off + filesz:
                namesz, descsz, note_type = struct.unpack_from("<III", self.data, pos)
                name = self.data[pos + 12 : pos + 12 + namesz]
                desc = pos + 12 + (namesz + 3) // 4 * 4
                if name == b"Android\0" and note_type == 1:
                    api = struct.unpack_from("<i", self.data, desc)[0]
                    version = self.data[desc + 4 : desc + 68].split(b"\0")[0].decode()
                    build = self.data[desc + 68 : desc + 132].split(b"\0")[0].decode()
                    return api, version, build
                pos = desc + (descsz + 3) // 4 * 4
        raise AssertionError("no .note.android.ident")


# --- reproducibility --------------------------------------------------------------------------


def test_build_fixtures_check_reproduces_committed_bytes() -> None:
    need_tools("clang-19", "ld.lld-19", "llvm-objcopy-19")
    built(LIBS)
    built(PACKAGES)
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_fixtures.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- the libraries ----------------------------------------------------------------------------


@pytest.mark.parametrize("abi", sorted(ABIS))
def test_torch_jit_load_old_and_new_exports(abi: str) -> None:
    old = Elf(_lib(abi, "runtime-old", "libpytorch_jni.so")).exports()
    new = Elf(_lib(abi, "runtime-new", "libpytorch_jni.so")).exports()
    assert TORCH_LOAD_OLD in old and TORCH_LOAD_NEW not in old
    assert TORCH_LOAD_NEW in new and TORCH_LOAD_OLD not in new
    assert TORCH_LOAD_OLD in Elf(_lib(abi, "wenet-old", "libwenet.so")).imports()
    assert TORCH_LOAD_NEW in Elf(_lib(abi, "wenet-new", "libwenet.so")).imports()


@pytest.mark.parametrize("abi", sorted(ABIS))
def test_wenet_builds_differ_only_in_the_torch_jit_load_they_import(abi: str) -> None:
    old = Elf(_lib(abi, "wenet-old", "libwenet.so")).imports()
    new = Elf(_lib(abi, "wenet-new", "libwenet.so")).imports()
    assert old ^ new == {TORCH_LOAD_OLD, TORCH_LOAD_NEW}


@pytest.mark.parametrize("abi", sorted(ABIS))
def test_verbose_abort_is_exported_only_by_the_new_libcxx(abi: str) -> None:
    assert VERBOSE_ABORT in Elf(_lib(abi, "cxx-new", "libc++_shared.so")).exports()
    assert VERBOSE_ABORT not in Elf(_lib(abi, "cxx-old", "libc++_shared.so")).exports()
    assert VERBOSE_ABORT in Elf(_lib(abi, "cxx-consumer-new", "libdriftdemo.so")).imports()
    for variant, name in [
        ("wenet-old", "libwenet.so"),
        ("wenet-new", "libwenet.so"),
        ("fbjni", "libfbjni.so"),
    ]:
        assert VERBOSE_ABORT not in Elf(_lib(abi, variant, name)).imports(), variant


@pytest.mark.parametrize("abi", sorted(ABIS))
def test_machine_class_alignment_and_notes(abi: str) -> None:
    machine, bits = ABIS[abi]
    notes = {
        "cxx-old/libc++_shared.so": "r21b",
        "cxx-new/libc++_shared.so": "r26b",
        "fbjni/libfbjni.so": "r21b",
        "runtime-old/libpytorch_jni.so": "r21b",
        "runtime-new/libpytorch_jni.so": "r26b",
        "wenet-old/libwenet.so": "r21b",
        "wenet-new/libwenet.so": "r21b",
        "cxx-consumer-new/libdriftdemo.so": "r26b",
    }
    builds = {"r21b": "6352462", "r26b": "10909125"}
    for path, ndk in notes.items():
        elf = Elf(_lib(abi, *path.split("/")))
        header = elf.header()
        assert (header["machine"], 64 if elf.is64 else 32) == (machine, bits), path
        assert header["type"] == 3, path  # ET_DYN
        assert elf.android_ident() == (21, ndk, builds[ndk]), path
        loads = [seg for seg in elf.segments() if seg[0] == 1]
        assert loads, path
        for _, off, vaddr, _, align in loads:
            assert align == (16384 if bits == 64 else 4096), path
            assert off % align == vaddr % align, path


@pytest.mark.parametrize("abi", sorted(ABIS))
def test_stripped_fbjni_has_no_section_headers_and_ends_with_its_last_load(abi: str) -> None:
    full = Elf(_lib(abi, "fbjni", "libfbjni.so"))
    stripped = Elf(_lib(abi, "stripped", "libfbjni.so"))
    header = stripped.header()
    assert (header["shoff"], header["shnum"], header["shstrndx"]) == (0, 0, 0)
    end = max(off + filesz for p_type, off, _, filesz, _ in stripped.segments() if p_type == 1)
    assert len(stripped.data) == end
    assert stripped.data[64:] == full.data[64:end]  # only the ELF header changed


@dataclass(frozen=True)
class Group:
    wenet: str
    runtime: str
    cxx: str


COHERENT = {
    "clean": Group("wenet-new", "runtime-new", "cxx-new"),
    "clean-old": Group("wenet-old", "runtime-old", "cxx-old"),
}
PLATFORM = {"libc.so", "libm.so", "libdl.so", "liblog.so"}


def _group_libs(abi: str, group: Group) -> dict[str, Elf]:
    return {
        "libwenet.so": Elf(_lib(abi, group.wenet, "libwenet.so")),
        "libpytorch_jni.so": Elf(_lib(abi, group.runtime, "libpytorch_jni.so")),
        "libfbjni.so": Elf(_lib(abi, "fbjni", "libfbjni.so")),
        "libc++_shared.so": Elf(_lib(abi, group.cxx, "libc++_shared.so")),
    }


def _closure(root: str, libs: dict[str, Elf]) -> list[str]:
    order, queue = [root], [root]
    while queue:
        for needed in libs[queue.pop(0)].needed():
            if needed not in order and (needed in libs or needed in PLATFORM):
                order.append(needed)
                if needed in libs:
                    queue.append(needed)
    return order


@pytest.mark.parametrize("abi", sorted(ABIS))
@pytest.mark.parametrize("name", sorted(COHERENT))
def test_every_cxx_import_of_a_coherent_group_is_defined_in_its_load_group(abi: str, name: str) -> None:
    """C++ names (and libc++abi's __cxa_/__gxx_ entry points) must come from packaged libraries;
    every library's DT_NEEDED is packaged or a platform library."""
    libs = _group_libs(abi, COHERENT[name])
    platform_cxa = {"__cxa_atexit", "__cxa_finalize", "__cxa_thread_atexit_impl"}
    for root, elf in libs.items():
        assert set(elf.needed()) <= set(libs) | PLATFORM, root
        provided = set().union(*(libs[lib].exports() for lib in _closure(root, libs) if lib in libs))
        for symbol in elf.imports():
            if symbol.startswith("_Z") or (
                symbol.startswith(("__cxa_", "__gxx_")) and symbol not in platform_cxa
            ):
                assert symbol in provided, f"{root}: {symbol}"


def test_libwenet_has_weak_and_versioned_imports() -> None:
    elf = Elf(_lib("arm64-v8a", "wenet-new", "libwenet.so"))
    weak = [s.name for s in elf.dynsyms() if not s.defined and s.bind == 2]
    assert weak == ["__cxa_thread_atexit_impl"]
    assert elf.needed() == ["libpytorch_jni.so", "libc++_shared.so", "libfbjni.so", "liblog.so", "libc.so"]
    assert Elf(_lib("arm64-v8a", "fbjni", "libfbjni.so")).needed() == [
        "libc++_shared.so",
        "liblog.so",
        "libc.so",
    ]
    need_tools("llvm-readelf-19")
    dump = subprocess.run(
        ["llvm-readelf-19", "--dyn-syms", str(LIBS / "arm64-v8a" / "wenet-new" / "libwenet.so")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert re.search(r"\bUND malloc@LIBC\b", dump)
    assert re.search(r"\bUND __android_log_print$", dump, re.MULTILINE)  # liblog is unversioned


# --- the packages -----------------------------------------------------------------------------


def _package(name: str) -> bytes:
    return built(PACKAGES / name).read_bytes()


def _stored_libs(archive: bytes) -> Iterator[tuple[str, int, int]]:
    """(name, method, data offset from the local header) of each .so member."""
    with zipfile.ZipFile(io.BytesIO(archive)) as zf:
        for info in zf.infolist():
            assert info.date_time == (1981, 1, 1, 0, 0, 0), info.filename
            if info.filename.endswith(".so"):
                at = info.header_offset
                name_len, extra_len = struct.unpack_from("<HH", archive, at + 26)
                yield info.filename, info.compress_type, at + 30 + name_len + extra_len


@pytest.mark.parametrize("name", ["clean.apk", "clean-old.apk", "cxx-drift.apk", "clean.aab"])
def test_stored_libraries_are_16k_aligned(name: str) -> None:
    archive = _package(name)
    libs = list(_stored_libs(archive))
    assert len(libs) >= 16
    for member, method, offset in libs:
        assert method == zipfile.ZIP_STORED and offset % 16384 == 0, member
        assert archive[offset : offset + 4] == b"\x7fELF", member


def test_compressed_apk_deflates_its_libraries() -> None:
    assert {method for _, method, _ in _stored_libs(_package("compressed.apk"))} == {zipfile.ZIP_DEFLATED}


def test_apk_manifest_is_binary_xml_with_the_documented_facts() -> None:
    from symaudit.containers.android_manifest import AppFacts, parse_binary_manifest

    with zipfile.ZipFile(io.BytesIO(_package("clean.apk"))) as zf:
        facts = parse_binary_manifest(zf.read("AndroidManifest.xml"))
    assert facts == AppFacts(
        package="org.example.wenet", min_sdk=21, target_sdk=34, extract_native_libs=False
    )


def test_scenario_packages_hold_the_documented_libraries() -> None:
    def members(name: str) -> set[str]:
        with zipfile.ZipFile(io.BytesIO(_package(name))) as zf:
            return {n for n in zf.namelist() if n.endswith(".so")}

    clean = members("clean.apk")
    assert len(clean) == 16
    assert members("missing-fbjni.apk") == {m for m in clean if not m.endswith("/libfbjni.so")}
    assert members("abi-incomplete.apk") == clean - {"lib/x86/libwenet.so"}
    assert members("cxx-drift.apk") == clean | {f"lib/{abi}/libdriftdemo.so" for abi in ABIS}
    with zipfile.ZipFile(io.BytesIO(_package("wrong-arch.apk"))) as zf:
        assert zf.read("lib/arm64-v8a/libfbjni.so") == _lib("armeabi-v7a", "fbjni", "libfbjni.so")
    with zipfile.ZipFile(io.BytesIO(_package("truncated-so.apk"))) as zf:
        truncated = zf.read("lib/arm64-v8a/libfbjni.so")
    full = Elf(_lib("arm64-v8a", "fbjni", "libfbjni.so"))
    _, off, size, _ = next(s for s in full.sections() if s[0] == 11)
    assert off < len(truncated) < off + size and full.data.startswith(truncated)
    folder = sorted(
        p.relative_to(PACKAGES / "clean-folder").as_posix() for p in (PACKAGES / "clean-folder").rglob("*.so")
    )
    assert folder == sorted(m.removeprefix("lib/") for m in clean)
