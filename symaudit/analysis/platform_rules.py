"""Platform rules: C++ runtime, API levels, platform symbols, 16 KB pages, loader-refused ELF.

Each rule is a function of one ABI's :class:`~symaudit.analysis.context.AbiContext` (the models, the load
groups, the container entries and the app's manifest facts). Rules whose verdict depends on the
app's minSdk say so when it is unknown (a folder of libraries has no manifest: pass
``--min-sdk``) and report at warning level then, instead of guessing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from symaudit.analysis.context import AbiAnalysis, AbiContext, Annotator, PackageAnalysis, PackageResult
from symaudit.analysis.linker import defines, presumed_platform, unmet_imports
from symaudit.analysis.platform_libs import abi_specs, platform_libs
from symaudit.analysis.toolchain import (
    SHARED_RUNTIMES,
    android_note,
    exports_ndk_cxx,
    identify_ndk,
    identify_stl,
    release_order,
)
from symaudit.containers.base import Package, PackageKind
from symaudit.demangle import demangle
from symaudit.elf.model import (
    DF_TEXTREL,
    DT_ANDROID_RELR,
    DT_GNU_HASH,
    DT_HASH,
    DT_RELR,
    DT_TEXTREL,
    PF_X,
    PT_GNU_STACK,
    PT_TLS,
    ElfLibrary,
)
from symaudit.facts import api_gate, first_64_bit_api, sixteen_k_abis
from symaudit.findings import Finding, Rule, Severity
from symaudit.ndk import Ndk, Sysroot
from symaudit.results import Report
from symaudit.rules import platform as rules

PAGE_16K = 16384
SIXTEEN_K_ABIS = sixteen_k_abis()


def _finding(
    rule: Rule,
    ctx: AbiContext,
    library: str,
    message: str,
    hint: str,
    severity: Severity | None = None,
    **kw: object,
) -> Finding:
    return rule.finding(ctx.abi, library, message, hint, severity, path=ctx.paths.get(library), **kw)


# The first API level with 64-bit support: no arm64-v8a or x86_64 device runs anything older.
FIRST_64_BIT_API = first_64_bit_api()
TEXTREL_API = api_gate("text_relocations_fatal")


def _min_sdk(ctx: AbiContext) -> int | None:
    """The lowest API level a device running this ABI of the app can have."""
    min_sdk = ctx.app.min_sdk if ctx.app is not None else None
    spec = abi_specs().get(ctx.abi)
    if min_sdk is not None and spec is not None and spec.bits == 64:
        return max(min_sdk, FIRST_64_BIT_API)
    return min_sdk


def _gate(ctx: AbiContext, needs_api: int) -> tuple[Severity, str] | None:
    """Severity for a feature the device needs ``needs_api`` for, given the app's minSdk."""
    min_sdk = _min_sdk(ctx)
    if min_sdk is None:
        return (
            Severity.WARNING,
            f"the app's minSdk is unknown (pass --min-sdk); devices below API {needs_api} fail",
        )
    if min_sdk < needs_api:
        return Severity.ERROR, f"the app's minSdk is {min_sdk}; devices below API {needs_api} fail"
    return None


# -- C++ runtime --------------------------------------------------------------------------------


def stl_mixed(ctx: AbiContext) -> Iterable[Finding]:
    shared = [name for name in SHARED_RUNTIMES if name in ctx.entries]
    static = sorted(
        name
        for name, library in ctx.libraries.items()
        if name not in SHARED_RUNTIMES
        and "libc++_shared.so" not in library.needed
        and exports_ndk_cxx(library)
    )
    hint = rules.STL_MIXED.doc.split("## Fix\n", 1)[1].replace("\n", " ")
    if len(shared) > 1:
        yield _finding(
            rules.STL_MIXED,
            ctx,
            shared[1],
            f"{' and '.join(shared)} are both packaged for {ctx.abi}: two C++ runtimes in one app",
            hint,
            extra=(("runtimes", shared),),
        )
    if shared and static:
        for name in static:
            yield _finding(
                rules.STL_MIXED,
                ctx,
                name,
                f"{name} links libc++ statically and exports std::__ndk1 symbols next to the packaged {shared[0]}",
                hint,
                extra=(("runtimes", [shared[0], name]),),
            )
    elif not shared and len(static) > 1:
        yield _finding(
            rules.STL_MIXED,
            ctx,
            static[1],
            f"{', '.join(static)} each embed a static libc++ and export std::__ndk1 symbols",
            hint,
            severity=Severity.WARNING,
            extra=(("runtimes", static),),
        )


def stl_ndk_mismatch(ctx: AbiContext) -> Iterable[Finding]:
    runtime = ctx.libraries.get("libc++_shared.so")
    if runtime is None:
        return
    runtime_note = android_note(runtime)
    if runtime_note is None or not runtime_note.ndk_version:
        return
    shipped = release_order(runtime_note.ndk_version)
    for name, library in sorted(ctx.libraries.items()):
        if "libc++_shared.so" not in library.needed:
            continue
        note = android_note(library)
        if note is None or not note.ndk_version or release_order(note.ndk_version) <= shipped:
            continue
        lacking = [
            symbol
            for symbol in library.imports.names
            if (symbol.startswith("_Z") or symbol.startswith("__cxa_"))
            and not defines(runtime, symbol, None)
            and not any(
                defines(other, symbol, None) for n, other in ctx.libraries.items() if n not in (name,)
            )
        ]
        severity = Severity.ERROR if lacking else Severity.WARNING
        effect = (
            f"; it imports {len(lacking)} symbol(s) that copy lacks, e.g. {demangle(lacking[0]) or lacking[0]}"
            if lacking
            else ""
        )
        yield _finding(
            rules.STL_NDK_MISMATCH,
            ctx,
            name,
            f"{name} was built with NDK {note.ndk_version} but the packaged libc++_shared.so comes from "
            f"NDK {runtime_note.ndk_version}{effect}",
            f"Ship libc++_shared.so from NDK {note.ndk_version} or newer (a Gradle pickFirst keeps the first "
            "copy in dependency order, not the newest), or rebuild the older dependencies with one NDK.",
            severity=severity,
            needed="libc++_shared.so",
            symbol=lacking[0] if lacking else None,
            extra=(("built_with", note.ndk_version), ("shipped", runtime_note.ndk_version)),
        )


# -- API levels and platform symbols -------------------------------------------------------------


def api_level_above_min_sdk(ctx: AbiContext) -> Iterable[Finding]:
    min_sdk = _min_sdk(ctx)
    if min_sdk is None:
        return
    for name, library in sorted(ctx.libraries.items()):
        note = android_note(library)
        if note is None or note.api <= min_sdk:
            continue
        yield _finding(
            rules.API_LEVEL_ABOVE_MIN_SDK,
            ctx,
            name,
            f"{name} was built for API {note.api} but the app's minSdk is {min_sdk}"
            f" ({ctx.app.min_sdk_source if ctx.app and ctx.app.min_sdk_source else 'manifest'})",
            f"Build {name} with minSdk {min_sdk} (ANDROID_PLATFORM=android-{min_sdk}), or raise the app's minSdk to "
            f"{note.api}.",
            extra=(("api", note.api), ("min_sdk", min_sdk)),
        )


@dataclass
class SysrootSource:
    """One NDK's sysroots by ABI, opened on first use."""

    ndk: Ndk | None
    _by_abi: dict[str, Sysroot | None] = field(default_factory=dict)

    def for_abi(self, abi: str) -> Sysroot | None:
        if self.ndk is None:
            return None
        if abi not in self._by_abi:
            spec = abi_specs().get(abi)
            self._by_abi[abi] = Sysroot.of(self.ndk, spec.triple) if spec else None
        return self._by_abi[abi]


def platform_symbols(source: SysrootSource) -> AbiAnalysis:
    def analysis(ctx: AbiContext) -> Iterable[Finding]:
        sysroot = source.for_abi(ctx.abi)
        min_sdk = _min_sdk(ctx)
        if sysroot is None or min_sdk is None:
            return
        platform = platform_libs()
        for importer, group in sorted(ctx.groups.items()):
            if not group.loads or not group.platform:
                continue
            for name, version, version_file in unmet_imports(importer, ctx.libraries, group):
                if not presumed_platform(name, version_file, group, platform):
                    continue  # the link resolver reported it already
                candidates = [version_file] if version_file in group.platform else list(group.platform)
                checked = [lib for lib in candidates if lib and sysroot.provides(lib)]
                if not checked:
                    continue
                levels = [sysroot.first_api(lib).get(name) for lib in checked]
                known = [level for level in levels if level is not None]
                first = min(known) if known else None
                if first is not None and first <= min_sdk:
                    continue
                where = " or ".join(checked)
                if first is None:
                    message = f'cannot locate symbol "{name}" referenced by "{importer}": no API level of {where} in the NDK defines it'
                    hint = f"Nothing on the platform defines it: link {importer} against the library that does and package it."
                else:
                    message = (
                        f'"{name}" referenced by "{importer}" is in {where} only from API {first}; '
                        f"the app's minSdk is {min_sdk}"
                    )
                    hint = (
                        f"Raise minSdk to {first}, build {importer} for API {min_sdk} so the compiler rejects the call, "
                        "or look the function up with dlsym and provide a fallback."
                    )
                yield _finding(
                    rules.PLATFORM_SYMBOL_UNAVAILABLE,
                    ctx,
                    importer,
                    message,
                    hint,
                    symbol=name,
                    demangled=demangle(name),
                    version=version,
                    searched=group.order,
                    extra=(("introduced", first), ("min_sdk", min_sdk)),
                )

    return analysis


def private_platform_library(ctx: AbiContext) -> Iterable[Finding]:
    affected: dict[tuple[str, str], set[str]] = {}
    for root, group in ctx.groups.items():
        for needer, needed in group.private:
            roots = affected.setdefault((needer, needed), set())
            if root != needer:
                roots.add(root)
    for (needer, needed), roots in sorted(affected.items()):
        yield _finding(
            rules.PRIVATE_PLATFORM_LIBRARY,
            ctx,
            needer,
            f'dlopen failed: library "{needed}" needed by "{needer}" is not accessible for the namespace: '
            "it is a private system library, not NDK API",
            f"Stop linking {needer} against {needed}: ship your own build of what it provides (renamed), "
            "or use the NDK's public API.",
            needed=needed,
            affected=tuple(sorted(roots)),
        )


# -- 16 KB pages -----------------------------------------------------------------------------------


def load_align_16k(ctx: AbiContext) -> Iterable[Finding]:
    if ctx.abi not in SIXTEEN_K_ABIS:
        return
    for name, library in sorted(ctx.libraries.items()):
        loads = library.load_segments
        if not loads:
            continue
        bad = [s for s in loads if s.align < PAGE_16K or s.align & (s.align - 1)]
        if not bad:
            continue
        first = loads[0].align
        exponent = first.bit_length() - 1 if first and not first & (first - 1) else None
        verdict = "ALIGNED" if first >= PAGE_16K and exponent is not None else "UNALIGNED"
        google = f"2**{exponent}" if exponent is not None else hex(first)
        smallest = min(s.align for s in bad)
        yield _finding(
            rules.LOAD_ALIGN_16K,
            ctx,
            name,
            f"{len(bad)} of {len(loads)} PT_LOAD segments of {name} are aligned to {smallest:#x} ({smallest} bytes); "
            f"16 KB devices need {PAGE_16K} (check_elf_alignment.sh: {google} {verdict})",
            "Rebuild with NDK r28+ (16 KB by default) or link with -Wl,-z,max-page-size=16384 "
            "(plus -Wl,-z,common-page-size=16384 for NDK r22 and older), and package with AGP 8.5.1+.",
            extra=(("alignments", [s.align for s in loads]), ("min_alignment", smallest)),
        )


def zip_align_16k(ctx: AbiContext) -> Iterable[Finding]:
    if ctx.package_kind not in (PackageKind.APK, PackageKind.APKS):
        return
    extract = ctx.app.extract_native_libs if ctx.app is not None else None
    for name, entry in sorted(ctx.entries.items()):
        if entry.compressed:
            if extract is False:
                yield _finding(
                    rules.ZIP_ALIGN_16K,
                    ctx,
                    name,
                    f'{entry.path} is compressed but the manifest sets android:extractNativeLibs="false": '
                    "the device cannot map it from the APK",
                    "Store native libraries uncompressed and 16 KB aligned (AGP does this when "
                    "useLegacyPackaging is false), or set extractNativeLibs to true.",
                )
            continue
        if ctx.abi not in SIXTEEN_K_ABIS or entry.data_offset is None:
            continue
        remainder = entry.data_offset % PAGE_16K
        if remainder:
            yield _finding(
                rules.ZIP_ALIGN_16K,
                ctx,
                name,
                f"{entry.path} is stored uncompressed at offset {entry.data_offset} "
                f"({remainder} bytes past a 16 KB boundary)",
                "Align the APK with `zipalign -P 16 -f 4` (build-tools 35+) before signing, or build with "
                "AGP 8.5.1+.",
                extra=(("offset", entry.data_offset),),
            )


# -- loader-refused ELF features ------------------------------------------------------------------


def elf_features(ctx: AbiContext) -> Iterable[Finding]:
    min_sdk = _min_sdk(ctx)
    target_sdk = ctx.app.target_sdk if ctx.app is not None else None
    for name, library in sorted(ctx.libraries.items()):
        yield from _library_features(ctx, name, library, min_sdk, target_sdk)


def _library_features(
    ctx: AbiContext, name: str, library: ElfLibrary, min_sdk: int | None, target_sdk: int | None
) -> Iterable[Finding]:
    tags = library.dynamic_tags
    if DT_TEXTREL in tags or library.flags & DF_TEXTREL:
        old_app = (min_sdk is not None and min_sdk < TEXTREL_API) and (
            target_sdk is not None and target_sdk < TEXTREL_API
        )
        yield _finding(
            rules.TEXT_RELOCATIONS,
            ctx,
            name,
            f'"{name}" has text relocations: refused on API {TEXTREL_API}+ for apps targeting API {TEXTREL_API}+',
            "Compile every object with -fPIC, fix assembly that uses absolute addresses, and drop -z notext.",
            severity=Severity.WARNING if old_app else Severity.ERROR,
        )
    if library.soname is None:
        yield _finding(
            rules.MISSING_SONAME,
            ctx,
            name,
            f"{name} has no DT_SONAME",
            f"Link {name} with -Wl,-soname,{name}.",
        )
    stack = [s for s in library.segments if s.type == PT_GNU_STACK]
    if stack and stack[0].flags & PF_X:
        yield _finding(
            rules.EXECUTABLE_STACK,
            ctx,
            name,
            f"{name} requests an executable stack (PT_GNU_STACK has PF_X)",
            'Add `.section .note.GNU-stack,"",%progbits` to assembly sources or link with -Wl,-z,noexecstack.',
        )
    if DT_GNU_HASH in tags and DT_HASH not in tags:
        gate = _gate(ctx, api_gate("gnu_hash"))
        if gate:
            yield _finding(
                rules.GNU_HASH_WITHOUT_SYSV_HASH,
                ctx,
                name,
                f"{name} has only DT_GNU_HASH; {gate[1]} to look up its symbols",
                f"Link {name} with -Wl,--hash-style=both.",
                severity=gate[0],
            )
    relr_gates = (
        (DT_ANDROID_RELR, api_gate("android_relr"), "DT_ANDROID_RELR"),
        (DT_RELR, api_gate("relr"), "DT_RELR"),
    )
    for tag, api, label in relr_gates:
        if tag in tags:
            gate = _gate(ctx, api)
            if gate:
                yield _finding(
                    rules.RELR_BEFORE_API_28,
                    ctx,
                    name,
                    f"{name} uses {label} relocations; {gate[1]} to apply them",
                    f"Link {name} without RELR (drop -z pack-relative-relocs) or raise minSdk to {api}.",
                    severity=gate[0],
                    extra=(("relr_tag", label), ("needs_api", api)),
                )
                break
    if any(s.type == PT_TLS for s in library.segments):
        tls_api = api_gate("elf_tls")
        gate = _gate(ctx, tls_api)
        if gate:
            yield _finding(
                rules.ELF_TLS_BEFORE_API_29,
                ctx,
                name,
                f"{name} uses ELF TLS (PT_TLS); {gate[1]} to load it",
                f"Build {name} for the app's minSdk (the NDK then uses emulated TLS) or raise minSdk to {tls_api}.",
                severity=gate[0],
            )


# -- annotations and notices ----------------------------------------------------------------------


def identification(prefab: Mapping[tuple[str, str], Mapping[str, object]]) -> Annotator:
    def annotate(ctx: AbiContext, name: str) -> Mapping[str, object]:
        library = ctx.libraries[name]
        metadata = prefab.get((ctx.abi, name))
        info = identify_ndk(library, metadata)
        return {"ndk": info.as_json() if info else None, "stl": identify_stl(name, library, metadata)}

    return Annotator(("ndk", "stl"), annotate)


def ndk_notice(source: SysrootSource, reason: str | None = None) -> PackageAnalysis:
    """One ``ndk-not-found`` info when there is no NDK to check platform symbols against."""

    def analysis(package: Package, report: Report) -> PackageResult:
        if source.ndk is not None or not report.libraries:
            return PackageResult()
        finding = rules.NDK_NOT_FOUND.finding(
            None,
            None,
            reason
            or "no Android NDK found (--ndk, ANDROID_NDK_HOME, ANDROID_NDK_ROOT, ANDROID_HOME/ndk, "
            "local.properties): platform symbols were presumed available",
            "Pass --ndk PATH or set ANDROID_NDK_HOME to check platform symbols against the app's minSdk.",
        )
        return PackageResult(findings=(finding,))

    return analysis
