"""Issue 11's real cases in the corpus, and the facts about them from llvm-readelf alone.

* react-native 0.70.6 + jsc-android 250231: ``libjscexecutor.so`` imports ``_Unwind_Resume`` on
  arm64-v8a, x86 and x86_64 and no packaged library defines it (bionic's libc exports it from
  API 30 only, REFERENCE.md §4.4), react-native PR #36062;
* two ``libc++_shared.so`` swaps between vendors that load: every symbol the libraries took from
  their own vendor's copy is exported by the other vendor's copy, built by another NDK;
* ``libnode.so`` of nodejs-mobile-react-native 18.20.4 (NDK r24) imports ``__emutls_get_address``,
  which react-native's r21e ``libc++_shared.so`` does not export.

What symaudit must say about them at each minSdk is the platform layer's (issue 11 items 2-4);
here symaudit is held only to what its linker core already gets right.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.corpus.aars import (
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
from tests.corpus.maven import ABIS, pinned, readelf_symbols
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
