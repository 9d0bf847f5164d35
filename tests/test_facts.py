"""symaudit/facts.py: the one loader of symaudit/data, and the facts that used to be literals."""

from __future__ import annotations

import json

import pytest

from symaudit import facts


def test_every_data_file_names_its_source() -> None:
    for path in sorted(facts.DATA.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        assert data.get("source") or data.get("about"), path.name


def test_abi_names_current_first_then_legacy() -> None:
    assert facts.current_abis() == ("arm64-v8a", "armeabi-v7a", "x86", "x86_64", "riscv64")
    assert facts.legacy_abis() == ("armeabi", "mips", "mips64")


def test_sixteen_k_abis_and_the_first_64_bit_api() -> None:
    assert facts.sixteen_k_abis() == frozenset({"arm64-v8a", "x86_64"})
    assert facts.first_64_bit_api() == 21


@pytest.mark.parametrize(
    ("machine", "name"),
    [
        (3, "EM_386"),
        (8, "EM_MIPS"),
        (40, "EM_ARM"),
        (62, "EM_X86_64"),
        (183, "EM_AARCH64"),
        (243, "EM_RISCV"),
    ],
)
def test_machine_names_as_bionic_prints_them(machine: int, name: str) -> None:
    assert facts.machine_name(machine) == name


def test_unknown_machine_prints_as_bionic_does() -> None:
    assert facts.machine_name(999) == "EM_???"


def test_abi_for_machine_ignores_legacy_abis() -> None:
    assert facts.abi_for_machine(40, 32) == "armeabi-v7a"
    assert facts.abi_for_machine(8, 32) is None
    assert facts.abi_for_machine(183, 64) == "arm64-v8a"


def test_every_current_abi_names_its_map_file_architecture() -> None:
    arches = {abi: facts.abi_specs()[abi].arch for abi in facts.current_abis()}
    assert arches == {
        "arm64-v8a": "arm64",
        "armeabi-v7a": "arm",
        "x86": "x86",
        "x86_64": "x86_64",
        "riscv64": "riscv64",
    }


def test_api_gates_are_reference_md_3_5() -> None:
    assert facts.api_gates() == {
        "text_relocations_fatal": 23,
        "gnu_hash": 23,
        "android_relr": 28,
        "elf_tls": 29,
        "relr": 30,
        "symbol_versioning": 23,
        "section_headers_fatal": 24,
        "elf_header_target_sdk": 26,
        "needed_path_target_sdk": 23,
    }


def test_torch_runtime_names_keep_the_family_rule() -> None:
    from symaudit.references.families import RUNTIME_NAMES

    for name in ("libpytorch_jni.so", "libpytorch_jni_lite.so", "libtorch_cpu.so", "libtorch_anything.so"):
        assert RUNTIME_NAMES.match(name), name
    for name in (
        "libfbjni.so",
        "libc++_shared.so",
        "libtorch.so.1",
        "mylibtorch.so",
        "libpytorch_jni_lite2.so",
    ):
        assert not RUNTIME_NAMES.match(name), name
    assert set(facts.torch_runtime_libraries()) >= {"libpytorch_jni.so", "libtorch_cpu.so"}
