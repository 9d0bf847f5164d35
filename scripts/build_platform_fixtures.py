"""Build the fixtures of the platform rules into ``fixtures/platform/`` (committed).

Each scenario is a folder laid out ``<abi>/lib*.so`` (audit it with ``symaudit libs``), built
with clang-19/lld-19 from the C sources in ``fixtures/src/rules/``; the build flag that makes a
library trigger a rule is the point of the scenario (``-z execstack``, ``-z notext``,
``--hash-style=gnu``, ``-z pack-relative-relocs``, ...). ``ndk/`` is a fake NDK: a
``source.properties`` and platform stubs of libc, libm and liblog at API 21, 24 and 28 for
arm64-v8a, generated from the same map file as the core fixtures' stubs, so that
``platform-symbol-unavailable`` can be tested without a real NDK. ``packages/`` holds APKs whose
zip layout is the point: stored libraries that are not 16 KB aligned, and compressed libraries
with ``extractNativeLibs="false"``.

Run by ``scripts/build_fixtures.py`` (which owns the toolchain checks and ``--check``); it can
also run alone: ``python scripts/build_platform_fixtures.py [--out DIR]``.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import axml  # noqa: E402
from fixture_zip import DEX, Member, write_zip  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
SRC = FIXTURES / "src"
RULES_SRC = SRC / "rules"
CORE_LIBS = FIXTURES / "libs"
CLANG = "clang-19"
LLD = "ld.lld-19"
OBJCOPY = "llvm-objcopy-19"

TRIPLES = {
    "arm64-v8a": "aarch64-linux-android",
    "armeabi-v7a": "armv7a-linux-androideabi",
    "x86": "i686-linux-android",
    "x86_64": "x86_64-linux-android",
}
SYSROOT_TRIPLE = "aarch64-linux-android"
STUB_APIS = (21, 24, 28)
NDK_REVISION = "26.1.10909125"
NOTE = {"version": "r26b", "build": "10909125"}

COMMON = (
    "-Os",
    "-fPIC",
    "-fno-ident",
    "-fno-asynchronous-unwind-tables",
    "-fno-unwind-tables",
    "-fno-stack-protector",
    "-fno-builtin",
    "-nostdinc",
    "-x",
    "c",
    "-std=c11",
    "-w",
)
LINK = (
    "-shared",
    "-nostdlib",
    "-fuse-ld=lld",
    f"--ld-path={LLD}",
    "-Wl,--build-id=none",
    "-Wl,--strip-all",
    "-Wl,-z,defs",
)


@dataclass(frozen=True)
class Lib:
    scenario: str
    abi: str
    name: str
    source: str
    api: int = 21
    page: int = 16384
    soname: bool = True
    hash_style: str = "both"
    cflags: tuple[str, ...] = ()
    ldflags: tuple[str, ...] = ()
    needed: tuple[str, ...] = ("libc.so",)
    """Platform stubs (from fixtures/libs/<abi>/platform/) or siblings built earlier (``./name``)."""
    note: bool = True
    copy_of: str | None = None
    """Copy a core fixture library (``<variant>/<name>``) instead of building."""
    extra_needed: tuple[str, ...] = field(default=())
    """Stub libraries built on the fly only to link against (not written out)."""
    edit: str | None = None
    """A byte edit applied after linking (see ``EDITS``): the structure bionic refuses."""


def _page(abi: str) -> int:
    return 16384 if abi in ("arm64-v8a", "x86_64") else 4096


LIBS: tuple[Lib, ...] = (
    # Passes every platform rule at minSdk 21.
    *(
        Lib("good", abi, "libgood.so", "good.c", page=_page(abi), needed=("libc.so", "liblog.so"))
        for abi in TRIPLES
    ),
    # load-align-16k: 4 KB pages; the 32-bit copy is fine (32-bit ABIs are exempt).
    Lib("align-4k", "arm64-v8a", "libalign4k.so", "good.c", page=4096, needed=("libc.so", "liblog.so")),
    Lib("align-4k", "x86_64", "libalign4k.so", "good.c", page=4096, needed=("libc.so", "liblog.so")),
    Lib("align-4k", "armeabi-v7a", "libalign4k.so", "good.c", page=4096, needed=("libc.so", "liblog.so")),
    Lib(
        "exec-stack",
        "arm64-v8a",
        "libexecstack.so",
        "good.c",
        ldflags=("-Wl,-z,execstack",),
        needed=("libc.so", "liblog.so"),
    ),
    Lib(
        "textrel",
        "x86",
        "libtextrel.so",
        "textrel.c",
        page=4096,
        cflags=("-fno-PIC",),
        ldflags=("-Wl,-z,notext",),
    ),
    Lib("no-soname", "arm64-v8a", "libnosoname.so", "good.c", soname=False, needed=("libc.so", "liblog.so")),
    Lib(
        "gnu-hash", "arm64-v8a", "libgnuhash.so", "good.c", hash_style="gnu", needed=("libc.so", "liblog.so")
    ),
    Lib("relr", "arm64-v8a", "librelr.so", "relr.c", ldflags=("-Wl,-z,pack-relative-relocs",)),
    Lib("tls", "arm64-v8a", "libtls.so", "tls.c", cflags=("-fno-emulated-tls",)),
    Lib("api26", "arm64-v8a", "libapi26.so", "good.c", api=26, needed=("libc.so", "liblog.so")),
    Lib("private", "arm64-v8a", "libprivate.so", "private.c", extra_needed=("libcutils.so",)),
    # stl-mixed: a gnustl runtime next to libc++_shared, and a static libc++ exporting std::__ndk1.
    Lib("stl-gnustl", "arm64-v8a", "libc++_shared.so", "", copy_of="cxx-new/libc++_shared.so"),
    Lib("stl-gnustl", "arm64-v8a", "libgnustl_shared.so", "gnustl.c"),
    Lib("stl-gnustl", "arm64-v8a", "libolduser.so", "olduser.c", needed=("libc.so", "./libgnustl_shared.so")),
    Lib("stl-static", "arm64-v8a", "libc++_shared.so", "", copy_of="cxx-new/libc++_shared.so"),
    Lib("stl-static", "arm64-v8a", "libstaticcxx.so", "staticcxx.c"),
    # Every refusal of bionic's ElfReader / soinfo::prelink_image a packaged library can trigger:
    # copies of libgood.so, each edited after linking (EDITS), next to an unedited neighbour.
    Lib("refused", "arm64-v8a", "libgood.so", "good.c", needed=("libc.so", "liblog.so")),
    *(
        Lib("refused", "arm64-v8a", f"lib{edit}.so", "good.c", needed=("libc.so", "liblog.so"), edit=edit)
        for edit in ("noshdr", "badshoff", "shentsize", "shstrndx", "nohash", "nostrtab", "nosymtab", "syment")
    ),
    # good_entry defined with STB_GNU_UNIQUE: bionic ignores the definition (not an export).
    Lib("unique", "arm64-v8a", "libunique.so", "good.c", needed=("libc.so", "liblog.so"), edit="unique"),
    # A path in DT_NEEDED: the dependency's SONAME is a path, so the linker records the path.
    Lib("refused", "arm64-v8a", "libneedpath.so", "good.c", needed=("libc.so",), extra_needed=("deps/liblog.so",)),
    # platform-symbol-unavailable: imports introduced at API 21, 24, 28 and one no API has.
    Lib(
        "platform-symbols",
        "arm64-v8a",
        "libplatsyms.so",
        "platsyms.c",
        needed=("libc.so",),
        extra_needed=("liblog-future.so",),
    ),
)


def _run(args: Sequence[str], cwd: Path) -> None:
    result = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"command failed ({result.returncode}): {' '.join(args)}\n{result.stderr}")


def _note(abi: str, api: int, work: Path) -> Path:
    out = work / f"note-{abi}-{api}.o"
    if not out.exists():
        _run(
            [
                CLANG,
                f"--target={TRIPLES[abi]}{api}",
                f"-ffile-prefix-map={SRC}=.",
                f"-DANDROID_API={api}",
                f'-DNDK_VERSION="{NOTE["version"]}"',
                f'-DNDK_BUILD_NUMBER="{NOTE["build"]}"',
                "-c",
                "android_ident.S",
                "-o",
                str(out),
            ],
            SRC,
        )
    return out


def _compile_stub(
    abi: str, key: str, soname: str, body: str, work: Path, version_script: str | None = None, api: int = 21
) -> Path:
    """A stub to link against, written to ``work/<abi>/<key>/<soname>``."""
    safe = key.replace("/", "-")
    source = work / f"{abi}-{safe}-{api}.c"
    source.write_text(body)
    out = work / abi / f"{safe}-{api}" / soname
    out.parent.mkdir(parents=True, exist_ok=True)
    args = [
        CLANG,
        f"--target={TRIPLES[abi]}21",
        *COMMON,
        *LINK,
        f"-Wl,-soname,{soname}",
        "-o",
        str(out),
        str(source),
    ]
    if version_script:
        script = work / f"{abi}-{safe}-{api}.map"
        script.write_text(version_script)
        args.append(f"-Wl,--version-script={script}")
    _run(args, work)
    return out


# Stubs built only to link against: key -> (soname recorded in DT_NEEDED, body).
_EXTRA_STUBS = {
    "deps/liblog.so": ("deps/liblog.so", "void __android_log_print() {}\n"),
    "libcutils.so": ("libcutils.so", "void property_get() {}\n"),
    # A liblog with a function no API level of the fake NDK has (API 30 in reality).
    "liblog-future.so": (
        "liblog.so",
        "void __android_log_print() {}\nvoid __android_log_call_aborter() {}\n",
    ),
}


def build_lib(lib: Lib, out: Path, work: Path, core_libs: Path = CORE_LIBS) -> None:
    target = out / lib.scenario / lib.abi / lib.name
    target.parent.mkdir(parents=True, exist_ok=True)
    if lib.copy_of:
        shutil.copyfile(core_libs / lib.abi / lib.copy_of, target)
        return
    triple = f"--target={TRIPLES[lib.abi]}{lib.api}"
    obj = work / f"{lib.scenario}-{lib.abi}-{lib.name}.o"
    _run(
        [
            CLANG,
            triple,
            *COMMON,
            *lib.cflags,
            f"-ffile-prefix-map={SRC}=.",
            "-c",
            f"rules/{lib.source}",
            "-o",
            str(obj),
        ],
        SRC,
    )
    objects = [str(obj)]
    if lib.note:
        objects.append(str(_note(lib.abi, lib.api, work)))
    args = [
        CLANG,
        triple,
        *LINK,
        f"-Wl,--hash-style={lib.hash_style}",
        f"-Wl,-z,max-page-size={lib.page}",
        *lib.ldflags,
    ]
    if lib.soname:
        args.append(f"-Wl,-soname,{lib.name}")
    args += ["-o", str(target), *objects]
    for needed in lib.needed:
        if needed.startswith("./"):
            args.append(str(out / lib.scenario / lib.abi / needed[2:]))
        else:
            args.append(str(core_libs / lib.abi / "platform" / needed))
    for key in lib.extra_needed:
        soname, body = _EXTRA_STUBS[key]
        args.append(str(_compile_stub(lib.abi, key, soname, body, work)))
    _run(args, SRC)
    if lib.edit is not None:
        target.write_bytes(EDITS[lib.edit](bytearray(target.read_bytes())))


# -- edits that make the loader refuse a library (ELF64 little-endian) ------------------------------
# Offsets: e_shoff 0x28 (u64), e_shentsize 0x3a, e_shnum 0x3c, e_shstrndx 0x3e (u16); the
# dynamic section is found through PT_DYNAMIC (REFERENCE.md 1.2-1.3).

DT_NULL, DT_HASH, DT_STRTAB, DT_SYMTAB, DT_SYMENT, DT_DEBUG, DT_GNU_HASH = 0, 4, 5, 6, 11, 21, 0x6FFFFEF5


def _u16(data: bytearray, at: int, value: int) -> bytearray:
    data[at : at + 2] = value.to_bytes(2, "little")
    return data


def _dynamic(data: bytes) -> tuple[int, int]:
    """(file offset, size) of PT_DYNAMIC."""
    phoff = int.from_bytes(data[0x20:0x28], "little")
    for index in range(int.from_bytes(data[0x38:0x3A], "little")):
        at = phoff + index * 56
        if int.from_bytes(data[at : at + 4], "little") == 2:  # PT_DYNAMIC
            return int.from_bytes(data[at + 8 : at + 16], "little"), int.from_bytes(data[at + 32 : at + 40], "little")
    raise SystemExit("no PT_DYNAMIC")


def _retag(data: bytearray, tags: set[int], new_tag: int | None = None, new_value: int | None = None) -> bytearray:
    """Rewrite every dynamic entry whose tag is in ``tags``: to DT_DEBUG (a tag bionic accepts and
    ignores for libraries), or keep the tag and set ``new_value``."""
    offset, size = _dynamic(data)
    for at in range(offset, offset + size, 16):
        tag = int.from_bytes(data[at : at + 8], "little")
        if tag == DT_NULL:
            break
        if tag in tags:
            if new_value is not None:
                data[at + 8 : at + 16] = new_value.to_bytes(8, "little")
            else:
                data[at : at + 8] = (new_tag if new_tag is not None else DT_DEBUG).to_bytes(8, "little")
                data[at + 8 : at + 16] = bytes(8)
    return data


def _garbage_shoff(data: bytearray) -> bytearray:
    data[0x28:0x30] = (0xDEADBEEF00).to_bytes(8, "little")
    return data


def _unique(data: bytearray, symbol: bytes = b"good_entry") -> bytearray:
    """Give ``symbol``'s .dynsym entry the binding STB_GNU_UNIQUE (10). The first PT_LOAD maps
    file offset 0 at address 0 in these libraries, so DT_SYMTAB/DT_STRTAB are file offsets."""
    offset, size = _dynamic(data)
    tags = {}
    for at in range(offset, offset + size, 16):
        tags.setdefault(int.from_bytes(data[at : at + 8], "little"), int.from_bytes(data[at + 8 : at + 16], "little"))
    symtab, strtab = tags[DT_SYMTAB], tags[DT_STRTAB]
    count = int.from_bytes(data[tags[DT_HASH] + 4 : tags[DT_HASH] + 8], "little")  # nchain
    for index in range(count):
        entry = symtab + index * 24
        name = int.from_bytes(data[entry : entry + 4], "little")
        if bytes(data[strtab + name : strtab + name + len(symbol) + 1]) == symbol + b"\0":
            data[entry + 4] = (10 << 4) | (data[entry + 4] & 0xF)
            return data
    raise SystemExit(f"no {symbol!r} in .dynsym")


EDITS = {
    "unique": _unique,
    # e_shnum 0 (e_shstrndx left non-zero, so bionic gets to its section-header check)
    "noshdr": lambda data: _u16(data, 0x3C, 0),
    "badshoff": _garbage_shoff,
    "shentsize": lambda data: _u16(data, 0x3A, 0x20),
    "shstrndx": lambda data: _u16(data, 0x3E, 0),
    "nohash": lambda data: _retag(data, {DT_HASH, DT_GNU_HASH}),
    "nostrtab": lambda data: _retag(data, {DT_STRTAB}),
    "nosymtab": lambda data: _retag(data, {DT_SYMTAB}),
    "syment": lambda data: _retag(data, {DT_SYMENT}, new_value=16),
}


# -- fake NDK -------------------------------------------------------------------------------------


def _map_nodes(text: str) -> list[tuple[str, int, list[str], str | None]]:
    """(node, introduced API, names, parent) of a bionic-style map file."""
    nodes = []
    for match in re.finditer(r"(\w+)\s*\{([^}]*)\}\s*(\w+)?\s*;", text):
        node, body, parent = match.group(1), match.group(2), match.group(3)
        header = text[match.start() : match.start() + len(match.group(0))].split("\n", 1)[0]
        introduced = re.search(r"introduced=(\d+)", header)
        names = re.findall(r"^\s*(\w+);", body, re.MULTILINE)
        nodes.append((node, int(introduced.group(1)) if introduced else 0, names, parent))
    return nodes


def build_fake_ndk(out: Path, work: Path) -> None:
    root = out / "ndk"
    root.mkdir(parents=True, exist_ok=True)
    (root / "source.properties").write_text(f"Pkg.Desc = Android NDK\nPkg.Revision = {NDK_REVISION}\n")
    libc_map = (SRC / "platform" / "libc.map.txt").read_text()
    nodes = _map_nodes(libc_map)
    lib_root = (
        root
        / "toolchains"
        / "llvm"
        / "prebuilt"
        / "linux-x86_64"
        / "sysroot"
        / "usr"
        / "lib"
        / SYSROOT_TRIPLE
    )
    for api in STUB_APIS:
        directory = lib_root / str(api)
        directory.mkdir(parents=True, exist_ok=True)
        kept = [(node, names, parent) for node, introduced, names, parent in nodes if introduced <= api]
        body = "".join(f"void {name}() {{}}\n" for _, names, _ in kept for name in names)
        script = ""
        for node, names, parent in kept:
            script += f"{node} {{\n  global:\n" + "".join(f"    {n};\n" for n in names)
            script += "  local:\n    *;\n" if parent is None else ""
            script += "}" + (f" {parent}" if parent else "") + ";\n"
        stubs = (
            ("libc.so", body, script),
            ("liblog.so", "void __android_log_print() {}\nvoid __android_log_write() {}\n", None),
            (
                "libm.so",
                "void expf() {}\nvoid logf() {}\n" + ("void log2f() {}\n" if api >= 24 else ""),
                None,
            ),
        )
        for soname, source, version_script in stubs:
            built = _compile_stub("arm64-v8a", f"ndk-{soname}", soname, source, work, version_script, api)
            shutil.copyfile(built, directory / soname)


# -- packages --------------------------------------------------------------------------------------


def build_packages(out: Path) -> None:
    packages = out / "packages"
    packages.mkdir(parents=True, exist_ok=True)
    libs = sorted((out / "good").glob("*/libgood.so"))
    manifest = axml.binary_xml(axml.manifest("org.example.platform", 21, 34, extract_native_libs=False))
    extracting = axml.binary_xml(axml.manifest("org.example.platform", 21, 34, extract_native_libs=True))

    def members(stored_align: int, deflate: bool) -> list[Member]:
        result = [Member("AndroidManifest.xml", manifest), Member("classes.dex", DEX)]
        result += [
            Member(
                f"lib/{path.parent.name}/{path.name}", path.read_bytes(), deflate=deflate, align=stored_align
            )
            for path in libs
        ]
        return result

    # Stored, 4-byte aligned only (what `zipalign -p 4` without -P 16 would leave at best).
    (packages / "unaligned.apk").write_bytes(write_zip(members(0, False)))
    # Compressed libraries with extractNativeLibs="false": the device cannot map them.
    (packages / "compressed-noextract.apk").write_bytes(write_zip(members(0, True)))
    # The same compressed libraries with extractNativeLibs="true": fine.
    ok = [Member("AndroidManifest.xml", extracting), Member("classes.dex", DEX)] + [
        m for m in members(0, True) if m.name.startswith("lib/")
    ]
    (packages / "compressed-extract.apk").write_bytes(write_zip(ok))
    # Stored and 16 KB aligned: fine.
    (packages / "aligned.apk").write_bytes(write_zip(members(16384, False)))


def build_all(out: Path, core_libs: Path = CORE_LIBS) -> None:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="symaudit-platform-") as tmp:
        work = Path(tmp)
        for lib in LIBS:
            build_lib(lib, out, work, core_libs)
        build_fake_ndk(out, work)
    build_packages(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--out", type=Path, default=FIXTURES / "platform")
    args = parser.parse_args(argv)
    build_all(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
