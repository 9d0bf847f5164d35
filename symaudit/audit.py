"""One audit run: package in, :class:`Report` out.

The pipeline goes one way: the container yields library entries; each is read and parsed, one ABI
at a time (a 4-ABI APK is never held in memory at once); the analyses turn the ABI's models into
findings; the models are dropped before the next ABI. Nothing here prints.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from symaudit.analysis.arch import wrong_arch
from symaudit.analysis.context import AbiContext, Suite
from symaudit.analysis.linker import LoadGroup, resolve_abi
from symaudit.analysis.min_sdk import judged_level
from symaudit.analysis.platform_libs import abi_for_machine, machine_name
from symaudit.containers.base import LibraryEntry, Package, member_reason, shown
from symaudit.containers.digests import BufferDigest
from symaudit.elf.model import ElfLibrary, Refusal
from symaudit.elf.reader import CorruptElfError, read_elf
from symaudit.errors import InputError, MemberError
from symaudit.findings import Finding, Severity, sort_key
from symaudit.results import AppFacts, InputRecord, LibraryRecord, Report
from symaudit.rules.core import CORRUPT_LIBRARY

UNKNOWN_ABI = "unknown"
_CORE_ONLY = Suite()
"""No analysis beyond what the engine itself reports (parsing, loading, the link resolver)."""


@dataclass(frozen=True, slots=True)
class _Parsed:
    entry: LibraryEntry
    abi: str
    sha256: str | None
    library: ElfLibrary | None
    error: str | None
    reason: str | None = None
    """Stable key when ``error`` is bionic's own refusal (``no-hash-table``, ...)."""
    earlier: tuple[Refusal, ...] = ()
    """ElfReader refusals met before the parse failed (bionic reports the first fatal one)."""


def _parse(package: Package, entry: LibraryEntry) -> _Parsed:
    read_mapped = getattr(package, "read_mapped", None)
    try:
        mapped = read_mapped(entry) if read_mapped is not None else None
        if mapped is not None:
            try:
                # A CRC-32 mismatch (MemberError from the digest) makes it corrupt, parsed or not.
                return _parse_bytes(entry, mapped.view, mapped.digest)
            finally:
                mapped.release()
        data = package.read(entry)
    except MemberError as exc:
        return _Parsed(entry, entry.abi or UNKNOWN_ABI, None, None, member_reason(str(exc), entry.path))
    return _parse_bytes(entry, data, BufferDigest(data))


class _Pending(Protocol):
    def value(self) -> str: ...


def _parse_bytes(entry: LibraryEntry, data: bytes | memoryview, digest: _Pending) -> _Parsed:
    """Parse while ``digest`` is computed; a MemberError from it propagates to the caller."""
    try:
        library = read_elf(data, entry.name)
    except CorruptElfError as exc:
        return _Parsed(entry, entry.abi or UNKNOWN_ABI, digest.value(), None, str(exc), exc.reason, exc.earlier)
    abi = entry.abi or abi_for_machine(library.machine, library.bits) or UNKNOWN_ABI
    return _Parsed(entry, abi, digest.value(), library, None)


def _abi_batches(package: Package, entries: Sequence[LibraryEntry]) -> Iterable[list[_Parsed]]:
    """Parsed libraries grouped by ABI. Packages with ABI directories are read one ABI at a time;
    loose files must be parsed before their ABI (from the ELF machine) is known."""
    if all(entry.abi is not None for entry in entries):
        order: list[str] = []
        by_abi: dict[str, list[LibraryEntry]] = {}
        for entry in entries:
            assert entry.abi is not None
            if entry.abi not in by_abi:
                order.append(entry.abi)
                by_abi[entry.abi] = []
            by_abi[entry.abi].append(entry)
        for abi in order:
            yield [_parse(package, entry) for entry in by_abi[abi]]
        return
    parsed_by_abi: dict[str, list[_Parsed]] = {}
    for entry in entries:
        parsed = _parse(package, entry)
        parsed_by_abi.setdefault(parsed.abi, []).append(parsed)
    yield from parsed_by_abi.values()


def _record(
    parsed: _Parsed, group: LoadGroup | None, extra: Mapping[str, object] | None = None
) -> LibraryRecord:
    entry, library = parsed.entry, parsed.library
    base = {
        "abi": parsed.abi,
        "name": entry.name,
        "path": entry.path,
        "sha256": parsed.sha256,
        "size": entry.size,
        "compressed": entry.compressed,
        "container": entry.container,
    }
    fields = tuple((extra or {}).items())
    if library is None:
        return LibraryRecord(**base, error=parsed.error, extra=fields)  # type: ignore[arg-type]
    return LibraryRecord(
        **base,  # type: ignore[arg-type]
        soname=library.soname,
        needed=library.needed,
        machine=machine_name(library.machine),
        elf_class=library.bits,
        exports=len(library.exports),
        imports=len(library.imports),
        load_group=group.order if group is not None else (),
        extra=fields,
    )


def _fatal(refusal: Refusal, target_sdk: int | None) -> bool:
    """bionic's DL_ERROR_AFTER: a gated refusal is fatal from its targetSdk on (unknown: it is)."""
    return refusal.target_sdk is None or target_sdk is None or target_sdk >= refusal.target_sdk


def _refused(
    parsed: _Parsed, refusal: Refusal, target_sdk: int | None, affected: tuple[str, ...] = ()
) -> Finding:
    """A ``corrupt-library`` finding in bionic's words: an error when the loader refuses the
    library for this app, a warning when the app's targetSdk still lets it load."""
    name = parsed.entry.name
    gate = refusal.target_sdk
    if _fatal(refusal, target_sdk):
        message = f"dlopen failed: {refusal.message}"
        if gate is not None:
            message += f" (fatal for apps targeting API {gate}+" + (
                "; the app's targetSdk is unknown)" if target_sdk is None else f"; the app targets {target_sdk})"
            )
        severity = Severity.ERROR
    else:
        message = (
            f"{refusal.message} and will not work when the app moves to targetSdkVersion {gate} or later "
            f"(bionic allows it while the app targets {target_sdk})"
        )
        severity = Severity.WARNING
    return CORRUPT_LIBRARY.finding(
        parsed.abi,
        name,
        message,
        f"Relink {name} with a standard linker (lld or ld.bfd, no post-link packer or section stripper): the "
        "loader reads its section headers and dynamic table as linkers write them.",
        severity,
        path=parsed.entry.path,
        affected=affected,
        extra=(("reason", refusal.reason),),
    )


def _corrupt(parsed: _Parsed, affected: tuple[str, ...], target_sdk: int | None = None) -> Finding:
    name = parsed.entry.name
    first = next((r for r in parsed.earlier if _fatal(r, target_sdk)), None)
    if first is not None:
        # bionic stops at its first refusal; what symaudit's reader could not read comes after it.
        refused = _refused(parsed, first, target_sdk, affected)
        return replace(refused, message=f"{refused.message}; symaudit also could not read it: {parsed.error}")
    if parsed.reason is not None:
        return CORRUPT_LIBRARY.finding(
            parsed.abi,
            name,
            f"dlopen failed: {parsed.error}",
            f"Relink {name}: its dynamic table lacks what every linker writes (a post-link tool or an edit "
            "broke it), or rebuild and re-download it.",
            path=parsed.entry.path,
            affected=affected,
            extra=(("reason", parsed.reason),),
        )
    return CORRUPT_LIBRARY.finding(
        parsed.abi,
        name,
        f'"{name}" is not a loadable ELF shared object: {parsed.error}',
        f"Rebuild or re-download {name} and check how it reaches the package "
        "(an interrupted copy or a Git LFS pointer file are common causes).",
        path=parsed.entry.path,
        affected=affected,
    )


def _dependents(broken: str, groups: Mapping[str, LoadGroup]) -> tuple[str, ...]:
    return tuple(sorted(root for root, group in groups.items() if broken in group.unloadable))


def _check_abis_present(path: str, abis: Sequence[str] | None, present: set[str]) -> None:
    """A requested ABI the input has no library for is a typo or the wrong input: auditing
    nothing would print "OK" and pass CI, so it is an input error instead."""
    for abi in abis or ():
        if abi not in present:
            found = ", ".join(sorted(present)) or "none"
            raise InputError(f"{path}: no native library for ABI {shown(abi)} (found: {found})")


def audit_package(
    package: Package,
    suite: Suite = _CORE_ONLY,
    abis: Sequence[str] | None = None,
    app: AppFacts | None = None,
) -> Report:
    """Audit every native library of ``package`` (restricted to ``abis`` when given).

    ``app`` carries the manifest facts (minSdk, extractNativeLibs) the platform rules need;
    the caller reads them (see :func:`symaudit.containers.android_manifest.app_facts`). Which
    analyses run, and in what order, is the caller's list (:mod:`symaudit.suites`); the engine
    itself only parses, resolves the load groups and reports what cannot be parsed or loaded.
    """
    target_sdk = app.target_sdk if app is not None else None
    listed = package.libraries()
    entries = [e for e in listed if not abis or e.abi is None or e.abi in abis]
    present = {e.abi for e in listed if e.abi is not None}
    hash_ahead = getattr(package, "hash_ahead", None)
    if hash_ahead is not None:
        # Entries are in parse order (ABI by ABI): the hash worker keeps ahead of the parser.
        hash_ahead(entries)
    records: list[LibraryRecord] = []
    findings: list[Finding] = []
    for batch in _abi_batches(package, entries):
        if batch:
            present.add(batch[0].abi)
        if abis and batch and batch[0].abi not in abis:
            continue
        abi = batch[0].abi if batch else UNKNOWN_ABI
        loadable: dict[str, ElfLibrary] = {}
        paths: dict[str, str] = {}
        entries_by_name: dict[str, LibraryEntry] = {}
        kept: list[_Parsed] = []
        unloadable: list[str] = []
        arch_findings: list[Finding] = []
        for parsed in batch:
            name = parsed.entry.name
            if name in paths:
                # The same library twice in one ABI (an APKS split and its standalone twin):
                # the first one is what the device gets; keep its record, skip the copy.
                records.append(_record(parsed, None))
                continue
            paths[name] = parsed.entry.path
            entries_by_name[name] = parsed.entry
            kept.append(parsed)
            if parsed.library is None:
                unloadable.append(name)
                continue
            mismatch = wrong_arch(abi, name, parsed.entry.path, parsed.library, parsed.entry.abi is None)
            if mismatch is not None:
                arch_findings.append(mismatch)
                unloadable.append(name)
                continue
            # bionic's ElfReader refusals, in its order: warnings until the first fatal one.
            refusals = parsed.library.refusals
            fatal = next((r for r in refusals if _fatal(r, target_sdk)), None)
            for refusal in refusals:
                if refusal is fatal:
                    break
                arch_findings.append(_refused(parsed, refusal, target_sdk))
            if fatal is not None:
                arch_findings.append(_refused(parsed, fatal, target_sdk))
                unloadable.append(name)
                continue
            loadable[name] = parsed.library
        groups, linker_findings = resolve_abi(
            abi,
            loadable,
            unloadable,
            paths,
            target_sdk=target_sdk,
            api=judged_level(abi, loadable, app).api,
        )
        context = AbiContext(
            abi,
            loadable,
            tuple(unloadable),
            paths,
            groups,
            entries_by_name,
            app,
            package.kind,
            {parsed.entry.name: parsed.sha256 for parsed in kept},
        )
        for parsed in kept:
            name = parsed.entry.name
            extra: dict[str, object] = {}
            for annotator in suite.annotators:
                extra.update(dict.fromkeys(annotator.fields))
                if name in loadable:
                    extra.update(annotator.annotate(context, name))
            records.append(_record(parsed, groups.get(name), extra))
            if parsed.library is None:
                findings.append(_corrupt(parsed, _dependents(name, groups), target_sdk))
        for finding in arch_findings:
            findings.append(replace(finding, affected=_dependents(finding.library or "", groups)))
        abi_findings = list(linker_findings)
        for analysis in suite.analyses:
            abi_findings.extend(analysis(context))
        for refine in suite.refiners:
            abi_findings = [refine(context, finding) for finding in abi_findings]
        findings.extend(abi_findings)
        # Let this ABI's models go before the generator parses the next ABI's libraries: the
        # loop variables would otherwise keep them alive through that parse.
        del batch, loadable, kept, context
        parsed = None  # type: ignore[assignment]
    _check_abis_present(package.path, abis, present)
    records.sort(key=lambda r: (r.abi, r.name, r.path))
    report = Report(
        input=InputRecord(package.path, package.kind.value, package.sha256),
        libraries=tuple(records),
        findings=tuple(findings),
        app=app,
    )
    fields: list[tuple[str, object]] = []
    for package_analysis in suite.package_analyses:
        result = package_analysis(package, report)
        findings.extend(result.findings)
        fields.extend(result.fields)
    findings.sort(key=sort_key)
    return replace(report, findings=tuple(findings), extra=tuple(fields))
