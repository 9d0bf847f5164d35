from __future__ import annotations

from symaudit.analysis.linker import defines, load_group, resolve_abi
from tests.analysis.models import library

TORCH_LOAD_OLD = "_ZN5torch3jit4loadERKNSt6__ndk112basic_stringIcNS1_11char_traitsIcEENS1_9allocatorIcEEEEN3c108optionalINSA_6DeviceEEE"
TORCH_LOAD_NEW = TORCH_LOAD_OLD + "b"


def wenet_app(runtime_exports: list[str]) -> dict:
    return {
        "libwenet.so": library(
            needed=["libpytorch_jni.so", "libfbjni.so", "libc++_shared.so", "liblog.so", "libc.so"],
            imports=[TORCH_LOAD_OLD, "_ZN8facebook3jni11Environment7currentEv", "malloc"],
            weak_imports=["__cxa_thread_atexit_impl_weak_only"],
        ),
        "libpytorch_jni.so": library(
            needed=["libfbjni.so", "libc++_shared.so", "libc.so"], exports=runtime_exports
        ),
        "libfbjni.so": library(
            needed=["liblog.so", "libc++_shared.so", "libc.so"],
            exports=["_ZN8facebook3jni11Environment7currentEv", "JNI_OnLoad"],
        ),
        "libc++_shared.so": library(needed=["libc.so", "libdl.so"], exports=["__cxa_throw"]),
    }


def test_load_group_is_breadth_first_with_platform_libraries_in_order() -> None:
    group = load_group("libwenet.so", wenet_app([TORCH_LOAD_OLD]))
    assert group.order == (
        "libwenet.so",
        "libpytorch_jni.so",
        "libfbjni.so",
        "libc++_shared.so",
        "liblog.so",
        "libc.so",
        "libdl.so",
    )
    assert group.platform == ("liblog.so", "libc.so", "libdl.so")
    assert group.loads


def test_old_headers_against_new_runtime_leave_torch_jit_load_unresolved() -> None:
    groups, findings = resolve_abi("arm64-v8a", wenet_app([TORCH_LOAD_NEW]))
    assert [(f.rule, f.library, f.symbol) for f in findings] == [
        ("unresolved-symbol", "libwenet.so", TORCH_LOAD_OLD)
    ]
    finding = findings[0]
    assert finding.demangled is not None and finding.demangled.startswith("torch::jit::load(")
    assert finding.searched == groups["libwenet.so"].order
    assert (
        finding.message
        == f'dlopen failed: cannot locate symbol "{TORCH_LOAD_OLD}" referenced by "libwenet.so"'
    )


def test_matching_runtime_resolves_everything_and_weak_import_may_stay_unresolved() -> None:
    _, findings = resolve_abi("arm64-v8a", wenet_app([TORCH_LOAD_OLD]))
    assert findings == []


def test_missing_library_is_reported_once_with_the_libraries_it_breaks() -> None:
    app = wenet_app([TORCH_LOAD_NEW])
    del app["libfbjni.so"]
    _, findings = resolve_abi("arm64-v8a", app)
    # No unresolved-symbol: the loader fails on the missing library first.
    assert sorted((f.rule, f.library, f.needed) for f in findings) == [
        ("missing-library", "libpytorch_jni.so", "libfbjni.so"),
        ("missing-library", "libwenet.so", "libfbjni.so"),
    ]
    runtime = next(f for f in findings if f.library == "libpytorch_jni.so")
    assert runtime.affected == ()
    assert 'library "libfbjni.so" not found' in runtime.message


def test_missing_library_deep_in_closure_names_the_roots_that_fail() -> None:
    app = {
        "liba.so": library(needed=["libb.so"]),
        "libb.so": library(needed=["libgone.so"]),
    }
    _, findings = resolve_abi("x86", app)
    assert [(f.library, f.needed, f.affected) for f in findings] == [("libb.so", "libgone.so", ("liba.so",))]


def test_unloadable_dependency_blocks_symbol_checks() -> None:
    app = {"liba.so": library(needed=["libbroken.so"], imports=["_ZN3foo3barEv"])}
    groups, findings = resolve_abi("x86", app, unloadable=["libbroken.so"])
    assert findings == []
    assert groups["liba.so"].unloadable == ("libbroken.so",)


def test_c_symbol_presumed_from_platform_only_when_group_reaches_one() -> None:
    with_libc = {"liba.so": library(needed=["libc.so"], imports=["aligned_alloc"])}
    assert resolve_abi("x86", with_libc)[1] == []
    without = {"liba.so": library(needed=[], imports=["aligned_alloc"])}
    assert [f.symbol for f in resolve_abi("x86", without)[1]] == ["aligned_alloc"]


def test_cxx_runtime_symbols_are_never_presumed_from_platform() -> None:
    app = {
        "liba.so": library(
            needed=["libc.so", "libstdc++.so"],
            imports=["__cxa_throw", "_ZNSt6__ndk14cout", "_Znwm", "__cxa_guard_acquire", "__cxa_atexit"],
        )
    }
    _, findings = resolve_abi("arm64-v8a", app)
    # operator new and the guard come from the platform libstdc++.so, __cxa_atexit from libc.so;
    # __cxa_throw and std::__ndk1 only from libc++_shared.so.
    assert sorted(f.symbol for f in findings) == ["_ZNSt6__ndk14cout", "__cxa_throw"]


def test_operator_new_needs_libstdcxx_in_the_group() -> None:
    app = {"liba.so": library(needed=["libc.so"], imports=["_Znwm"])}
    assert [f.symbol for f in resolve_abi("arm64-v8a", app)[1]] == ["_Znwm"]


def test_symbol_defined_outside_the_closure_gets_a_link_hint() -> None:
    app = {
        "liba.so": library(needed=["libc.so"], imports=["_ZN3foo3barEv"]),
        "libfoo.so": library(needed=["libc.so"], exports=["_ZN3foo3barEv"]),
    }
    _, findings = resolve_abi("arm64-v8a", app)
    assert len(findings) == 1
    assert "libfoo.so defines it but is not in liba.so's DT_NEEDED closure" in findings[0].hint


def test_versioned_reference_follows_bionic_rules() -> None:
    provider = library(
        exports=[("f", "V2", False), ("g", None, False), ("h", "V1", True)], versions_defined=["V1", "V2"]
    )
    assert defines(provider, "f", "V2")
    assert not defines(provider, "f", "V1")  # provider defines V1, but f is at V2
    assert defines(provider, "g", "V3")  # V3 unknown to provider: unversioned definitions match
    assert not defines(provider, "f", "V3")  # ...and versioned ones do not
    assert defines(provider, "f", None)  # unversioned reference: any non-hidden definition
    assert not defines(provider, "h", None)  # hidden (f@V1, not f@@V1) does not match unversioned
    assert defines(provider, "h", "V1")
    unversioned = library(exports=["f"])
    assert defines(unversioned, "f", "LIBC")  # no versym table: anything matches


def test_platform_imports_are_judged_by_the_table_with_bionic_version_matching() -> None:
    # bionic libc.map.txt: getifaddrs is LIBC_N (arm64: 24); aligned_alloc LIBC_P (28); malloc LIBC.
    app = {
        "liba.so": library(
            needed=["libc.so"],
            imports=[
                ("getifaddrs", "LIBC_N", "libc.so"),
                ("aligned_alloc", None, None),
                ("malloc", "LIBC", "libc.so"),
                ("__some_new_libc_fn", "LIBC_O", "libc.so"),
            ],
        )
    }
    groups, findings = resolve_abi("arm64-v8a", app)
    # A name no platform library of the group exports at any level is a load failure.
    assert [(f.rule, f.symbol, f.version) for f in findings] == [
        ("unresolved-symbol", "__some_new_libc_fn", "LIBC_O")
    ]
    met = {item.symbol: item.providers for item in groups["liba.so"].platform_imports}
    assert met["getifaddrs"] == (("libc.so", ((24, None),)),)
    assert met["aligned_alloc"] == (("libc.so", ((28, None),)),)
    assert met["malloc"] == (("libc.so", ((21, None),)),)
    assert groups["liba.so"].unresolved == ("__some_new_libc_fn",)


def test_a_reference_to_another_version_node_matches_only_where_devices_ignore_versions() -> None:
    # malloc is LIBC in libc.so; a reference to malloc@LIBC_O matches nothing from API 23.
    app = {"liba.so": library(needed=["libc.so"], imports=[("malloc", "LIBC_O", "libc.so")])}
    groups, findings = resolve_abi("armeabi-v7a", app)
    assert findings == []
    assert groups["liba.so"].platform_imports[0].providers[0][1] == ((1, 23),)


def test_c_runtime_names_are_not_presumed_platform_by_their_shape() -> None:
    # __emutls_get_address: libc never exports it (REFERENCE.md 4.4); __cxa_atexit: libc does.
    app = {
        "liba.so": library(
            needed=["libc.so", "libc++_shared.so"],
            imports=["__emutls_get_address", ("__cxa_atexit", "LIBC", "libc.so"), "__cxa_throw"],
        ),
        "libc++_shared.so": library(needed=["libc.so"], exports=["__cxa_throw"]),
    }
    _, findings = resolve_abi("arm64-v8a", app)
    assert [(f.rule, f.symbol) for f in findings] == [("unresolved-symbol", "__emutls_get_address")]


def test_an_import_absent_from_a_table_that_stops_early_is_not_called_a_crash() -> None:
    # libandroid.so's source stops at API 30: a symbol absent from it may be a later addition.
    app = {"liba.so": library(needed=["libandroid.so", "libc.so"], imports=["ANewerFunction"])}
    groups, findings = resolve_abi("arm64-v8a", app, api=31)
    assert findings == []
    assert [(u.symbol, u.libraries) for u in groups["liba.so"].unchecked] == [("ANewerFunction", ("libandroid.so",))]
    # Judged at API 30 or below, the table covers every level a device at minSdk has: it fails there.
    _, findings = resolve_abi("arm64-v8a", app, api=30)
    assert [(f.rule, f.symbol) for f in findings] == [("unresolved-symbol", "ANewerFunction")]


def test_the_device_libc_brings_libdl_into_the_group() -> None:
    # bionic libc/Android.bp: the device's libc.so needs libdl.so, so an app library that needs only
    # libc.so still finds dl_iterate_phdr (libdl.map.txt, node LIBC) in its load group.
    app = {"liba.so": library(needed=["libc.so"], imports=[("dl_iterate_phdr", "LIBC", "libc.so")])}
    groups, findings = resolve_abi("arm64-v8a", app)
    assert findings == []
    assert groups["liba.so"].order == ("liba.so", "libc.so", "libdl.so")
    assert groups["liba.so"].platform_imports[0].providers == (("libdl.so", ((21, None),)),)
