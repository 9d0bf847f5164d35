"""Identification, compatibility, suggestions and the symbol diff, on the fixture references."""

from __future__ import annotations

import hashlib
from pathlib import Path

from symaudit.elf.reader import read_elf
from symaudit.maven.coordinates import Coordinate
from symaudit.references.families import is_family_symbol, modules_for
from symaudit.references.identify import compatible, describe_versions, identify
from symaudit.references.manifest import ReferenceManifest, build_manifest, from_json, to_json
from symaudit.references.symbols import base_of, qualified_name, same_function
from symaudit.symbol_diff import diff_tables

ROOT = Path(__file__).resolve().parents[2]
MAVEN = ROOT / "fixtures" / "maven"
LIBS = ROOT / "fixtures" / "libs"
TORCH_LOAD_OLD = (
    "_ZN5torch3jit4loadERKNSt6__ndk112basic_stringIcNS1_11char_traitsIcEENS1_9allocatorIcEEEE"
    "N3c108optionalINSA_6DeviceEEE"
)


def manifest(module: str, version: str) -> ReferenceManifest:
    coordinate = Coordinate.parse(f"{module}:{version}")
    path = MAVEN / coordinate.path
    return build_manifest(coordinate, path, hashlib.sha256(path.read_bytes()).hexdigest())


def torch_manifests() -> list[ReferenceManifest]:
    return [manifest("org.pytorch:pytorch_android", v) for v in ("1.10.0", "1.13.1", "2.1.0")]


def test_manifest_round_trips_through_json() -> None:
    built = manifest("org.pytorch:pytorch_android_lite", "2.1.0")
    assert from_json(to_json(built)) == built
    assert built.abis == ("arm64-v8a", "armeabi-v7a", "x86", "x86_64")
    lite = built.library("arm64-v8a", "libpytorch_jni_lite.so")
    assert lite is not None and lite.ndk == "r26b" and "libfbjni.so" in lite.needed
    assert from_json({"schema": "something else"}) is None


def test_shipped_runtime_is_an_exact_match_and_an_unknown_build_the_closest() -> None:
    refs = torch_manifests()
    data = (LIBS / "arm64-v8a/runtime-new/libpytorch_jni.so").read_bytes()
    exports = read_elf(data).exports.name_set
    found = identify("arm64-v8a", "libpytorch_jni.so", hashlib.sha256(data).hexdigest(), exports, refs)
    assert found is not None and (str(found.coordinate), found.match) == (
        "org.pytorch:pytorch_android:2.1.0",
        "exact",
    )
    # The 1.13.1 runtime, but rebuilt (another sha256): closest by exports, and 1.13.1 beats 1.10.0.
    old = read_elf((LIBS / "arm64-v8a/runtime-old/libpytorch_jni.so").read_bytes()).exports.name_set
    found = identify("arm64-v8a", "libpytorch_jni.so", "0" * 64, old, refs)
    assert found is not None and (str(found.coordinate), found.match, found.similarity) == (
        "org.pytorch:pytorch_android:1.13.1",
        "closest",
        1.0,
    )
    assert identify("arm64-v8a", "libpytorch_jni.so", None, frozenset({"unrelated"}), refs) is None
    assert identify("riscv64", "libpytorch_jni.so", None, old, refs) is None


def test_old_consumer_fits_the_1x_references_only() -> None:
    wenet = read_elf((LIBS / "x86/wenet-old/libwenet.so").read_bytes())
    imports = [n for n in wenet.imports.names if is_family_symbol(n)]
    assert TORCH_LOAD_OLD in imports
    fits = compatible("x86", imports, torch_manifests())
    assert [str(c) for c in fits] == [
        "org.pytorch:pytorch_android:1.10.0",
        "org.pytorch:pytorch_android:1.13.1",
    ]
    assert describe_versions(fits) == "org.pytorch:pytorch_android 1.10.0 .. 1.13.1"


def test_same_function_finds_the_other_signature() -> None:
    new = read_elf((LIBS / "arm64-v8a/runtime-new/libpytorch_jni.so").read_bytes())
    assert same_function(TORCH_LOAD_OLD, new.exports.names) == [TORCH_LOAD_OLD + "b"]
    assert qualified_name(TORCH_LOAD_OLD) == "torch::jit::load"
    assert base_of("c10::IValue torch::f<int>(int)") == "torch::f<int>"
    assert base_of("foo::operator()(int) const") == "foo::operator()"
    assert qualified_name("malloc") == "malloc"


def test_modules_follow_the_runtimes_present() -> None:
    assert [
        str(m) for m in modules_for(["libwenet.so", "libpytorch_jni.so", "libfbjni.so", "libc++_shared.so"])
    ] == ["org.pytorch:pytorch_android", "com.facebook.fbjni:fbjni"]
    assert modules_for(["libc++_shared.so", "libfoo.so"]) == ()
    assert [str(m) for m in modules_for(["libpytorch_jni_lite.so"])] == [
        "org.pytorch:pytorch_android_lite",
        "com.facebook.fbjni:fbjni",
    ]


def test_diff_groups_signature_changes_by_qualified_name() -> None:
    old = {TORCH_LOAD_OLD: None, "_ZN3c106detail19deprecated_AT_ERROREv": None, "same": "V1"}
    new = {TORCH_LOAD_OLD + "b": None, "_ZNK3c106SymInt9guard_intEPKcl": None, "same": "V2"}
    table = diff_tables(old, new)
    assert [(c.name, c.removed, c.added) for c in table.changed] == [
        ("torch::jit::load", (TORCH_LOAD_OLD,), (TORCH_LOAD_OLD + "b",))
    ]
    assert table.removed == ("_ZN3c106detail19deprecated_AT_ERROREv",)
    assert table.added == ("_ZNK3c106SymInt9guard_intEPKcl",)
    assert table.reversioned == (("same", "V1", "V2"),) and table.unchanged == 0
