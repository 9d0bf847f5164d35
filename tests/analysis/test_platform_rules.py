"""The platform rules as functions of an in-memory ABI: hand-built models, the real link resolver,
no subprocess. ``test_platform_rules_cli.py`` runs the same rules end to end on built fixtures."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path

from symaudit.analysis import platform_rules as pr
from symaudit.analysis.context import AbiContext
from symaudit.analysis.linker import resolve_abi
from symaudit.containers.base import LibraryEntry, PackageKind
from symaudit.elf.model import PF_X, PT_GNU_STACK, PT_LOAD, PT_TLS, ElfLibrary, Note, Segment
from symaudit.findings import Finding, Severity
from symaudit.ndk import find_ndk
from symaudit.results import AppFacts, InputRecord, LibraryRecord, Report

from .models import library

ROOT = Path(__file__).resolve().parents[2]
FAKE_NDK = ROOT / "fixtures" / "platform" / "ndk"
LIBC = ("malloc", "LIBC", "libc.so")


def context(
    libs: Mapping[str, ElfLibrary],
    abi: str = "arm64-v8a",
    min_sdk: int | None = 21,
    target_sdk: int | None = 34,
    kind: PackageKind = PackageKind.APK,
    entries: Mapping[str, LibraryEntry] | None = None,
    extract: bool | None = None,
) -> AbiContext:
    paths = {name: f"lib/{abi}/{name}" for name in libs}
    groups, _ = resolve_abi(abi, libs, (), paths)
    app = AppFacts(min_sdk=min_sdk, target_sdk=target_sdk, extract_native_libs=extract, min_sdk_source="--min-sdk")
    default_entries = {name: LibraryEntry(abi, path, name, 1, data_offset=0) for name, path in paths.items()}
    return AbiContext(abi, libs, (), paths, groups, entries or default_entries, app, kind)


def lib(
    soname: str | None = "liba.so",
    needed: Iterable[str] = ("libc.so",),
    tags: Iterable[int] = (),
    segments: Iterable[Segment] = (),
    api: int | None = None,
    ndk: str | None = None,
    exports: Iterable[str] = (),
    imports: Iterable[object] = (LIBC,),
) -> ElfLibrary:
    model = library(needed=needed, exports=exports, imports=imports, soname=soname)  # type: ignore[arg-type]
    notes = ()
    if api is not None:
        desc = api.to_bytes(4, "little") + (ndk or "").encode().ljust(64, b"\0") + bytes(64)
        notes = (Note("Android", 1, desc),)
    return replace(model, dynamic_tags=frozenset(tags), segments=tuple(segments), notes=notes)


def segment(kind: int, flags: int = 4, align: int = 16384) -> Segment:
    return Segment(kind, flags, 0, 0, 0x100, 0x100, align)


def rules(findings: Iterable[Finding]) -> list[tuple[str, str | None, Severity]]:
    return [(f.rule, f.library, f.severity) for f in findings]


def test_missing_soname_is_a_warning_and_a_named_library_is_clean() -> None:
    assert rules(pr.elf_features(context({"liba.so": lib(soname=None)}))) == [
        ("missing-soname", "liba.so", Severity.WARNING)
    ]
    assert rules(pr.elf_features(context({"liba.so": lib()}))) == []


def test_executable_stack_needs_pf_x_on_pt_gnu_stack() -> None:
    stacked = lib(segments=[segment(PT_GNU_STACK, flags=6 | PF_X)])
    assert rules(pr.elf_features(context({"liba.so": stacked}))) == [
        ("executable-stack", "liba.so", Severity.WARNING)
    ]
    assert rules(pr.elf_features(context({"liba.so": lib(segments=[segment(PT_GNU_STACK, flags=6)])}))) == []


def test_text_relocations_are_an_error_unless_the_app_is_older_than_api_23_throughout() -> None:
    textrel = {"liba.so": lib(tags=[pr.DT_TEXTREL])}
    assert rules(pr.elf_features(context(textrel, min_sdk=23))) == [
        ("text-relocations", "liba.so", Severity.ERROR)
    ]
    assert rules(pr.elf_features(context(textrel, abi="x86", min_sdk=21, target_sdk=22))) == [
        ("text-relocations", "liba.so", Severity.WARNING)
    ]


def test_gnu_hash_alone_fails_below_api_23_and_warns_when_min_sdk_is_unknown() -> None:
    gnu = {"liba.so": lib(tags=[pr.DT_GNU_HASH])}
    assert rules(pr.elf_features(context(gnu, abi="x86", min_sdk=21))) == [
        ("gnu-hash-without-sysv-hash", "liba.so", Severity.ERROR)
    ]
    assert rules(pr.elf_features(context(gnu, min_sdk=None))) == [
        ("gnu-hash-without-sysv-hash", "liba.so", Severity.WARNING)
    ]
    assert rules(pr.elf_features(context(gnu, min_sdk=23))) == []
    both = {"liba.so": lib(tags=[pr.DT_GNU_HASH, pr.DT_HASH])}
    assert rules(pr.elf_features(context(both, abi="x86", min_sdk=21))) == []


def test_relr_gates_on_api_30_and_android_relr_on_api_28() -> None:
    relr = {"liba.so": lib(tags=[pr.DT_RELR])}
    assert rules(pr.elf_features(context(relr, min_sdk=28))) == [
        ("relr-before-api-28", "liba.so", Severity.ERROR)
    ]
    assert rules(pr.elf_features(context(relr, min_sdk=30))) == []
    android = {"liba.so": lib(tags=[pr.DT_ANDROID_RELR])}
    assert rules(pr.elf_features(context(android, min_sdk=28))) == []
    finding = next(iter(pr.elf_features(context(android, min_sdk=26))))
    assert dict(finding.extra) == {"relr_tag": "DT_ANDROID_RELR", "needs_api": 28}


def test_elf_tls_fails_below_api_29() -> None:
    tls = {"liba.so": lib(segments=[segment(PT_TLS)])}
    assert rules(pr.elf_features(context(tls, min_sdk=24))) == [
        ("elf-tls-before-api-29", "liba.so", Severity.ERROR)
    ]
    assert rules(pr.elf_features(context(tls, min_sdk=29))) == []


def test_load_alignment_matters_on_the_16k_abis_only() -> None:
    small = {"liba.so": lib(segments=[segment(PT_LOAD, align=4096), segment(PT_LOAD, align=4096)])}
    found = list(pr.load_align_16k(context(small)))
    assert rules(found) == [("load-align-16k", "liba.so", Severity.ERROR)]
    assert "2**12 UNALIGNED" in found[0].message
    assert list(pr.load_align_16k(context(small, abi="armeabi-v7a"))) == []
    aligned = {"liba.so": lib(segments=[segment(PT_LOAD)])}
    assert list(pr.load_align_16k(context(aligned))) == []


def test_zip_alignment_reads_the_stored_offset_and_extract_native_libs() -> None:
    libs = {"liba.so": lib()}
    off = {"liba.so": LibraryEntry("arm64-v8a", "lib/arm64-v8a/liba.so", "liba.so", 1, data_offset=4096)}
    found = list(pr.zip_align_16k(context(libs, entries=off)))
    assert rules(found) == [("zip-align-16k", "liba.so", Severity.ERROR)]
    assert dict(found[0].extra) == {"offset": 4096}
    deflated = {"liba.so": LibraryEntry("arm64-v8a", "lib/arm64-v8a/liba.so", "liba.so", 1, compressed=True)}
    assert rules(pr.zip_align_16k(context(libs, entries=deflated, extract=False))) == [
        ("zip-align-16k", "liba.so", Severity.ERROR)
    ]
    assert list(pr.zip_align_16k(context(libs, entries=deflated, extract=True))) == []
    assert list(pr.zip_align_16k(context(libs, entries=off, kind=PackageKind.AAR))) == []


def test_two_shared_cxx_runtimes_are_mixed() -> None:
    libs = {
        "libc++_shared.so": lib(soname="libc++_shared.so"),
        "libgnustl_shared.so": lib(soname="libgnustl_shared.so"),
    }
    assert rules(pr.stl_mixed(context(libs))) == [("stl-mixed", "libgnustl_shared.so", Severity.ERROR)]
    assert list(pr.stl_mixed(context({"libc++_shared.so": libs["libc++_shared.so"]}))) == []


def test_library_built_with_a_newer_ndk_than_the_shipped_libcxx() -> None:
    runtime = lib(soname="libc++_shared.so", api=21, ndk="r21b", exports=["_ZdlPv"])
    consumer = lib(needed=("libc++_shared.so", "libc.so"), api=21, ndk="r26b",
                   imports=[LIBC, "_ZNSt6__ndk122__libcpp_verbose_abortEPKcz"])
    found = list(pr.stl_ndk_mismatch(context({"libc++_shared.so": runtime, "libnew.so": consumer})))
    assert rules(found) == [("stl-ndk-mismatch", "libnew.so", Severity.ERROR)]
    assert dict(found[0].extra)["unresolved"] == ["_ZNSt6__ndk122__libcpp_verbose_abortEPKcz"]
    assert "NDK r26b" in found[0].message and "NDK r21b" in found[0].message
    # __cxa_atexit@LIBC comes from libc (the resolver says so): no longer counted as missing.
    resolving = replace(consumer, imports=lib(imports=[LIBC, ("__cxa_atexit", "LIBC", "libc.so"), "_ZdlPv"]).imports)
    found = list(pr.stl_ndk_mismatch(context({"libc++_shared.so": runtime, "libnew.so": resolving})))
    assert rules(found) == [("stl-ndk-mismatch", "libnew.so", Severity.WARNING)]
    assert dict(found[0].extra)["unresolved"] == []
    older = replace(consumer, notes=lib(api=21, ndk="r21b").notes)
    assert list(pr.stl_ndk_mismatch(context({"libc++_shared.so": runtime, "libold.so": older}))) == []


def test_api_level_of_the_note_above_min_sdk() -> None:
    libs = {"liba.so": lib(api=26)}
    found = list(pr.api_level_above_min_sdk(context(libs, min_sdk=21)))
    assert rules(found) == [("api-level-above-min-sdk", "liba.so", Severity.WARNING)]
    assert dict(found[0].extra)["unavailable"] == []
    newer = {"liba.so": lib(api=26, imports=[LIBC, ("getifaddrs", "LIBC_N", "libc.so")])}
    found = list(pr.api_level_above_min_sdk(context(newer, min_sdk=21)))
    assert dict(found[0].extra)["unavailable"] == ["getifaddrs"]
    assert "1 of its platform imports are missing at API 21" in found[0].message
    assert list(pr.api_level_above_min_sdk(context(libs, min_sdk=26))) == []
    assert list(pr.api_level_above_min_sdk(context(libs, min_sdk=None))) == []


def test_needing_a_private_system_library() -> None:
    libs = {"liba.so": lib(needed=("libcutils.so", "libc.so"))}
    found = list(pr.private_platform_library(context(libs)))
    assert rules(found) == [("private-platform-library", "liba.so", Severity.ERROR)]
    assert found[0].needed == "libcutils.so"


def test_platform_symbols_are_judged_from_the_table_with_or_without_an_ndk() -> None:
    imports = [LIBC, ("getifaddrs", "LIBC_N", "libc.so")]
    libs = {"liba.so": lib(imports=imports)}
    for source in (pr.SysrootSource(find_ndk(str(FAKE_NDK))), pr.SysrootSource(None)):
        found = list(pr.platform_symbols(source)(context(libs, min_sdk=21)))
        assert [(f.rule, f.symbol, dict(f.extra)["introduced"], f.severity) for f in found] == [
            ("platform-symbol-unavailable", "getifaddrs", 24, Severity.ERROR)
        ]
        assert found[0].message == "libc.so exports getifaddrs from API 24; the app supports API 21"
        assert list(pr.platform_symbols(source)(context(libs, min_sdk=24))) == []


def test_an_unknown_min_sdk_is_judged_at_the_assumed_level_as_a_warning() -> None:
    libs = {"liba.so": lib(imports=[LIBC, ("getifaddrs", "LIBC_N", "libc.so")], api=21)}
    found = list(pr.platform_symbols(pr.SysrootSource(None))(context(libs, min_sdk=None)))
    assert [(f.symbol, f.severity, dict(f.extra)["min_sdk_assumed"]) for f in found] == [
        ("getifaddrs", Severity.WARNING, True)
    ]
    assumed = pr.AssumedMinSdk()
    assert list(assumed.record(context(libs, min_sdk=None))) == []
    result = assumed.notice(None, Report(InputRecord("libs", "folder", None), (), ()))  # type: ignore[arg-type]
    assert rules(result.findings) == [("min-sdk-assumed", None, Severity.INFO)]
    assert "judged at API 21 for arm64-v8a" in result.findings[0].message
    assert "--min-sdk" in result.findings[0].hint
    known = pr.AssumedMinSdk()
    list(known.record(context(libs, min_sdk=21)))
    assert known.notice(None, Report(InputRecord("libs", "folder", None), (), ())).findings == ()  # type: ignore[arg-type]


def test_the_ndk_cross_checks_the_table_once() -> None:
    # The fake NDK's libm stubs have log2f from API 24; bionic's libm.map.txt has it from 18.
    libs = {"liba.so": lib(needed=("libc.so", "libm.so"), imports=[LIBC, "log2f"])}
    source = pr.SysrootSource(find_ndk(str(FAKE_NDK)))
    assert list(pr.platform_symbols(source)(context(libs, min_sdk=21))) == []
    record = LibraryRecord("arm64-v8a", "liba.so", "lib/arm64-v8a/liba.so", None, 1)
    report = Report(InputRecord("app.apk", "apk", None), (record,), ())
    result = pr.ndk_notice(source)(None, report)  # type: ignore[arg-type]
    assert rules(result.findings) == [("ndk-stubs-differ", None, Severity.INFO)]
    assert dict(result.findings[0].extra)["differences"] == [
        {"abi": "arm64-v8a", "library": "libm.so", "symbol": "log2f", "table": 21, "ndk": 24}
    ]
    assert pr.ndk_notice(pr.SysrootSource(None))(None, report).findings == ()  # type: ignore[arg-type]


def test_imports_a_short_table_cannot_judge_are_one_info_and_not_checked() -> None:
    # libandroid.so's source stops at API 30: judged at API 31, an import in no table is not a crash.
    libs = {"liba.so": lib(needed=("libandroid.so", "libc.so"), imports=[LIBC, "ANewerFunction"])}
    paths = {"liba.so": "lib/arm64-v8a/liba.so"}
    groups, findings = resolve_abi("arm64-v8a", libs, (), paths, api=31)
    assert findings == []
    app = AppFacts(min_sdk=31, target_sdk=34, min_sdk_source="--min-sdk")
    ctx = AbiContext("arm64-v8a", libs, (), paths, groups, {}, app, PackageKind.APK)
    found = list(pr.platform_symbols(pr.SysrootSource(None))(ctx))
    assert rules(found) == [("platform-symbol-unchecked", "liba.so", Severity.INFO)]
    assert dict(found[0].extra)["imports"] == ["liba.so: ANewerFunction"]
    assert "libandroid.so (table ends at API 30)" in found[0].message


def test_an_abi_judged_at_its_first_api_level_leaves_no_device_unchecked() -> None:
    from symaudit.report.grouping import not_checked

    empty = Report(InputRecord("libs", "folder", None), (), ())
    first_only = pr.AssumedMinSdk({"arm64-v8a": 21, "armeabi-v7a": 1})
    [notice] = first_only.notice(None, empty).findings  # type: ignore[arg-type]
    assert dict(notice.extra)["not_checked"] is None
    assert not_checked(Report(empty.input, (), (notice,))) == []
    # A 32-bit ABI judged at the API its libraries were built for leaves older devices unchecked.
    built_for_21 = pr.AssumedMinSdk({"arm64-v8a": 21, "armeabi-v7a": 21})
    [notice] = built_for_21.notice(None, empty).findings  # type: ignore[arg-type]
    assert not_checked(Report(empty.input, (), (notice,))) == ["devices below API 21 (minSdk unknown: pass --min-sdk)"]
