"""Platform rules: C++ runtime, API levels, platform symbols, 16 KB pages, loader-refused ELF.

Each rule is a function of one ABI's :class:`~symaudit.analysis.context.AbiContext` (the models, the load
groups, the container entries and the app's manifest facts). Rules whose verdict depends on the
app's minSdk judge at an assumed level when no manifest, ``--min-sdk`` or config gives it (a
folder of libraries): the highest API level the ABI's packaged libraries were built for
(``.note.android.ident``), and at least the ABI's first API level. They report at warning level
then, and one ``min-sdk-assumed`` info names the level and how to set it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from symaudit.analysis.context import AbiAnalysis, AbiContext, Annotator, PackageAnalysis, PackageResult
from symaudit.analysis.linker import PlatformImport
from symaudit.analysis.min_sdk import Level, judged_level, known_min_sdk
from symaudit.analysis.platform_libs import abi_specs
from symaudit.analysis.platform_symbols import VERSIONING_API, PlatformSymbols, fixed_from, provided_at
from symaudit.analysis.platform_symbols import platform_symbols as symbol_table
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
    """The lowest API level a device running this ABI of the app can have, when the app says."""
    return known_min_sdk(ctx.abi, ctx.app)


def level(ctx: AbiContext) -> Level:
    return judged_level(ctx.abi, ctx.libraries, ctx.app)


def _gate(ctx: AbiContext, needs_api: int) -> tuple[Severity, str] | None:
    """Severity for a feature the device needs ``needs_api`` for, given the app's minSdk."""
    judged = level(ctx)
    if judged.api < needs_api:
        return judged.severity, f"{judged.words()}; devices below API {needs_api} fail"
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
    """A library built with a newer NDK than the packaged ``libc++_shared.so``: a warning, or an
    error when its load group really lacks symbols (the resolver's ``unresolved-symbol``)."""
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
        group = ctx.groups.get(name)
        lacking = list(group.unresolved) if group is not None else []
        message = (
            f"{name} was built with NDK {note.ndk_version} but the packaged libc++_shared.so comes from "
            f"NDK {runtime_note.ndk_version}"
        )
        if lacking:
            shown_names = ", ".join(demangle(n) or n for n in lacking[:3]) + (
                f" and {len(lacking) - 3} more" if len(lacking) > 3 else ""
            )
            message += (
                f"; its load group lacks {len(lacking)} symbol(s) (see their unresolved-symbol findings): "
                f"{shown_names}"
            )
        else:
            message += "; every symbol it imports resolves against that copy"
        yield _finding(
            rules.STL_NDK_MISMATCH,
            ctx,
            name,
            message,
            f"Ship libc++_shared.so from NDK {note.ndk_version} or newer (a Gradle pickFirst keeps the first "
            "copy in dependency order, not the newest), or rebuild the older dependencies with one NDK.",
            severity=Severity.ERROR if lacking else Severity.WARNING,
            needed="libc++_shared.so",
            symbol=lacking[0] if lacking else None,
            extra=(
                ("built_with", note.ndk_version),
                ("shipped", runtime_note.ndk_version),
                ("unresolved", lacking),
            ),
        )


# -- API levels and platform symbols -------------------------------------------------------------


def api_level_above_min_sdk(ctx: AbiContext) -> Iterable[Finding]:
    """A library built for a higher API level than the app's minSdk: a warning. Whether it loads
    is decided by resolution: its platform imports are judged against the table
    (``platform-symbol-unavailable``), so this finding says which way that went."""
    min_sdk = _min_sdk(ctx)
    if min_sdk is None:
        return
    table = symbol_table()
    for name, library in sorted(ctx.libraries.items()):
        note = android_note(library)
        if note is None or note.api <= min_sdk:
            continue
        group = ctx.groups.get(name)
        lacking = sorted(
            {
                item.symbol
                for item in (group.platform_imports if group is not None else ())
                if _unavailable(item, min_sdk, table.newest_api) is not None
            }
        )
        effect = (
            f"; {len(lacking)} of its platform imports are missing at API {min_sdk} (see platform-symbol-unavailable)"
            if lacking
            else f"; every platform symbol it imports exists at API {min_sdk}"
        )
        yield _finding(
            rules.API_LEVEL_ABOVE_MIN_SDK,
            ctx,
            name,
            f"{name} was built for API {note.api} but the app's minSdk is {min_sdk}"
            f" ({ctx.app.min_sdk_source if ctx.app and ctx.app.min_sdk_source else 'manifest'}){effect}",
            f"Build {name} with minSdk {min_sdk} (ANDROID_PLATFORM=android-{min_sdk}), or raise the app's minSdk to "
            f"{note.api}.",
            extra=(("api", note.api), ("min_sdk", min_sdk), ("unavailable", lacking)),
        )


@dataclass
class SysrootSource:
    """One NDK's sysroots by ABI, opened on first use, and where its stubs and the platform
    symbol table disagree (collected by :func:`platform_symbols`, reported once by
    :func:`ndk_notice`)."""

    ndk: Ndk | None
    _by_abi: dict[str, Sysroot | None] = field(default_factory=dict)
    differences: dict[tuple[str, str, str], tuple[int | None, int | None]] = field(default_factory=dict)
    """(abi, library, symbol) -> (level in the table's stub-visible rows, level in the NDK stubs)."""

    def for_abi(self, abi: str) -> Sysroot | None:
        if self.ndk is None:
            return None
        if abi not in self._by_abi:
            spec = abi_specs().get(abi)
            self._by_abi[abi] = Sysroot.of(self.ndk, spec.triple) if spec else None
        return self._by_abi[abi]


def _unavailable(item: PlatformImport, api: int, newest: int) -> tuple[str, int | None, int] | None:
    """None when platform libraries of the group export ``item`` on every device from ``api`` on;
    else (library, the level from which one does (None: none does from some level on), the first
    level that lacks it)."""
    lacking = [
        at for at in range(api, max(api, newest) + 1) if not any(provided_at(spans, at) for _, spans in item.providers)
    ]
    if not lacking:
        return None
    fixes = [
        (fix, library) for library, spans in item.providers if (fix := fixed_from(spans, lacking[-1])) is not None
    ]
    if fixes and lacking[0] == api:
        fix, library = min(fixes)
        if all(at < fix for at in lacking):
            return library, fix, api
    return item.providers[0][0], None, lacking[0]


def platform_symbols(source: SysrootSource, symbols: PlatformSymbols | None = None) -> AbiAnalysis:
    """``platform-symbol-unavailable`` from the platform symbol table: imports only platform
    libraries of the group define, which devices at the app's minSdk do not export; with an NDK,
    where its stubs disagree with the table; and ``platform-symbol-unchecked`` for imports the
    table cannot judge."""

    def analysis(ctx: AbiContext) -> Iterable[Finding]:
        table = symbols or symbol_table()
        judged = level(ctx)
        sysroot = source.for_abi(ctx.abi)
        unchecked: dict[tuple[str, ...], dict[str, None]] = {}
        for importer, group in sorted(ctx.groups.items()):
            for unknown in group.unchecked:
                unchecked.setdefault(unknown.libraries, {}).setdefault(f"{importer}: {unknown.symbol}")
            for item in group.platform_imports:
                if sysroot is not None:
                    _cross_check(source, sysroot, table, ctx.abi, item)
                missing = _unavailable(item, judged.api, table.newest_api)
                if missing is None:
                    continue
                library, fix, gap = missing
                yield _unavailable_finding(ctx, importer, group.order, item, library, fix, gap, judged)
        for libraries, items in sorted(unchecked.items()):
            yield _unchecked_finding(ctx, table, libraries, list(items))

    return analysis


def _unavailable_finding(
    ctx: AbiContext,
    importer: str,
    searched: tuple[str, ...],
    item: PlatformImport,
    library: str,
    fix: int | None,
    gap: int,
    judged: Level,
) -> Finding:
    name = item.symbol
    supports = f"API {judged.api} (assumed: the minSdk is unknown)" if judged.assumed else f"API {judged.api}"
    if fix is not None:
        message = f"{library} exports {name} from API {fix}; the app supports {supports}"
        hint = (
            f"Raise minSdk to {fix}, or package a library that defines {name} in {importer}'s load group "
            f"(link {importer} with it statically, as the NDK does for the app's minSdk), or build "
            f"{importer} for API {judged.api} so the compiler rejects the call."
        )
    else:
        versioned = f"{name}@{item.version}" if item.version else name
        message = (
            f"{library} does not export {versioned} from API {gap} (bionic matches symbol versions from API "
            f"{VERSIONING_API}); the app supports {supports}"
        )
        hint = f"Package a library that defines {name} in {importer}'s load group, or relink {importer} against the NDK's stubs."
    extra: tuple[tuple[str, object], ...] = (
        ("introduced", fix),
        ("min_sdk", judged.api),
        ("min_sdk_assumed", judged.assumed),
        ("provider", library),
    )
    return _finding(
        rules.PLATFORM_SYMBOL_UNAVAILABLE,
        ctx,
        importer,
        message,
        hint,
        severity=judged.severity,
        symbol=name,
        demangled=demangle(name),
        version=item.version,
        searched=searched,
        extra=extra,
    )


def _unchecked_finding(
    ctx: AbiContext, table: PlatformSymbols, libraries: tuple[str, ...], items: list[str]
) -> Finding:
    def horizon(library: str) -> str:
        if library not in table.libraries():
            return f"{library} (not in the table)"
        return f"{library} (table ends at API {table.snapshot_api(library)})"

    where = ", ".join(horizon(library) for library in libraries)
    shown_items = ", ".join(items[:5]) + (f" and {len(items) - 5} more" if len(items) > 5 else "")
    return _finding(
        rules.PLATFORM_SYMBOL_UNCHECKED,
        ctx,
        items[0].split(": ", 1)[0],
        f"{len(items)} import(s) are in no platform table and may be later additions to {where}: {shown_items}",
        "Check these symbols against the NDK's newest stubs (pass --ndk), or against the device.",
        extra=(
            ("libraries", list(libraries)),
            ("imports", items),
            ("not_checked", f"{len(items)} import(s) that {', '.join(libraries)} may export ({ctx.abi})"),
        ),
    )


def _cross_check(
    source: SysrootSource, sysroot: Sysroot, table: PlatformSymbols, abi: str, item: PlatformImport
) -> None:
    """Record where the NDK's stubs and the table's stub-visible rows give different levels."""
    levels = sysroot.api_levels
    if not levels:
        return
    floor, newest = levels[0], levels[-1]
    for library, _ in item.providers:
        if not sysroot.provides(library):
            continue
        stub = [e.introduced for e in table.exports(library, item.symbol, abi) if e.stub and e.removed is None]
        ours = max(min(stub), floor) if stub else None
        if ours is not None and ours > newest:
            ours = None  # newer than this NDK: its stubs cannot have it
        theirs = sysroot.first_api(library).get(item.symbol)
        if ours != theirs:
            source.differences.setdefault((abi, library, item.symbol), (ours, theirs))


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


def ndk_notice(source: SysrootSource) -> PackageAnalysis:
    """With an NDK, one ``ndk-stubs-differ`` info when its stubs and the platform symbol table
    disagree about a symbol the package imports. Without one, nothing: the table decides."""

    def analysis(package: Package, report: Report) -> PackageResult:
        if source.ndk is None or not source.differences:
            return PackageResult()

        def words(level: int | None) -> str:
            return f"API {level}" if level is not None else "absent"

        items = sorted(source.differences.items())
        listed = "; ".join(
            f"{symbol} in {library} ({abi}): table {words(ours)}, NDK {words(theirs)}"
            for (abi, library, symbol), (ours, theirs) in items[:5]
        )
        more = f"; and {len(items) - 5} more" if len(items) > 5 else ""
        finding = rules.NDK_STUBS_DIFFER.finding(
            None,
            None,
            f"the NDK's stubs ({source.ndk.root}) and symaudit's platform symbol table differ on "
            f"{len(items)} imported symbol(s): {listed}{more}",
            "The verdict follows the table (what devices export); a difference usually means an NDK older "
            "or newer than the table's sources. Report it if the NDK is current.",
            extra=(
                (
                    "differences",
                    [
                        {"abi": abi, "library": library, "symbol": symbol, "table": ours, "ndk": theirs}
                        for (abi, library, symbol), (ours, theirs) in items
                    ],
                ),
            ),
        )
        return PackageResult(findings=(finding,))

    return analysis


def _first_api(abi: str) -> int:
    spec = abi_specs().get(abi)
    return spec.first_api if spec is not None else 1


@dataclass
class AssumedMinSdk:
    """Records the level each ABI was judged at when the minSdk is unknown, and says so once."""

    levels: dict[str, int] = field(default_factory=dict)

    def record(self, ctx: AbiContext) -> Iterable[Finding]:
        judged = level(ctx)
        if judged.assumed and ctx.libraries:
            self.levels[ctx.abi] = judged.api
        return ()

    def notice(self, package: Package, report: Report) -> PackageResult:
        if not self.levels:
            return PackageResult()
        by_level: dict[int, list[str]] = {}
        for abi, api in sorted(self.levels.items()):
            by_level.setdefault(api, []).append(abi)
        where = "; ".join(f"API {api} for {', '.join(abis)}" for api, abis in sorted(by_level.items()))
        # An ABI judged at its first API level was judged for every device that runs it.
        above_first = [api for abi, api in self.levels.items() if api > _first_api(abi)]
        not_checked = f"devices below API {min(above_first)} (minSdk unknown: pass --min-sdk)" if above_first else None
        finding = rules.MIN_SDK_ASSUMED.finding(
            None,
            None,
            f"the app's minSdk is unknown (no manifest, --min-sdk or config min-sdk): judged at {where} "
            "(the highest API level the packaged libraries were built for, at least the ABI's first API level)",
            "Pass --min-sdk N (or set min-sdk in symaudit.toml) to judge API levels and platform symbols at "
            "the app's real minSdk.",
            extra=(
                ("assumed", dict(sorted(self.levels.items()))),
                ("not_checked", not_checked),
            ),
        )
        return PackageResult(findings=(finding,))
