"""Issue 11's real cases in the corpus, and the facts about them from llvm-readelf alone.

* react-native 0.70.6 + jsc-android 250231: ``libjscexecutor.so`` imports ``_Unwind_Resume`` on
  arm64-v8a, x86 and x86_64 and no packaged library defines it (bionic's libc exports it from
  API 30 only, REFERENCE.md §4.4), react-native PR #36062;
* two ``libc++_shared.so`` swaps between vendors that load: every symbol the libraries took from
  their own vendor's copy is exported by the other vendor's copy, built by another NDK;
* ``libnode.so`` of nodejs-mobile-react-native 18.20.4 (NDK r24) imports ``__emutls_get_address``,
  which react-native's r21e ``libc++_shared.so`` does not export.

What symaudit must say about them at each minSdk (issue 11 items 2-4) is checked against
facts from llvm-readelf (who imports what, who defines it, the NDK notes) and the platform symbol
table (which API level libc exports the unwinder from), never against symaudit itself.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from symaudit.analysis.platform_symbols import platform_symbols
from tests.corpus.aars import (
    BUNDLES_BY_NAME,
    HERMES_CPPRUNTIME,
    JSC_250231,
    LIBNODE,
    RN_070,
    RN_070_JSC,
    RN_070_JSC_HERMES_CXX,
    Bundle,
    audit_json,
    jni_libraries,
    write_aar,
)
from tests.corpus.maven import ABIS, pinned, readelf_symbols, write_apk
from tests.corpus.test_platform_corpus import _note
from tests.required import need_tools

TORCH_1_13 = "org.pytorch-pytorch_android-1.13.1.aar"
CXX = "libc++_shared.so"


@pytest.fixture(scope="module")
def files() -> dict[str, Path]:
    need_tools("llvm-readelf-19")
    return pinned(RN_070, JSC_250231, LIBNODE, HERMES_CPPRUNTIME, TORCH_1_13)


def compose(bundle: Bundle, files: dict[str, Path]) -> dict[tuple[str, str], bytes]:
    libraries: dict[tuple[str, str], bytes] = {}
    for aar in bundle.aars:
        for key, data in jni_libraries(files[aar]).items():
            if key[1] not in bundle.dropped:
                libraries.setdefault(key, data)
    return libraries


def test_libjscexecutor_imports_unwind_resume_that_no_packaged_library_defines(
    files: dict[str, Path], tmp_path: Path
) -> None:
    libraries = compose(RN_070_JSC, files)
    importing = set()
    for abi in ABIS:
        defined = set().union(
            *(readelf_symbols(d, tmp_path)[0] for (a, _), d in libraries.items() if a == abi)
        )
        _, imports = readelf_symbols(libraries[abi, "libjscexecutor.so"], tmp_path)
        assert "_Unwind_Resume" not in defined, abi
        if "_Unwind_Resume" in imports:
            importing.add(abi)
    assert importing == {"arm64-v8a", "x86", "x86_64"}  # 32-bit ARM unwinds with __gnu_unwind/EHABI


def _ndk(readelf: str, data: bytes, scratch: Path) -> str | None:
    path = scratch / "note.so"
    path.write_bytes(data)
    return _note(readelf, path)[1]


def _swap_oracle(
    libraries: dict[tuple[str, str], bytes], own: dict[str, bytes], scratch: Path
) -> dict[str, set[str]]:
    """ABI -> symbols the libraries took from their own vendor's libc++_shared.so that the packaged
    one lacks (empty: the swap loads as far as the C++ runtime goes)."""
    missing: dict[str, set[str]] = {}
    for abi in ABIS:
        others = {n: d for (a, n), d in libraries.items() if a == abi and n != CXX}
        defined = set().union(*(readelf_symbols(d, scratch)[0] for d in others.values()))
        imports = set().union(*(readelf_symbols(d, scratch)[1] for d in others.values()))
        taken = (imports & readelf_symbols(own[abi], scratch)[0]) - defined
        assert taken, abi  # the libraries do use the C++ runtime
        missing[abi] = taken - readelf_symbols(libraries[abi, CXX], scratch)[0]
    return missing


def test_react_native_libraries_over_hermes_libcxx_load(
    files: dict[str, Path], readelf: str, tmp_path: Path
) -> None:
    libraries = compose(RN_070_JSC_HERMES_CXX, files)
    own = {abi: jni_libraries(files[RN_070])[abi, CXX] for abi in ABIS}
    hermes = jni_libraries(files[HERMES_CPPRUNTIME])
    for abi in ABIS:
        assert libraries[abi, CXX] == hermes[abi, CXX]
        assert (_ndk(readelf, own[abi], tmp_path), _ndk(readelf, hermes[abi, CXX], tmp_path)) == (
            "r21e",
            "r21b",
        )
    assert _swap_oracle(libraries, own, tmp_path) == {abi: set() for abi in ABIS}

    _, report = audit_json("aar", str(write_aar(libraries, tmp_path / "swap.aar")), "--min-sdk", "30")
    assert not [f for f in report["findings"] if f["rule"] in ("unresolved-symbol", "missing-library")]


def test_pytorch_libraries_over_react_native_libcxx_load(
    files: dict[str, Path], readelf: str, tmp_path: Path
) -> None:
    torch = jni_libraries(files[TORCH_1_13])
    react = jni_libraries(files[RN_070])
    libraries = {**torch, **{(abi, CXX): react[abi, CXX] for abi in ABIS}}
    own = {abi: torch[abi, CXX] for abi in ABIS}
    for abi in ABIS:
        assert (_ndk(readelf, own[abi], tmp_path), _ndk(readelf, react[abi, CXX], tmp_path)) == (
            "r21b",
            "r21e",
        )
    assert _swap_oracle(libraries, own, tmp_path) == {abi: set() for abi in ABIS}

    _, report = audit_json(
        "aar", str(write_aar(libraries, tmp_path / "swap.aar")), "--min-sdk", "21", "--no-references"
    )
    assert not [f for f in report["findings"] if f["rule"] in ("unresolved-symbol", "missing-library")]


def test_libnode_imports_emutls_that_r21e_libcxx_lacks(
    files: dict[str, Path], readelf: str, tmp_path: Path
) -> None:
    libnode = files[LIBNODE].read_bytes()
    cxx = jni_libraries(files[RN_070])["arm64-v8a", CXX]
    exports, imports = readelf_symbols(libnode, tmp_path)
    assert "__emutls_get_address" in imports and "__emutls_get_address" not in exports
    assert "__emutls_get_address" not in readelf_symbols(cxx, tmp_path)[0]
    assert _ndk(readelf, libnode, tmp_path) == "r24"
    assert _ndk(readelf, cxx, tmp_path) == "r21e"


# -- what symaudit says about them (issue 11 "Done when") ------------------------------------------


def _unwind_oracle(libraries: dict[tuple[str, str], bytes], scratch: Path, min_sdk: int) -> dict[str, int]:
    """ABI -> the API level from which libc exports _Unwind_Resume, for each ABI where
    libjscexecutor.so imports it, nothing packaged defines it, and libc lacks it at ``min_sdk``."""
    table = platform_symbols()
    expected = {}
    for abi in ABIS:
        defined = set().union(*(readelf_symbols(d, scratch)[0] for (a, _), d in libraries.items() if a == abi))
        imports = readelf_symbols(libraries[abi, "libjscexecutor.so"], scratch)[1]
        if "_Unwind_Resume" not in imports or "_Unwind_Resume" in defined:
            continue
        first = min(start for start, _ in table.spans("libc.so", "_Unwind_Resume", abi, None))
        if first > max(min_sdk, 21 if "64" in abi else 1):
            expected[abi] = first
    return expected


def _unwind_findings(report: dict) -> dict[str, int]:
    found = {}
    for finding in report["findings"]:
        if finding.get("symbol") == "_Unwind_Resume":
            assert finding["rule"] == "platform-symbol-unavailable" and finding["severity"] == "error"
            assert finding["library"] == "libjscexecutor.so" and finding["provider"] == "libc.so"
            assert finding["message"].startswith(f"libc.so exports _Unwind_Resume from API {finding['introduced']}")
            found[finding["abi"]] = finding["introduced"]
    return found


def _folder(libraries: dict[tuple[str, str], bytes], root: Path) -> Path:
    for (abi, name), data in libraries.items():
        (root / abi).mkdir(parents=True, exist_ok=True)
        (root / abi / name).write_bytes(data)
    return root


@pytest.mark.parametrize("min_sdk", [21, 30])
def test_unwind_resume_is_reported_below_api_30_without_an_ndk(
    files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, min_sdk: int
) -> None:
    for variable in ("ANDROID_NDK_HOME", "ANDROID_NDK_ROOT", "ANDROID_NDK", "NDK_ROOT", "ANDROID_HOME", "ANDROID_SDK_ROOT"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no default SDK location either
    libraries = compose(RN_070_JSC, files)
    expected = _unwind_oracle(libraries, tmp_path, min_sdk)
    assert expected == ({"arm64-v8a": 30, "x86": 30, "x86_64": 30} if min_sdk == 21 else {})
    folder = _folder(libraries, tmp_path / "lib")
    apk = write_apk(tmp_path / "rn070-jsc.apk", libraries)
    for command, path in (("libs", folder), ("apk", apk)):
        _, report = audit_json(command, str(path), "--min-sdk", str(min_sdk), "--no-references")
        assert _unwind_findings(report) == expected, command
        assert "ndk-not-found" not in {f["rule"] for f in report["findings"]}


def test_the_swaps_warn_naming_both_ndk_releases_and_raise_no_error(
    files: dict[str, Path], readelf: str, tmp_path: Path
) -> None:
    torch = jni_libraries(files[TORCH_1_13])
    react = jni_libraries(files[RN_070])
    swaps = {
        "rn-over-hermes-cxx": compose(RN_070_JSC_HERMES_CXX, files),
        "torch-over-rn-cxx": {**torch, **{(abi, CXX): react[abi, CXX] for abi in ABIS}},
    }
    for label, libraries in swaps.items():
        _, report = audit_json(
            "aar", str(write_aar(libraries, tmp_path / f"{label}.aar")), "--min-sdk", "30", "--no-references"
        )
        errors = [f for f in report["findings"] if f["severity"] == "error"]
        assert {f["rule"] for f in errors} <= {"load-align-16k", "zip-align-16k"}, label
        for finding in (f for f in report["findings"] if f["rule"] == "stl-ndk-mismatch"):
            shipped = _ndk(readelf, libraries[finding["abi"], CXX], tmp_path)
            built = _ndk(readelf, libraries[finding["abi"], finding["library"]], tmp_path)
            assert finding["severity"] == "warning"
            assert (finding["built_with"], finding["shipped"]) == (built, shipped)
            assert f"NDK {built}" in finding["message"] and f"NDK {shipped}" in finding["message"]
            assert finding["library"] in finding["message"]


def test_libnode_over_r21e_libcxx_is_an_unresolved_emutls(files: dict[str, Path], readelf: str, tmp_path: Path) -> None:
    cxx = jni_libraries(files[RN_070])["arm64-v8a", CXX]
    libraries = {("arm64-v8a", "libnode.so"): files[LIBNODE].read_bytes(), ("arm64-v8a", CXX): cxx}
    _, report = audit_json("libs", str(_folder(libraries, tmp_path / "lib")), "--min-sdk", "24", "--no-references")
    emutls = [f for f in report["findings"] if f["rule"] != "stl-ndk-mismatch" and f.get("symbol") == "__emutls_get_address"]
    assert [(f["rule"], f["severity"], f["library"]) for f in emutls] == [("unresolved-symbol", "error", "libnode.so")]
    mismatch = [f for f in report["findings"] if f["rule"] == "stl-ndk-mismatch"]
    assert [(f["severity"], f["built_with"], f["shipped"]) for f in mismatch] == [("error", "r24", "r21e")]
    assert "__emutls_get_address" in mismatch[0]["unresolved"]


# Every real combination in the corpus that loads (at the minSdk where it does): the composed app
# bundles, the two libc++_shared.so swaps, and the AARs that are whole by themselves. Only the
# 16 KB rules may be errors there (the libraries predate 16 KB alignment).
SELF_CONTAINED = (
    "com.facebook.fbjni-fbjni-0.2.2.aar",
    HERMES_CPPRUNTIME,
    "jsc-android-294992.0.0-android-jsc-intl.aar",
    "org.pytorch-pytorch_android-1.9.0.aar",
    "org.pytorch-pytorch_android-1.10.0.aar",
    TORCH_1_13,
    "org.pytorch-pytorch_android_lite-1.9.0.aar",
    "org.pytorch-pytorch_android_lite-1.12.2.aar",
)
PAGE_RULES = {"load-align-16k", "zip-align-16k"}


def test_no_error_but_the_16k_rules_on_any_loadable_combination(tmp_path: Path) -> None:
    from tests.corpus.aars import HERMES_DEBUG, HERMES_RELEASE, RN

    corpus = pinned(RN, HERMES_RELEASE, HERMES_DEBUG, RN_070, JSC_250231, HERMES_CPPRUNTIME, *SELF_CONTAINED)
    torch = jni_libraries(corpus[TORCH_1_13])
    react = jni_libraries(corpus[RN_070])
    combinations: dict[str, tuple[Path, tuple[str, ...]]] = {
        name: (corpus[name], ()) for name in SELF_CONTAINED
    }
    for name in ("rn-hermes-release", "rn-hermes-debug"):
        libraries = compose(BUNDLES_BY_NAME[name], corpus)
        combinations[name] = (write_aar(libraries, tmp_path / f"{name}.aar"), ("--min-sdk", "21"))
    # react-native 0.70.6 + JSC 250231 loads from API 30 (libc's unwinder); below, see the test above.
    for bundle in (RN_070_JSC, RN_070_JSC_HERMES_CXX):
        path = write_aar(compose(bundle, corpus), tmp_path / f"{bundle.name}.aar")
        combinations[bundle.name] = (path, ("--min-sdk", "30"))
    swap = {**torch, **{(abi, CXX): react[abi, CXX] for abi in ABIS}}
    combinations["torch-over-rn-cxx"] = (write_aar(swap, tmp_path / "torch-swap.aar"), ("--min-sdk", "21"))
    for name, (path, args) in combinations.items():
        _, report = audit_json("aar", str(path), *args, "--no-references")
        errors = {(f["rule"], f["abi"], f["library"]) for f in report["findings"] if f["severity"] == "error"}
        assert {rule for rule, _, _ in errors} <= PAGE_RULES, (name, sorted(errors)[:5])
        assert all(lib.get("error") is None for lib in report["libraries"]), name
