"""Reading the corpus AARs and composing what an app ships from them, in memory.

DT_NEEDED is read here with pyelftools' own ``DynamicSegment`` iteration (and, in the tests, with
``llvm-readelf-19``), never with symaudit's reader: these are the independent answers the audit
is checked against.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from elftools.elf.elffile import ELFFile

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "symaudit" / "schemas" / "report-1.json").read_text())

RN = "react-native-0.68.2.aar"
HERMES_RELEASE = "hermes-engine-0.11.0-hermes-release.aar"
HERMES_DEBUG = "hermes-engine-0.11.0-hermes-debug.aar"
HERMES_CPPRUNTIME = "hermes-engine-0.11.0-hermes-cppruntime-release.aar"
JSC = "jsc-android-294992.0.0-android-jsc-intl.aar"
# Issue 11's real cases (scripts/fetch_corpus.py pins them; fetched by the README's test command).
RN_070 = "react-native-0.70.6-release.aar"
JSC_250231 = "jsc-android-250231.0.0-android-jsc.aar"
LIBNODE = "nodejs-mobile-react-native-18.20.4-arm64-v8a-libnode.so"

Libraries = dict[tuple[str, str], bytes]
"""(abi, file name) -> bytes of ``jni/<abi>/<file name>``."""


@dataclass(frozen=True)
class Bundle:
    """The native libraries one app variant packages: AARs in dependency order, first copy wins
    (as Gradle's ``pickFirst`` of libc++_shared.so), minus the libraries the build drops."""

    name: str
    aars: tuple[str, ...]
    dropped: frozenset[str] = frozenset()


# React Native 0.68's react.gradle deletes the executor of the JS engine the app does not use and,
# with Hermes, the executor of the other build type (its `vmSelectionAction`).
BUNDLES = (
    Bundle(
        "rn-hermes-release",
        (RN, HERMES_RELEASE),
        frozenset({"libhermes-executor-debug.so", "libjscexecutor.so"}),
    ),
    Bundle(
        "rn-hermes-debug",
        (RN, HERMES_DEBUG),
        frozenset({"libhermes-executor-release.so", "libjscexecutor.so"}),
    ),
    Bundle("rn-jsc", (RN, JSC), frozenset({"libhermes-executor-debug.so", "libhermes-executor-release.so"})),
)
BUNDLES_BY_NAME = {bundle.name: bundle for bundle in BUNDLES}

# react-native 0.70.6 with JSC 250231, the app of react-native PR #36062 (libjscexecutor.so imports
# _Unwind_Resume, which no packaged library defines). Like 0.68's, the app drops the Hermes executor;
# libjsijniprofiler.so goes too: like the executor it needs libhermes.so (DT_NEEDED), which a JSC
# app does not ship.
RN_070_JSC_DROPPED = frozenset({"libhermes-executor-release.so", "libjsijniprofiler.so"})
RN_070_JSC = Bundle("rn070-jsc", (RN_070, JSC_250231), RN_070_JSC_DROPPED)
# Two libc++_shared.so swaps between vendors, the first AAR's copy winning (pickFirst):
# react-native 0.70.6's libraries (NDK r21e) over hermes-engine 0.11.0's r21b libc++_shared.so ...
RN_070_JSC_HERMES_CXX = Bundle(
    "rn070-jsc-hermes-cxx", (HERMES_CPPRUNTIME, RN_070, JSC_250231), RN_070_JSC_DROPPED
)
# ... and pytorch_android 1.13.1's libraries (r21b) under react-native 0.70.6's r21e copy
# (tests/corpus/test_platform_cases.py composes that one from the two AARs).


def jni_libraries(aar: Path) -> Libraries:
    libraries: Libraries = {}
    with zipfile.ZipFile(aar) as archive:
        for info in archive.infolist():
            parts = info.filename.split("/")
            if len(parts) == 3 and parts[0] == "jni" and parts[2].endswith(".so"):
                libraries[(parts[1], parts[2])] = archive.read(info)
    return libraries


def compose(bundle: Bundle, corpus: Mapping[str, Path]) -> Libraries:
    libraries: Libraries = {}
    for aar in bundle.aars:
        for key, data in jni_libraries(corpus[aar]).items():
            if key[1] not in bundle.dropped:
                libraries.setdefault(key, data)
    return libraries


def write_aar(libraries: Mapping[tuple[str, str], bytes], path: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("AndroidManifest.xml", '<manifest package="corpus.bundle"/>\n')
        for (abi, name), data in sorted(libraries.items()):
            archive.writestr(f"jni/{abi}/{name}", data)
    return path


def needed_pyelftools(data: bytes) -> tuple[str, ...]:
    elf = ELFFile(io.BytesIO(data))
    for segment in elf.iter_segments():
        if segment.header.p_type == "PT_DYNAMIC":
            return tuple(tag.needed for tag in segment.iter_tags() if tag.entry.d_tag == "DT_NEEDED")
    return ()


def needed_readelf(readelf: str, path: Path) -> tuple[str, ...]:
    done = subprocess.run(
        [readelf, "--elf-output-style=JSON", "--dynamic-table", str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    (view,) = json.loads(done.stdout)
    return tuple(entry["Library"] for entry in view["DynamicSection"] if entry["Type"] == "NEEDED")


def first_needers(needed: Mapping[str, tuple[str, ...]], removed: str) -> dict[str, str]:
    """root -> the library bionic names in ``library "<removed>" not found: needed by X``.

    bionic walks the DT_NEEDED graph breadth-first in file order from the root and stops at the
    first library it cannot find; only packaged libraries (keys of ``needed``) are walked.
    """
    needers: dict[str, str] = {}
    for root in needed:
        seen, queue = {root}, [root]
        while queue and root not in needers:
            current = queue.pop(0)
            for name in needed[current]:
                if name == removed:
                    needers[root] = current
                    break
                if name in needed and name not in seen:
                    seen.add(name)
                    queue.append(name)
    return needers


def audit_json(*args: str) -> tuple[int, dict[str, Any]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("SYMAUDIT_DEBUG", None)
    done = subprocess.run(
        [sys.executable, "-m", "symaudit.cli", *args, "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


def errors(report: dict[str, Any]) -> set[tuple[str, str | None, str | None, str | None]]:
    return {
        (f["rule"], f["abi"], f["library"], f.get("needed") or f.get("symbol"))
        for f in report["findings"]
        if f["severity"] == "error"
    }


def names(libraries: Iterable[tuple[str, str]], abi: str) -> list[str]:
    return sorted(name for lib_abi, name in libraries if lib_abi == abi)
