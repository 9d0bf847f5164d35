"""symaudit on real React Native / Hermes / JSC AARs from npm, checked against facts read
independently of symaudit (pyelftools' own dynamic-section iteration and ``llvm-readelf-19``)."""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

import jsonschema
import pytest

from .aars import (
    BUNDLES,
    BUNDLES_BY_NAME,
    HERMES_CPPRUNTIME,
    HERMES_RELEASE,
    JSC,
    SCHEMA,
    Bundle,
    Libraries,
    audit_json,
    compose,
    errors,
    first_needers,
    jni_libraries,
    needed_pyelftools,
    needed_readelf,
    write_aar,
)
from .conftest import READELF

ABIS = ("arm64-v8a", "armeabi-v7a", "x86", "x86_64")
# Every binary of this 2022 corpus predates 16 KB page sizes (NDK r28): each arm64-v8a/x86_64
# library rightly gets `load-align-16k`. That rule is not what these tests are about.
IGNORE = ("--ignore", "load-align-16k")

# Shipped by React Native 0.68 in every variant, and loaded only by Hermes' sampling profiler:
# with JSC it cannot load (nothing ships libhermes.so), which is what symaudit must say.
JSC_PROFILER_ERRORS = {("missing-library", abi, "libjsijniprofiler.so", "libhermes.so") for abi in ABIS}
# libjsc.so links libc++ statically and exports ~400 std::__ndk1 symbols next to React Native's
# libc++_shared.so: what the stl-mixed rule documents as an error.
JSC_STL_ERRORS = {("stl-mixed", abi, "libjsc.so", None) for abi in ABIS}
EXPECTED_ERRORS = {
    "rn-hermes-release": set(),
    "rn-hermes-debug": set(),
    "rn-jsc": JSC_PROFILER_ERRORS | JSC_STL_ERRORS,
}


@pytest.mark.parametrize(
    ("aar", "expected"),
    [
        # The AAR's manifest says minSdk 16, but its 32-bit libjsc.so was built for API 21: a warning
        # (see below), since every platform symbol it imports exists at API 16 (the table says).
        pytest.param(JSC, set()),
        # 64-bit copies built for API 21 are fine under minSdk 16: no 64-bit device runs below 21.
        pytest.param(HERMES_CPPRUNTIME, set()),
    ],
)
def test_self_contained_aar_loads(
    corpus: dict[str, Path], aar: str, expected: set[tuple[str, str, str, str | None]]
) -> None:
    code, report = audit_json("aar", str(corpus[aar]), *IGNORE)
    jsonschema.validate(report, SCHEMA)
    assert {(lib["abi"], lib["name"]) for lib in report["libraries"]} == set(jni_libraries(corpus[aar]))
    assert errors(report) == expected
    assert code == (1 if expected else 0)


def test_a_library_built_above_min_sdk_is_a_warning_when_its_imports_resolve(corpus: dict[str, Path]) -> None:
    _, report = audit_json("aar", str(corpus[JSC]), *IGNORE)
    above = [f for f in report["findings"] if f["rule"] == "api-level-above-min-sdk"]
    assert {(f["abi"], f["library"], f["severity"], f["api"], f["min_sdk"]) for f in above} == {
        (abi, "libjsc.so", "warning", 21, 16) for abi in ("armeabi-v7a", "x86")
    }
    assert all(f["unavailable"] == [] for f in above)
    assert not [f for f in report["findings"] if f["rule"] == "platform-symbol-unavailable"]


def test_hermes_aar_alone_misses_what_react_native_ships(corpus: dict[str, Path], tmp_path: Path) -> None:
    # An AAR is not what the device loads: what it needs from other dependencies is a warning.
    code, report = audit_json("aar", str(corpus[HERMES_RELEASE]), *IGNORE)
    expected = {
        ("missing-library", abi, "libhermes.so", needed)
        for abi in ABIS
        for needed in ("libjsi.so", "libfbjni.so", "libc++_shared.so")
    }
    warned = {
        (f["rule"], f["abi"], f["library"], f["needed"])
        for f in report["findings"]
        if f["severity"] == "warning" and f["rule"] == "missing-library"
    }
    assert warned == expected and not {e for e in errors(report) if e[0] == "missing-library"}
    assert code == 0
    # The same libraries in an app's APK: the device fails to load them, an error.
    apk = tmp_path / "hermes-only.apk"
    with zipfile.ZipFile(apk, "w") as archive:
        archive.writestr("AndroidManifest.xml", b"")
        for (abi, name), data in sorted(jni_libraries(corpus[HERMES_RELEASE]).items()):
            archive.writestr(f"lib/{abi}/{name}", data)
    code, report = audit_json("apk", str(apk), *IGNORE)
    assert {e for e in errors(report) if e[0] == "missing-library"} == expected
    assert code == 1


@pytest.mark.parametrize("bundle", BUNDLES, ids=lambda b: b.name)
def test_app_bundle_loads(corpus: dict[str, Path], tmp_path: Path, bundle: Bundle) -> None:
    libraries = compose(bundle, corpus)
    code, report = audit_json("aar", str(write_aar(libraries, tmp_path / f"{bundle.name}.aar")), *IGNORE)
    jsonschema.validate(report, SCHEMA)
    assert errors(report) == EXPECTED_ERRORS[bundle.name]
    assert code == (1 if EXPECTED_ERRORS[bundle.name] else 0)
    assert len(report["libraries"]) == len(libraries)
    assert all(lib.get("error") is None for lib in report["libraries"])


# (bundle, abi, removed library, whether some library reaches it only through another one)
REMOVALS = [
    ("rn-hermes-release", "arm64-v8a", "libc++_shared.so", True),
    ("rn-hermes-release", "armeabi-v7a", "libfbjni.so", True),
    ("rn-hermes-debug", "x86_64", "libhermes.so", False),
    ("rn-jsc", "x86", "libjsc.so", False),
    ("rn-jsc", "arm64-v8a", "libglog.so", True),
]


def _needed_maps(
    libraries: Libraries, abi: str, tmp_path: Path
) -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]] | None]:
    """DT_NEEDED of every library of ``abi``, by pyelftools, and by llvm-readelf when installed."""
    ours = {name: needed_pyelftools(data) for (lib_abi, name), data in libraries.items() if lib_abi == abi}
    if shutil.which(READELF) is None:
        if os.environ.get("SYMAUDIT_REQUIRE_ALL"):
            pytest.fail(f"{READELF} is not installed (SYMAUDIT_REQUIRE_ALL is set: CI must run this check)")
        return ours, None
    folder = tmp_path / "readelf" / abi
    folder.mkdir(parents=True)
    theirs = {}
    for name in ours:
        path = folder / name
        path.write_bytes(libraries[(abi, name)])
        theirs[name] = needed_readelf(READELF, path)
    return ours, theirs


@pytest.mark.parametrize(("bundle_name", "abi", "removed", "transitive"), REMOVALS)
def test_removing_a_needed_library_fails_exactly_its_dependents(
    corpus: dict[str, Path], tmp_path: Path, bundle_name: str, abi: str, removed: str, transitive: bool
) -> None:
    libraries = compose(BUNDLES_BY_NAME[bundle_name], corpus)
    assert (abi, removed) in libraries
    _, before = audit_json("aar", str(write_aar(libraries, tmp_path / "with.aar")), *IGNORE)
    del libraries[(abi, removed)]
    by_pyelftools, by_readelf = _needed_maps(libraries, abi, tmp_path)
    if by_readelf is not None:
        assert by_pyelftools == by_readelf
    needed = by_pyelftools

    code, report = audit_json("aar", str(write_aar(libraries, tmp_path / "without.aar")), *IGNORE)
    assert code == 1
    direct = {name for name, names in needed.items() if removed in names}
    assert direct, f"nothing in {abi} needs {removed}: not a useful removal"
    expected_new = {("missing-library", abi, name, removed) for name in direct}
    assert errors(report) - errors(before) == expected_new
    assert {e for e in errors(before) if e[0] == "missing-library"} <= errors(report)

    # Every library whose DT_NEEDED closure reaches the removed one fails: the direct needers
    # (one finding each) and, as `affected` of the finding bionic's message names, the rest.
    needers = first_needers(needed, removed)
    findings = {
        f["library"]: f
        for f in report["findings"]
        if f["rule"] == "missing-library" and f["needed"] == removed
    }
    assert set(findings) == direct
    for needer, finding in findings.items():
        assert set(finding["affected"]) == {
            root for root, via in needers.items() if via == needer and root != needer
        }
    failing = set(findings) | {root for f in findings.values() for root in f["affected"]}
    assert failing == set(needers)
    assert (failing > direct) == transitive
