"""Build ``fixtures/maven``: a Maven repository of reference PyTorch Android builds for the tests.

The layout is the standard one (REFERENCE.md §7.1), served as is by the tests' HTTP server and
copied into a fake Gradle cache by others::

    fixtures/maven/org/pytorch/pytorch_android/maven-metadata.xml (+ .sha1)
    fixtures/maven/org/pytorch/pytorch_android/1.13.1/pytorch_android-1.13.1.aar (+ .sha1 .sha256)
    fixtures/maven/org/pytorch/pytorch_android/1.13.1/pytorch_android-1.13.1.pom (+ .sha1)

Artifacts (versions follow the real history; contents are the reduced fixture libraries):

* ``org.pytorch:pytorch_android`` 1.10.0 (the 1.x runtime plus two entry points 1.11 dropped,
  built here from ``fixtures/src/references``), 1.13.1 (``fixtures/libs/<abi>/runtime-old``),
  2.1.0 (``runtime-new``: the 2.x ``torch::jit::load`` with the trailing ``bool``);
* ``org.pytorch:pytorch_android_lite`` 1.13.1 and 2.1.0 (``libpytorch_jni_lite.so``, built here);
* ``com.facebook.fbjni:fbjni`` 0.5.1 (``fixtures/libs/<abi>/fbjni``, with its prefab module).

The libraries of ``fixtures/libs`` are taken as committed (``scripts/build_fixtures.py`` makes
them); the extra ones are compiled with the same toolchain and flags, through that script's
``build_library``. Everything is deterministic: ``--check`` rebuilds into a temporary directory
and exits 1, listing the files that differ, unless the committed bytes come back.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import build_fixtures as bf  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
LIBS = ROOT / "fixtures" / "libs"
OUT = ROOT / "fixtures" / "maven"
LAST_UPDATED = "20231004190000"
"""Fixed ``<lastUpdated>`` so the metadata is byte-stable."""

RUNTIME_NEEDED = (
    "fbjni/libfbjni.so",
    "platform/liblog.so",
    "platform/libm.so",
    "platform/libdl.so",
    "platform/libc.so",
)
LITE_NEEDED = ("fbjni/libfbjni.so", "platform/liblog.so", "platform/libc.so")

EXTRA_LIBRARIES = (
    bf.Library(
        "runtime-1.10",
        "libpytorch_jni.so",
        "references/pytorch_jni_1_10.cpp",
        21,
        ("cxx-old/libc++_shared.so", *RUNTIME_NEEDED),
        ("FIXTURE_TORCH_MAJOR=1",),
    ),
    bf.Library(
        "lite-old",
        "libpytorch_jni_lite.so",
        "references/pytorch_jni_lite.cpp",
        21,
        ("cxx-old/libc++_shared.so", *LITE_NEEDED),
        ("FIXTURE_TORCH_MAJOR=1",),
    ),
    bf.Library(
        "lite-new",
        "libpytorch_jni_lite.so",
        "references/pytorch_jni_lite.cpp",
        26,
        ("cxx-new/libc++_shared.so", *LITE_NEEDED),
        ("FIXTURE_TORCH_MAJOR=2",),
    ),
)
COPIED_VARIANTS = ("platform", "cxx-old", "cxx-new", "fbjni", "runtime-old", "runtime-new")


@dataclass(frozen=True)
class Artifact:
    group: str
    artifact: str
    version: str
    libraries: tuple[tuple[str, str], ...]
    """(variant, file name) of each library under ``jni/<abi>/``."""
    prefab: bool = False

    @property
    def folder(self) -> str:
        return f"{self.group.replace('.', '/')}/{self.artifact}"


ARTIFACTS = (
    Artifact(
        "org.pytorch",
        "pytorch_android",
        "1.10.0",
        (("cxx-old", "libc++_shared.so"), ("fbjni", "libfbjni.so"), ("runtime-1.10", "libpytorch_jni.so")),
    ),
    Artifact(
        "org.pytorch",
        "pytorch_android",
        "1.13.1",
        (("cxx-old", "libc++_shared.so"), ("fbjni", "libfbjni.so"), ("runtime-old", "libpytorch_jni.so")),
    ),
    Artifact(
        "org.pytorch",
        "pytorch_android",
        "2.1.0",
        (("cxx-new", "libc++_shared.so"), ("fbjni", "libfbjni.so"), ("runtime-new", "libpytorch_jni.so")),
    ),
    Artifact(
        "org.pytorch",
        "pytorch_android_lite",
        "1.13.1",
        (("cxx-old", "libc++_shared.so"), ("fbjni", "libfbjni.so"), ("lite-old", "libpytorch_jni_lite.so")),
    ),
    Artifact(
        "org.pytorch",
        "pytorch_android_lite",
        "2.1.0",
        (("cxx-new", "libc++_shared.so"), ("fbjni", "libfbjni.so"), ("lite-new", "libpytorch_jni_lite.so")),
    ),
    Artifact("com.facebook.fbjni", "fbjni", "0.5.1", (("fbjni", "libfbjni.so"),), prefab=True),
)


def _pom(artifact: Artifact) -> bytes:
    deps = ""
    if artifact.group == "org.pytorch":
        deps = (
            "  <dependencies>\n"
            "    <dependency>\n"
            "      <groupId>com.facebook.fbjni</groupId>\n"
            "      <artifactId>fbjni-java-only</artifactId>\n"
            "      <version>0.2.2</version>\n"
            "      <scope>compile</scope>\n"
            "    </dependency>\n"
            "  </dependencies>\n"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<project xmlns="http://maven.apache.org/POM/4.0.0">\n'
        "  <modelVersion>4.0.0</modelVersion>\n"
        f"  <groupId>{artifact.group}</groupId>\n"
        f"  <artifactId>{artifact.artifact}</artifactId>\n"
        f"  <version>{artifact.version}</version>\n"
        "  <packaging>aar</packaging>\n"
        f"{deps}"
        "</project>\n"
    ).encode()


def _metadata(group: str, name: str, versions: list[str]) -> bytes:
    listed = "".join(f"      <version>{v}</version>\n" for v in versions)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        "<metadata>\n"
        f"  <groupId>{group}</groupId>\n"
        f"  <artifactId>{name}</artifactId>\n"
        "  <versioning>\n"
        f"    <latest>{versions[-1]}</latest>\n"
        f"    <release>{versions[-1]}</release>\n"
        "    <versions>\n"
        f"{listed}"
        "    </versions>\n"
        f"    <lastUpdated>{LAST_UPDATED}</lastUpdated>\n"
        "  </versioning>\n"
        "</metadata>\n"
    ).encode()


def _aar(artifact: Artifact, libs: Path) -> bytes:
    lib_set: bf.LibSet = {
        abi.name: {
            name: (libs / abi.name / variant / name).read_bytes() for variant, name in artifact.libraries
        }
        for abi in bf.ABIS
    }
    if artifact.prefab:
        return bf.prefab_aar(lib_set)
    return bf.aar(artifact.group, lib_set)


def _write_with_checksums(path: Path, data: bytes, sha256: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    Path(f"{path}.sha1").write_text(hashlib.sha1(data).hexdigest() + "\n")
    if sha256:
        Path(f"{path}.sha256").write_text(hashlib.sha256(data).hexdigest() + "\n")


def build(out: Path) -> None:
    for tool in (bf.CLANG, bf.LLD, bf.OBJCOPY):
        bf._resolve_tool(tool)
    with tempfile.TemporaryDirectory(prefix="symaudit-maven-") as tmp:
        libs = Path(tmp) / "libs"
        work = Path(tmp) / "work"
        work.mkdir()
        for abi in bf.ABIS:
            for variant in COPIED_VARIANTS:
                shutil.copytree(LIBS / abi.name / variant, libs / abi.name / variant)
            for library in EXTRA_LIBRARIES:
                bf.build_library(library, abi, libs, work)
        if out.exists():
            shutil.rmtree(out)
        versions: dict[tuple[str, str], list[str]] = {}
        for artifact in ARTIFACTS:
            base = out / artifact.folder / artifact.version / f"{artifact.artifact}-{artifact.version}"
            _write_with_checksums(Path(f"{base}.aar"), _aar(artifact, libs), sha256=True)
            _write_with_checksums(Path(f"{base}.pom"), _pom(artifact), sha256=False)
            versions.setdefault((artifact.group, artifact.artifact), []).append(artifact.version)
        for (group, name), listed in versions.items():
            folder = out / group.replace(".", "/") / name
            _write_with_checksums(folder / "maven-metadata.xml", _metadata(group, name, listed), sha256=False)


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="rebuild in a temporary directory and compare")
    args = parser.parse_args()
    if not args.check:
        build(OUT)
        print(f"wrote {OUT.relative_to(ROOT)} ({sum(len(b) for b in _tree(OUT).values())} bytes)")
        return 0
    with tempfile.TemporaryDirectory(prefix="symaudit-maven-check-") as tmp:
        rebuilt = Path(tmp) / "maven"
        build(rebuilt)
        committed, fresh = _tree(OUT), _tree(rebuilt)
    differ = sorted(
        name for name in committed.keys() | fresh.keys() if committed.get(name) != fresh.get(name)
    )
    for name in differ:
        print(f"differs: fixtures/maven/{name}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
