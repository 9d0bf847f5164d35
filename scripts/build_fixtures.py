"""Build every committed fixture (``fixtures/libs``, ``fixtures/packages``) from ``fixtures/src``.

The libraries are real Android ELF shared objects for the four ABIs, compiled and linked with
clang-19 and lld-19 (no NDK needed: ``fixtures/src`` declares the few NDK, fbjni and libtorch
names it uses and links against stub platform libraries, as the NDK's sysroot stubs are). The
packages are zips written byte by byte here (APK, AAB, APKS, AAR, plain folder), with stored
``.so`` members 16 KB-aligned through local-header padding, as ``zipalign -P 16`` does.

Everything is deterministic, so ``--check`` can rebuild into a temporary directory and demand
the committed bytes back:

* no build ids (``--build-id=none``), no debug info, ``-fno-ident`` and a fixed ``.comment``
  (the NDK clang banner the library stands for, instead of the host's "Debian LLD 19.1.7");
* sources and link inputs in a fixed order, compiled with the source directory as the working
  directory and ``-ffile-prefix-map`` so no host path can leak in;
* zip members in a fixed order with the DOS timestamp 1981-01-01 00:00 and no extra fields but
  the alignment padding; deflate at level 9.

Usage: ``python scripts/build_fixtures.py`` (rewrites ``fixtures/libs`` and
``fixtures/packages``) or ``python scripts/build_fixtures.py --check`` (exit 1 and list the
files that differ). ``fixtures/README.md`` describes each library and package.
"""

from __future__ import annotations

import argparse
import json
import shutil
import struct
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import axml  # noqa: E402
from fixture_zip import DEX, PAGE_ALIGN, Member, write_zip  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
SRC = FIXTURES / "src"
OUTPUTS = ("libs", "packages", "platform")
"""The fixture directories this script owns and rewrites; ``src`` and ``README.md`` are inputs."""

CLANG = "clang-19"
LLD = "ld.lld-19"
OBJCOPY = "llvm-objcopy-19"

API_LEVEL = 21
PACKAGE_NAME = "org.example.wenet"
TARGET_SDK = 34


@dataclass(frozen=True)
class Abi:
    name: str
    triple: str
    bits: int

    @property
    def page_size(self) -> int:
        # 64-bit libraries must load on 16 KB-page devices (REFERENCE.md §5).
        return 16384 if self.bits == 64 else 4096

    @property
    def split_name(self) -> str:
        return self.name.replace("-", "_")


ABIS = (
    Abi("arm64-v8a", "aarch64-linux-android", 64),
    Abi("armeabi-v7a", "armv7a-linux-androideabi", 32),
    Abi("x86", "i686-linux-android", 32),
    Abi("x86_64", "x86_64-linux-android", 64),
)


@dataclass(frozen=True)
class Ndk:
    major: int
    version: str
    build_number: str
    comment: tuple[str, ...]
    """The ``.comment`` strings of a library that NDK's toolchain links (REFERENCE.md §2.2)."""


NDKS = {
    21: Ndk(21, "r21b", "6352462", ("Android (6317467 based on r365631c1) clang version 9.0.8",)),
    26: Ndk(
        26,
        "r26b",
        "10909125",
        (
            "Android (10552028, +pgo, +bolt, +lto, -mlgo, based on r487747d) clang version 17.0.2",
            "Linker: LLD 17.0.2",
        ),
    ),
}


@dataclass(frozen=True)
class Library:
    """One fixture library: built per ABI into ``libs/<abi>/<variant>/<soname>``."""

    variant: str
    soname: str
    source: str
    ndk: int | None = None
    """NDK the library stands for (its note, banner and headers); None for the platform stubs."""
    needed: tuple[str, ...] = ()
    """DT_NEEDED, in order: ``platform/<name>`` or ``<variant>/<name>`` of an earlier library."""
    defines: tuple[str, ...] = ()
    version_script: str | None = None
    language: str = "c++"


PLATFORM = (
    Library("platform", "libc.so", "platform/libc.c", version_script="platform/libc.map.txt", language="c"),
    Library("platform", "libm.so", "platform/libm.c", version_script="platform/libm.map.txt", language="c"),
    Library(
        "platform", "libdl.so", "platform/libdl.c", version_script="platform/libdl.map.txt", language="c"
    ),
    Library("platform", "liblog.so", "platform/liblog.c", language="c"),
)
CXX_NEEDED = ("platform/libdl.so", "platform/libc.so")
RUNTIME_NEEDED = (
    "fbjni/libfbjni.so",
    "platform/liblog.so",
    "platform/libm.so",
    "platform/libdl.so",
    "platform/libc.so",
)
WENET_NEEDED = ("fbjni/libfbjni.so", "platform/liblog.so", "platform/libc.so")

LIBRARIES = PLATFORM + (
    Library("cxx-old", "libc++_shared.so", "cxx/libcxx.cpp", 21, CXX_NEEDED),
    Library("cxx-new", "libc++_shared.so", "cxx/libcxx.cpp", 26, CXX_NEEDED),
    # fbjni is linked against the new libc++_shared.so but imports only names both export.
    Library(
        "fbjni",
        "libfbjni.so",
        "fbjni/fbjni.cpp",
        21,
        ("cxx-new/libc++_shared.so", "platform/liblog.so", "platform/libc.so"),
    ),
    Library(
        "runtime-old",
        "libpytorch_jni.so",
        "pytorch/pytorch_jni.cpp",
        21,
        ("cxx-old/libc++_shared.so", *RUNTIME_NEEDED),
        ("FIXTURE_TORCH_MAJOR=1",),
    ),
    Library(
        "runtime-new",
        "libpytorch_jni.so",
        "pytorch/pytorch_jni.cpp",
        26,
        ("cxx-new/libc++_shared.so", *RUNTIME_NEEDED),
        ("FIXTURE_TORCH_MAJOR=2",),
    ),
    Library(
        "wenet-old",
        "libwenet.so",
        "wenet/wenet.cpp",
        21,
        ("runtime-old/libpytorch_jni.so", "cxx-old/libc++_shared.so", *WENET_NEEDED),
        ("FIXTURE_TORCH_MAJOR=1",),
    ),
    Library(
        "wenet-new",
        "libwenet.so",
        "wenet/wenet.cpp",
        21,
        ("runtime-new/libpytorch_jni.so", "cxx-new/libc++_shared.so", *WENET_NEEDED),
        ("FIXTURE_TORCH_MAJOR=2",),
    ),
    Library(
        "cxx-consumer-new",
        "libdriftdemo.so",
        "driftdemo/driftdemo.cpp",
        26,
        ("cxx-new/libc++_shared.so", "platform/libc.so"),
    ),
)

COMMON_FLAGS = (
    "-Os",
    "-fPIC",
    "-fno-ident",
    "-fno-asynchronous-unwind-tables",
    "-fno-unwind-tables",
    "-fno-stack-protector",
    "-fno-builtin",
    "-nostdinc",
    f"-ffile-prefix-map={SRC}=.",
    "-Iinclude",
)
CXX_FLAGS = (
    "-x",
    "c++",
    "-std=c++17",
    "-fno-exceptions",
    "-fno-rtti",
    "-nostdinc++",
    "-fno-threadsafe-statics",
    "-fno-sized-deallocation",
)
LINK_FLAGS = (
    "-shared",
    "-nostdlib",
    "-fuse-ld=lld",
    f"--ld-path={LLD}",
    "-Wl,--build-id=none",
    "-Wl,--hash-style=both",
    "-Wl,--strip-all",
    "-Wl,-z,defs",
    "-Wl,--no-undefined-version",
)


def _run(args: Sequence[str], cwd: Path) -> None:
    result = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"command failed ({result.returncode}): {' '.join(args)}\n{result.stderr}")


def _resolve_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise SystemExit(f"{name} is not on PATH; the fixtures are built with clang-19 and lld-19")
    return path


def build_library(lib: Library, abi: Abi, libs_dir: Path, work: Path) -> Path:
    """Compile and link one library for one ABI into ``libs_dir/<abi>/<variant>/``."""
    out = libs_dir / abi.name / lib.variant / lib.soname
    out.parent.mkdir(parents=True, exist_ok=True)
    target = f"--target={abi.triple}{API_LEVEL}"
    stem = f"{abi.name}-{lib.variant}-{lib.soname}"
    flags = [target, *COMMON_FLAGS]
    if lib.language == "c++":
        flags += CXX_FLAGS
    else:
        flags += ["-x", "c", "-std=c11", "-w"]
    if lib.ndk is not None:
        flags.append(f"-DFIXTURE_NDK_MAJOR={lib.ndk}")
    flags += [f"-D{define}" for define in lib.defines]
    objects = [work / f"{stem}.o"]
    _run([CLANG, *flags, "-c", lib.source, "-o", str(objects[0])], SRC)
    if lib.ndk is not None:
        ndk = NDKS[lib.ndk]
        note = work / f"{stem}.note.o"
        _run(
            [
                CLANG,
                target,
                f"-ffile-prefix-map={SRC}=.",
                f"-DANDROID_API={API_LEVEL}",
                f'-DNDK_VERSION="{ndk.version}"',
                f'-DNDK_BUILD_NUMBER="{ndk.build_number}"',
                "-c",
                "android_ident.S",
                "-o",
                str(note),
            ],
            SRC,
        )
        objects.append(note)
    link = [CLANG, target, *LINK_FLAGS, f"-Wl,-z,max-page-size={abi.page_size}", f"-Wl,-soname,{lib.soname}"]
    if lib.version_script:
        link.append(f"-Wl,--version-script={lib.version_script}")
    linked = work / f"{stem}.linked"
    link += ["-o", str(linked), *map(str, objects)]
    link += [str(libs_dir / abi.name / needed) for needed in lib.needed]
    _run(link, SRC)
    comment = work / f"{stem}.comment"
    if lib.ndk is None:
        _run([OBJCOPY, "--remove-section=.comment", str(linked), str(out)], SRC)
    else:
        comment.write_bytes(b"".join(text.encode() + b"\0" for text in NDKS[lib.ndk].comment))
        _run([OBJCOPY, f"--update-section=.comment={comment}", str(linked), str(out)], SRC)
    return out


# --- ELF surgery on built libraries -----------------------------------------------------------


def _elf_layout(data: bytes) -> tuple[str, list[tuple[int, int, int]], list[tuple[int, int, int, int]]]:
    """(struct prefix, program headers as (type, offset, filesz), sections as (name, type, offset, size))."""
    is64 = data[4] == 2
    if is64:
        phoff, shoff = struct.unpack_from("<QQ", data, 0x20)
        phentsize, phnum, shentsize, shnum = struct.unpack_from("<HHHH", data, 0x36)
    else:
        phoff, shoff = struct.unpack_from("<II", data, 0x1C)
        phentsize, phnum, shentsize, shnum = struct.unpack_from("<HHHH", data, 0x2A)
    phdrs = []
    for i in range(phnum):
        at = phoff + i * phentsize
        if is64:
            p_type, _flags, p_offset, _vaddr, _paddr, p_filesz = struct.unpack_from("<IIQQQQ", data, at)
        else:
            p_type, p_offset, _vaddr, _paddr, p_filesz = struct.unpack_from("<IIIII", data, at)
        phdrs.append((p_type, p_offset, p_filesz))
    sections = []
    for i in range(shnum):
        at = shoff + i * shentsize
        if is64:
            sh_name, sh_type, _flags, _addr, sh_offset, sh_size = struct.unpack_from("<IIQQQQ", data, at)
        else:
            sh_name, sh_type, _flags, _addr, sh_offset, sh_size = struct.unpack_from("<IIIIII", data, at)
        sections.append((sh_name, sh_type, sh_offset, sh_size))
    return ("<Q" if is64 else "<I"), phdrs, sections


def strip_section_headers(data: bytes) -> bytes:
    """The library as a packer leaves it: no section headers at all, and nothing past the last
    byte a PT_LOAD maps (so ``.shstrtab``, ``.comment`` and the header table are gone). The
    loader, and a reader that goes through PT_DYNAMIC, do not notice."""
    word, phdrs, _ = _elf_layout(data)
    end = max(offset + filesz for p_type, offset, filesz in phdrs if p_type == 1)
    out = bytearray(data[:end])
    if word == "<Q":
        struct.pack_into("<Q", out, 0x28, 0)  # e_shoff
        struct.pack_into("<HHH", out, 0x3A, 0, 0, 0)  # e_shentsize, e_shnum, e_shstrndx
    else:
        struct.pack_into("<I", out, 0x20, 0)
        struct.pack_into("<HHH", out, 0x2E, 0, 0, 0)
    return bytes(out)


def truncate_in_dynsym(data: bytes) -> bytes:
    """The library cut off in the middle of ``.dynsym``, as an interrupted copy leaves it."""
    _, _, sections = _elf_layout(data)
    dynsym = [(offset, size) for _, sh_type, offset, size in sections if sh_type == 11]  # SHT_DYNSYM
    offset, size = dynsym[0]
    return data[: offset + size // 2]


# --- packages ---------------------------------------------------------------------------------

LibSet = dict[str, dict[str, bytes]]
"""ABI -> library file name -> bytes."""

EMPTY_JAR = write_zip([])


@dataclass
class Fixtures:
    libs: Path
    cache: dict[tuple[str, str], bytes] = field(default_factory=dict)

    def lib(self, abi: str, variant: str, soname: str) -> bytes:
        key = (abi, f"{variant}/{soname}")
        if key not in self.cache:
            self.cache[key] = (self.libs / abi / variant / soname).read_bytes()
        return self.cache[key]

    def group(self, wenet: str | None, runtime: str, cxx: str, fbjni: bool = True) -> LibSet:
        result: LibSet = {}
        for abi in ABIS:
            libs = {
                "libc++_shared.so": self.lib(abi.name, cxx, "libc++_shared.so"),
                "libpytorch_jni.so": self.lib(abi.name, runtime, "libpytorch_jni.so"),
            }
            if fbjni:
                libs["libfbjni.so"] = self.lib(abi.name, "fbjni", "libfbjni.so")
            if wenet is not None:
                libs["libwenet.so"] = self.lib(abi.name, wenet, "libwenet.so")
            result[abi.name] = libs
        return result


def _lib_members(prefix: str, libs: LibSet, deflate: bool) -> list[Member]:
    return [
        Member(f"{prefix}{abi}/{name}", data, deflate=deflate, align=0 if deflate else PAGE_ALIGN)
        for abi in sorted(libs)
        for name, data in sorted(libs[abi].items())
    ]


def _app_manifest() -> axml.Element:
    return axml.manifest(PACKAGE_NAME, API_LEVEL, TARGET_SDK, extract_native_libs=False)


def apk(libs: LibSet, deflate_libs: bool = False) -> bytes:
    # Compressed libraries must be extracted at install: extractNativeLibs="false" would make the
    # package manager refuse them (that broken case is a platform-rule fixture).
    manifest = _app_manifest()
    if deflate_libs:
        manifest = axml.manifest(PACKAGE_NAME, API_LEVEL, TARGET_SDK, extract_native_libs=True)
    members = [Member("AndroidManifest.xml", axml.binary_xml(manifest)), Member("classes.dex", DEX)]
    return write_zip(members + _lib_members("lib/", libs, deflate_libs))


def aab(libs: LibSet) -> bytes:
    # BundleConfig { Bundletool bundletool = 1 { string version = 2 } }: what marks a bundle.
    bundle_config = b"\x0a\x08\x12\x061.15.6"
    members = [
        Member("BundleConfig.pb", bundle_config),
        Member("base/dex/classes.dex", DEX),
        *_lib_members("base/lib/", libs, deflate=False),
        Member("base/manifest/AndroidManifest.xml", axml.proto_xml(_app_manifest())),
    ]
    return write_zip(members)


def apks(libs: LibSet) -> bytes:
    """What ``bundletool build-apks`` makes of ``clean.aab``: a master split with the code and one
    split per ABI with its libraries (``splits/base-<abi with _>.apk``), stored in the outer zip."""
    splits = {"base-master": apk_split(None, {})}
    for abi, abi_libs in libs.items():
        split = next(a for a in ABIS if a.name == abi).split_name
        splits[f"base-{split}"] = apk_split(f"config.{split}", {abi: abi_libs})
    return write_zip(
        Member(f"splits/{name}.apk", data, deflate=False) for name, data in sorted(splits.items())
    )


def apk_split(split: str | None, libs: LibSet) -> bytes:
    if split is None:
        return write_zip(
            [Member("AndroidManifest.xml", axml.binary_xml(_app_manifest())), Member("classes.dex", DEX)]
        )
    manifest = axml.binary_xml(axml.manifest(PACKAGE_NAME, split=split))
    return write_zip([Member("AndroidManifest.xml", manifest), *_lib_members("lib/", libs, deflate=False)])


def _text_manifest(package: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<manifest xmlns:android="http://schemas.android.com/apk/res/android" package="{package}">\n'
        f'    <uses-sdk android:minSdkVersion="{API_LEVEL}" />\n'
        "</manifest>\n"
    ).encode()


def aar(package: str, libs: LibSet) -> bytes:
    members = [
        Member("AndroidManifest.xml", _text_manifest(package)),
        Member("R.txt", b""),
        Member("classes.jar", EMPTY_JAR),
        *_lib_members("jni/", libs, deflate=True),
    ]
    return write_zip(members)


def _json(value: object) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True) + "\n").encode()


def prefab_aar(libs: LibSet) -> bytes:
    """fbjni's AAR as published: the library under ``jni/`` and again as a prefab module."""
    module = "prefab/modules/fbjni"
    members = [
        Member("AndroidManifest.xml", _text_manifest("com.facebook.fbjni")),
        Member("R.txt", b""),
        Member("classes.jar", EMPTY_JAR),
        *_lib_members("jni/", libs, deflate=True),
        Member(
            "prefab/prefab.json",
            _json({"schema_version": 2, "name": "fbjni", "version": "0.5.1", "dependencies": []}),
        ),
        Member(
            f"{module}/module.json",
            _json(
                {
                    "export_libraries": [],
                    "library_name": "libfbjni",
                    "android": {"export_libraries": [], "library_name": "libfbjni"},
                }
            ),
        ),
        Member(f"{module}/include/fbjni/fbjni.h", (SRC / "include" / "fbjni.h").read_bytes()),
    ]
    for abi in sorted(libs):
        abi_json = {"abi": abi, "api": API_LEVEL, "ndk": 21, "stl": "c++_shared", "static": False}
        members.append(Member(f"{module}/libs/android.{abi}/abi.json", _json(abi_json)))
        for name, data in sorted(libs[abi].items()):
            members.append(Member(f"{module}/libs/android.{abi}/{name}", data))
    return write_zip(members)


def build_packages(fx: Fixtures, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    clean = fx.group("wenet-new", "runtime-new", "cxx-new")

    def variant(changes: Mapping[str, Mapping[str, bytes | None]]) -> LibSet:
        """``clean`` with some libraries replaced (or removed, for None), per ABI."""
        result = {abi: dict(libs) for abi, libs in clean.items()}
        for abi, replaced in changes.items():
            for name, data in replaced.items():
                if data is None:
                    del result[abi][name]
                else:
                    result[abi][name] = data
        return result

    arm64 = "arm64-v8a"
    fbjni64 = clean["arm64-v8a"]["libfbjni.so"]
    packages: dict[str, bytes] = {
        "clean.apk": apk(clean),
        "clean-old.apk": apk(fx.group("wenet-old", "runtime-old", "cxx-old")),
        "wenet-new-runtime.apk": apk(fx.group("wenet-old", "runtime-new", "cxx-new")),
        "missing-fbjni.apk": apk(fx.group("wenet-new", "runtime-new", "cxx-new", fbjni=False)),
        "wrong-arch.apk": apk(
            variant({arm64: {"libfbjni.so": fx.lib("armeabi-v7a", "fbjni", "libfbjni.so")}})
        ),
        "abi-incomplete.apk": apk(variant({"x86": {"libwenet.so": None}})),
        "truncated-so.apk": apk(variant({arm64: {"libfbjni.so": truncate_in_dynsym(fbjni64)}})),
        "compressed.apk": apk(clean, deflate_libs=True),
        "clean.aab": aab(clean),
        "clean.apks": apks(clean),
        "pytorch_android-new.aar": aar("org.pytorch", fx.group(None, "runtime-new", "cxx-new")),
        "pytorch_android-old.aar": aar("org.pytorch", fx.group(None, "runtime-old", "cxx-old")),
        "fbjni-prefab.aar": prefab_aar(
            {abi.name: {"libfbjni.so": fx.lib(abi.name, "fbjni", "libfbjni.so")} for abi in ABIS}
        ),
    }
    drift = variant({})
    for abi in ABIS:
        drift[abi.name]["libc++_shared.so"] = fx.lib(abi.name, "cxx-old", "libc++_shared.so")
        drift[abi.name]["libdriftdemo.so"] = fx.lib(abi.name, "cxx-consumer-new", "libdriftdemo.so")
    packages["cxx-drift.apk"] = apk(drift)
    for name, data in sorted(packages.items()):
        (out / name).write_bytes(data)
    for abi_name, libs in sorted(clean.items()):
        folder = out / "clean-folder" / abi_name
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in sorted(libs.items()):
            (folder / name).write_bytes(data)


def build_all(out: Path) -> None:
    """Build ``libs/`` and ``packages/`` under ``out`` (a fixtures directory)."""
    for tool in (CLANG, LLD, OBJCOPY):
        _resolve_tool(tool)
    libs_dir = out / "libs"
    with tempfile.TemporaryDirectory(prefix="symaudit-fixtures-") as tmp:
        work = Path(tmp)
        for abi in ABIS:
            for lib in LIBRARIES:
                build_library(lib, abi, libs_dir, work)
    for abi in ABIS:
        fbjni = (libs_dir / abi.name / "fbjni" / "libfbjni.so").read_bytes()
        stripped = libs_dir / abi.name / "stripped" / "libfbjni.so"
        stripped.parent.mkdir(parents=True, exist_ok=True)
        stripped.write_bytes(strip_section_headers(fbjni))
    build_packages(Fixtures(libs_dir), out / "packages")
    # The platform rules' scenarios link against (and copy) the libraries above.
    import build_platform_fixtures

    build_platform_fixtures.build_all(out / "platform", libs_dir)


def _tree(base: Path) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for top in OUTPUTS:
        root = base / top
        if root.exists():
            for path in sorted(root.rglob("*")):
                if path.is_file():
                    files[path.relative_to(base).as_posix()] = path.read_bytes()
    return files


def differences(committed: Path, rebuilt: Path) -> list[str]:
    old, new = _tree(committed), _tree(rebuilt)
    lines = []
    for name in sorted(old.keys() | new.keys()):
        if name not in new:
            lines.append(f"{name}: committed but no longer built")
        elif name not in old:
            lines.append(f"{name}: built but not committed")
        elif old[name] != new[name]:
            lines.append(f"{name}: differs ({len(old[name])} bytes committed, {len(new[name])} rebuilt)")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="rebuild into a temporary directory and compare")
    parser.add_argument(
        "--out", type=Path, default=FIXTURES, help="fixtures directory to write (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    if args.check:
        with tempfile.TemporaryDirectory(prefix="symaudit-fixtures-check-") as tmp:
            build_all(Path(tmp))
            lines = differences(args.out, Path(tmp))
        if lines:
            print("fixtures differ from a fresh build (run scripts/build_fixtures.py):")
            for line in lines:
                print(f"  {line}")
            return 1
        print(f"fixtures reproduce exactly ({len(_tree(args.out))} files)")
        return 0
    for top in OUTPUTS:
        shutil.rmtree(args.out / top, ignore_errors=True)
    build_all(args.out)
    print(f"built {len(_tree(args.out))} files under {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
