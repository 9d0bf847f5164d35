"""The platform symbol table answers the facts REFERENCE.md §4.4 marks as verified."""

from __future__ import annotations

import pytest

from symaudit.analysis.platform_libs import platform_libs
from symaudit.analysis.platform_symbols import platform_symbols

ABIS = ("arm64-v8a", "armeabi-v7a", "x86", "x86_64")
TABLE = platform_symbols()


@pytest.mark.parametrize("abi", ABIS)
def test_aligned_alloc_arrives_with_api_28_in_libc_p(abi: str) -> None:
    found = TABLE.export("libc.so", "aligned_alloc", abi)
    assert found is not None and found.node == "LIBC_P" and found.stub
    assert TABLE.introduced("libc.so", "aligned_alloc", abi) == 28
    assert not TABLE.exported_at("libc.so", "aligned_alloc", abi, 27)
    assert TABLE.exported_at("libc.so", "aligned_alloc", abi, 28)


@pytest.mark.parametrize("abi", ABIS)
def test_getifaddrs_and_in6addr_any_arrive_with_api_24_on_every_arch(abi: str) -> None:
    assert TABLE.introduced("libc.so", "getifaddrs", abi) == 24
    var = TABLE.export("libc.so", "in6addr_any", abi)
    assert var is not None and var.variable and var.introduced == 24 and var.node == "LIBC_N"


@pytest.mark.parametrize("abi", ABIS)
def test_register_atfork_is_api_23(abi: str) -> None:
    assert TABLE.introduced("libc.so", "__register_atfork", abi) == 23


@pytest.mark.parametrize("abi", ABIS)
def test_unwind_resume_is_exported_by_libc_from_api_30_in_libc_r(abi: str) -> None:
    found = TABLE.export("libc.so", "_Unwind_Resume", abi)
    assert found is not None and found.node == "LIBC_R" and found.introduced == 30 and found.stub
    assert not TABLE.exported_at("libc.so", "_Unwind_Resume", abi, 29)
    assert TABLE.exported_at("libc.so", "_Unwind_Resume", abi, 30)
    assert [e.library for e in TABLE.providers("_Unwind_Resume", abi)] == ["libc.so"]


def test_32_bit_arm_libc_exported_the_unwinder_privately_until_android_11() -> None:
    private = [e for e in TABLE.exports("libc.so", "_Unwind_Resume", "armeabi-v7a") if e.private]
    assert [(e.node, e.removed) for e in private] == [("LIBC_PRIVATE", 30)]
    assert private[0].at(29) and not private[0].at(30)
    assert not any(e.private for e in TABLE.exports("libc.so", "_Unwind_Resume", "arm64-v8a"))
    # libgcc's internal names went away for good with the same change.
    (gone,) = TABLE.exports("libc.so", "___Unwind_Resume", "armeabi-v7a")
    assert gone.private and gone.removed == 30
    assert TABLE.introduced("libc.so", "___Unwind_Resume", "armeabi-v7a") is None


@pytest.mark.parametrize("abi", ABIS)
def test_emutls_get_address_is_exported_by_no_platform_library(abi: str) -> None:
    assert TABLE.providers("__emutls_get_address", abi) == ()
    for library in TABLE.libraries():
        assert TABLE.exports(library, "__emutls_get_address", abi) == ()
        assert not TABLE.exported_at(library, "__emutls_get_address", abi, 10_000)


@pytest.mark.parametrize("abi", ABIS)
@pytest.mark.parametrize("symbol", ["__cxa_atexit", "__cxa_finalize"])
def test_cxa_atexit_and_finalize_come_from_libc(abi: str, symbol: str) -> None:
    found = TABLE.export("libc.so", symbol, abi)
    assert found is not None and found.node == "LIBC" and found.stub
    assert TABLE.exported_at("libc.so", symbol, abi, 21)
    assert [e.library for e in TABLE.providers(symbol, abi)] == ["libc.so"]


def test_untagged_libc_symbols_start_with_the_abi() -> None:
    assert TABLE.introduced("libc.so", "__cxa_atexit", "arm64-v8a") == 21
    assert TABLE.introduced("libc.so", "__cxa_atexit", "x86_64") == 21
    assert TABLE.introduced("libc.so", "__cxa_atexit", "armeabi-v7a") == 1


def test_arm_only_symbols_exist_only_on_armeabi_v7a() -> None:
    vrs = TABLE.export("libc.so", "_Unwind_VRS_Get", "armeabi-v7a")
    assert vrs is not None and vrs.introduced == 30
    for abi in ("arm64-v8a", "x86", "x86_64", "riscv64"):
        assert TABLE.export("libc.so", "_Unwind_VRS_Get", abi) is None
    memcpy = TABLE.export("libc.so", "__aeabi_memcpy", "armeabi-v7a")
    assert memcpy is not None and memcpy.node == "LIBC_N" and memcpy.versioned == 24
    assert TABLE.exported_at("libc.so", "__aeabi_memcpy", "armeabi-v7a", 21)
    assert TABLE.export("libc.so", "__aeabi_memcpy", "arm64-v8a") is None


def test_forced_unwind_is_on_every_arch_but_32_bit_arm() -> None:
    for abi in ("arm64-v8a", "x86", "x86_64"):
        assert TABLE.introduced("libc.so", "_Unwind_ForcedUnwind", abi) == 30
    assert TABLE.introduced("libc.so", "_Unwind_ForcedUnwind", "armeabi-v7a") is None


def test_32_bit_only_symbols_are_absent_from_64_bit_libc() -> None:
    # LIBC: "__fcntl64; # arm x86"
    for abi in ("armeabi-v7a", "x86"):
        assert TABLE.introduced("libc.so", "__fcntl64", abi) == 1
    for abi in ("arm64-v8a", "x86_64", "riscv64"):
        assert TABLE.export("libc.so", "__fcntl64", abi) is None


def test_apex_entries_are_device_exports_that_the_stubs_hide() -> None:
    found = TABLE.export("libc.so", "malloc_disable", "arm64-v8a")
    assert found is not None and not found.stub and not found.private and found.introduced == 29
    assert TABLE.exported_at("libc.so", "malloc_disable", "arm64-v8a", 29)
    assert not TABLE.exported_at("libc.so", "malloc_disable", "arm64-v8a", 29, stub_only=True)


def test_private_nodes_are_not_counted_as_exports() -> None:
    found = TABLE.export("libc.so", "__system_property_add", "arm64-v8a", include_private=True)
    assert found is not None and found.private and found.node == "LIBC_PLATFORM"
    assert not TABLE.exported_at("libc.so", "__system_property_add", "arm64-v8a", 36)
    assert TABLE.introduced("libc.so", "__system_property_add", "arm64-v8a") is None


def test_other_libraries_answer_too() -> None:
    assert TABLE.introduced("liblog.so", "__android_log_print", "arm64-v8a") == 21
    assert TABLE.introduced("libandroid.so", "AChoreographer_postFrameCallback64", "arm64-v8a") == 29
    assert TABLE.introduced("libmediandk.so", "AMediaCodec_createCodecByName", "armeabi-v7a") == 21
    assert (
        TABLE.introduced("libvulkan.so", "vkCreateInstance", "armeabi-v7a") == 24
    )  # the library's first API
    assert TABLE.introduced("libbinder_ndk.so", "AIBinder_Class_define", "x86_64") == 29
    assert TABLE.introduced("libz.so", "inflate", "x86") == 1
    assert TABLE.export("libz.so", "inflate", "x86") is not None


# REFERENCE.md 3.4 (bionic libc/libstdc++.map.txt, node LIBC_O): the platform libstdc++.so
# exports only these; the resolver now reads them from the table (platform_libs.json's old list went).
LIBSTDCXX = {"_ZSt7nothrow", "_ZdaPv", "_ZdaPvRKSt9nothrow_t", "_ZdlPv", "_ZdlPvRKSt9nothrow_t", "_Znaj", "_ZnajRKSt9nothrow_t", "_Znam", "_ZnamRKSt9nothrow_t", "_Znwj", "_ZnwjRKSt9nothrow_t", "_Znwm", "_ZnwmRKSt9nothrow_t", "__cxa_guard_abort", "__cxa_guard_acquire", "__cxa_guard_release", "__cxa_pure_virtual"}


def test_libstdcxx_table_holds_only_the_few_names_the_platform_exports() -> None:
    names = TABLE.names("libstdc++.so", "arm64-v8a", 36) | TABLE.names("libstdc++.so", "armeabi-v7a", 36)
    assert names == LIBSTDCXX


def test_every_public_ndk_library_has_a_table_with_a_named_source() -> None:
    assert set(platform_libs().public) <= set(TABLE.libraries())
    for library in TABLE.libraries():
        source = TABLE.source(library)
        assert source.repo.count("/") == 1 and len(source.commit) == 40 and source.path.endswith(".map.txt")
        assert len(source.sha256) == 64 and 30 <= source.snapshot_api <= 36


def test_names_at_a_level_grow_with_the_level() -> None:
    at_21 = TABLE.names("libc.so", "arm64-v8a", 21)
    at_30 = TABLE.names("libc.so", "arm64-v8a", 30)
    assert "_Unwind_Resume" in at_30 - at_21 and "aligned_alloc" in at_30 - at_21
    assert at_21 < at_30
