"""The bionic dynamic linker, as far as load success is concerned.

For every packaged library of one ABI, this builds the load group bionic builds when that library
is ``dlopen``ed (``System.loadLibrary``): the library, then its DT_NEEDED closure breadth-first
(API 22+). Every non-weak undefined symbol of the library must then be defined by a library of
that group; bionic binds everything at load time, so one miss fails the whole load.

Each library is checked as its own root: Java may load any of them first, and a library whose
imports are only met by a library outside its DT_NEEDED closure fails when loaded on its own.
Platform libraries are not packaged: an import the packaged group does not define is looked up
in the platform symbol table (:mod:`symaudit.analysis.platform_symbols`, generated from the map
files the device libraries are built with) for the platform libraries of the group, with bionic's
version matching. One that no platform library of the group exports at any API level is an
``unresolved-symbol``; one exported only from some API level is judged against the app's minSdk
by the platform rules (``platform-symbol-unavailable``). When the group reaches a platform library
whose table stops before the newest API level, a symbol absent from every table may be one of that
library's later additions: it is recorded as not checked, never called a crash.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

from symaudit.analysis.platform_libs import PlatformLibs, abi_specs, platform_libs
from symaudit.analysis.platform_symbols import PlatformSymbols, Span, platform_symbols
from symaudit.demangle import demangle
from symaudit.elf.model import ElfLibrary, ExportTable
from symaudit.findings import Finding, Severity
from symaudit.rules.core import MISSING_LIBRARY, UNRESOLVED_SYMBOL

NEEDED_PATH_API = 23
"""From targetSdk 23 (and always on 64-bit) bionic takes a path in DT_NEEDED literally
(``fix_dt_needed`` in linker.cpp); 32-bit apps targeting less get a warning and the basename."""


@dataclass(frozen=True, slots=True)
class PlatformImport:
    """An import only the platform provides: which library, over which API levels."""

    symbol: str
    version: str | None
    providers: tuple[tuple[str, tuple[Span, ...]], ...]
    """(platform library, the levels at which it satisfies the reference), group order."""


@dataclass(frozen=True, slots=True)
class Unchecked:
    symbol: str
    version: str | None
    libraries: tuple[str, ...]
    """Platform libraries of the group whose tables stop early (or are absent)."""


@dataclass(frozen=True, slots=True)
class LoadGroup:
    """The libraries bionic loads for one root, in breadth-first order."""

    root: str
    order: tuple[str, ...]
    """Every library reached, packaged or platform, root first: the lookup order."""
    packaged: tuple[str, ...]
    """Loadable packaged libraries of ``order``."""
    platform: tuple[str, ...]
    """Public platform libraries of ``order``."""
    missing: tuple[tuple[str, str], ...]
    """(needing library, needed name) for each DT_NEEDED found nowhere."""
    unloadable: tuple[str, ...]
    """Packaged libraries reached that the loader rejects (corrupt, wrong machine)."""
    private: tuple[tuple[str, str], ...] = ()
    """(needing library, needed name) for each DT_NEEDED on a private system library: the app's
    namespace cannot reach it (``private-platform-library``)."""
    platform_imports: tuple[PlatformImport, ...] = ()
    """Imports of the root that only platform libraries of the group define, and at which levels."""
    unchecked: tuple[Unchecked, ...] = ()
    """Imports of the root found in no table that a platform library with an incomplete table
    (or none) might define: not judged."""
    unresolved: tuple[str, ...] = ()
    """Imports of the root reported as ``unresolved-symbol``."""
    renamed: tuple[tuple[str, str], ...] = ()
    """(needing library, DT_NEEDED path) that bionic loaded by basename, with a warning (32-bit
    apps targeting API < 23)."""

    @property
    def loads(self) -> bool:
        """False when the loader fails before looking at symbols."""
        return not self.missing and not self.unloadable and not self.private


def load_group(
    root: str,
    libraries: Mapping[str, ElfLibrary],
    unloadable: Iterable[str] = (),
    platform: PlatformLibs | None = None,
    basename_needed: bool = False,
) -> LoadGroup:
    """bionic's breadth-first DT_NEEDED closure of ``root`` within one ABI directory.

    DT_NEEDED names are matched against file names in the ABI directory (where the loader looks),
    packaged libraries first, then the public platform libraries. A name with a ``/`` is a path,
    taken literally (found nowhere) unless ``basename_needed`` (32-bit, targetSdk < 23).
    """
    platform = platform or platform_libs()
    broken = set(unloadable)
    order = [root]
    seen = {root}
    packaged: list[str] = [root]
    platform_reached: list[str] = []
    missing: list[tuple[str, str]] = []
    private: list[tuple[str, str]] = []
    unloadable_reached: list[str] = []
    renamed: list[tuple[str, str]] = []
    queue = deque([root])
    while queue:
        current = queue.popleft()
        listing = libraries[current].needed if current in libraries else platform.needed_by(current)
        for listed in listing:
            needed = listed
            if "/" in listed:
                if not basename_needed:
                    missing.append((current, listed))
                    continue
                needed = listed.rsplit("/", 1)[1]
                renamed.append((current, listed))
            if needed in seen:
                continue
            seen.add(needed)
            if needed in libraries:
                order.append(needed)
                packaged.append(needed)
                queue.append(needed)
            elif needed in broken:
                order.append(needed)
                unloadable_reached.append(needed)
            elif platform.is_public(needed):
                order.append(needed)
                platform_reached.append(needed)
                queue.append(needed)  # its own DT_NEEDED (libc.so -> libdl.so), breadth-first too
            elif platform.is_private(needed):
                order.append(needed)
                private.append((current, needed))
            else:
                missing.append((current, needed))
    return LoadGroup(
        root=root,
        order=tuple(order),
        packaged=tuple(packaged),
        platform=tuple(platform_reached),
        missing=tuple(missing),
        unloadable=tuple(unloadable_reached),
        private=tuple(private),
        renamed=tuple(renamed),
    )


def defines(provider: ElfLibrary, name: str, version: str | None) -> bool:
    """Whether ``provider`` can satisfy a reference to ``name`` (at ``version``), as bionic decides.

    bionic's rules (``check_symbol_version``/``find_verdef_version_index``), first that applies:
    no versym table in the provider: any definition matches; an unversioned reference: any
    definition not marked hidden; a version the provider does not define: only unversioned
    definitions; otherwise the definition's version must be the one asked for.
    """
    exports: ExportTable = provider.exports
    if name not in exports:
        return False
    if exports.versions is None or not provider.has_versym:
        return True
    for symbol in exports.all_named(name):
        if version is None:
            if not symbol.hidden:
                return True
        elif version not in provider.versions_defined:
            if symbol.version is None:
                return True
        elif symbol.version == version:
            return True
    return False


def defines_each(provider: ElfLibrary, names: Sequence[str], versions: Sequence[str | None]) -> list[bool]:
    """:func:`defines` for many references at once: one pass over the provider's hash table,
    the version rules only for names it has."""
    present = provider.exports.contains_each(names)
    if provider.exports.versions is None or not provider.has_versym:
        return present
    return [
        found and defines(provider, name, version)
        for found, name, version in zip(present, names, versions, strict=True)
    ]


def unmet_imports(
    importer: str, libraries: Mapping[str, ElfLibrary], group: LoadGroup
) -> Iterator[tuple[str, str | None, str | None]]:
    """(name, version, version file) of each strong import of ``importer`` that no packaged
    library of its load group defines: what the platform must provide, or the load fails."""
    imports = libraries[importer].imports
    weak = imports.weak_mask
    names, versions, files = imports.names, imports.versions, imports.version_files
    pending = [position for position in range(len(names)) if not weak[position]]
    for provider in (libraries[name] for name in group.packaged if name != importer):
        if not pending:
            break
        wanted = [names[position] for position in pending]
        asked = [versions[position] for position in pending] if versions is not None else [None] * len(pending)
        met = defines_each(provider, wanted, asked)
        pending = [position for position, found in zip(pending, met, strict=True) if not found]
    for position in pending:
        version = versions[position] if versions is not None else None
        yield names[position], version, files[position] if files is not None else None


def platform_lookup(
    name: str,
    version: str | None,
    version_file: str | None,
    abi: str,
    group: LoadGroup,
    symbols: PlatformSymbols,
    api: int,
) -> PlatformImport | Unchecked | None:
    """What the platform libraries of ``group`` say about an import the packaged ones lack:
    the levels each exports it at; or, found in no table, the libraries whose tables stop below
    ``api`` (the level judged) or are absent; or None: no platform library of the group exports
    it at any level the tables cover, so a device at ``api`` cannot resolve it."""
    providers = []
    for library in group.platform:
        spans = symbols.spans(library, name, abi, version)
        if spans:
            providers.append((library, spans))
    if providers:
        return PlatformImport(name, version, tuple(providers))
    incomplete = [library for library in group.platform if not symbols.covers(library, api)]
    if version_file is not None:
        # A versioned reference names the library whose version node it wants.
        incomplete = [library for library in incomplete if library == version_file]
    return Unchecked(name, version, tuple(incomplete)) if incomplete else None


def _missing_library_findings(
    abi: str, groups: Mapping[str, LoadGroup], paths: Mapping[str, str]
) -> list[Finding]:
    affected: dict[tuple[str, str], list[str]] = {}
    for root, group in groups.items():
        for needer, needed in group.missing:
            roots = affected.setdefault((needer, needed), [])
            if root != needer:
                roots.append(root)
    findings = []
    for (needer, needed), roots in affected.items():
        hint = (
            f"Package {needed} in lib/{abi}/ (add the dependency that ships it, or remove a "
            f"packaging exclude that dropped it), or relink {needer} without it."
        )
        extra: tuple[tuple[str, object], ...] = ()
        if "/" in needed:
            # bionic's fix_dt_needed: a path is opened as given (targetSdk 23+, and always on
            # 64-bit), never looked up in the app's library directory.
            base = needed.rsplit("/", 1)[1]
            hint = (
                f"{needer} names its dependency by a path; bionic opens the path literally. Relink the "
                f"dependency with -Wl,-soname,{base} and {needer} against it, so DT_NEEDED says {base}."
            )
            extra = (("reason", "path-in-needed"),)
        findings.append(
            MISSING_LIBRARY.finding(
                abi,
                needer,
                f'dlopen failed: library "{needed}" not found: needed by {needer}',
                hint,
                needed=needed,
                path=paths.get(needer),
                affected=tuple(sorted(roots)),
                extra=extra,
            )
        )
    return findings


def _unresolved_hint(
    importer: str,
    outside: list[str],
    elsewhere: tuple[str, ...],
    version: str | None,
) -> str:
    if outside:
        providers = ", ".join(outside)
        return (
            f"{providers} defines it but is not in {importer}'s DT_NEEDED closure: link {importer} "
            f"against {outside[0]} (add it to target_link_libraries) so bionic loads it first."
        )
    if elsewhere:
        return (
            f"The platform's {' and '.join(elsewhere)} exports it, but {importer}'s load group does not "
            f"reach it: link {importer} against {elsewhere[0]} (target_link_libraries)."
        )
    versioned = f" at version {version}" if version else ""
    return (
        f"Nothing in the load group defines it{versioned}, and no platform library of the group exports it at "
        f"any API level. Rebuild {importer} against the headers of the libraries you ship, or ship the version of "
        "the library that provides it (the one it was built against)."
    )


def resolve_abi(
    abi: str,
    libraries: Mapping[str, ElfLibrary],
    unloadable: Iterable[str] = (),
    paths: Mapping[str, str] | None = None,
    platform: PlatformLibs | None = None,
    target_sdk: int | None = None,
    symbols: PlatformSymbols | None = None,
    api: int | None = None,
) -> tuple[dict[str, LoadGroup], list[Finding]]:
    """Load groups of every library of one ABI, and the load failures they predict.

    ``libraries`` maps file names to the loadable libraries of the ABI directory; ``unloadable``
    names packaged libraries the loader rejects (they are reported by their own rules). No
    ``unresolved-symbol`` is reported for a library whose group already fails on a missing or
    unloadable library: the loader stops there first. Each group records the imports only the
    platform provides (judged against the app's minSdk by the platform rules) and those it could
    not check; ``target_sdk`` decides how a path in DT_NEEDED is read on 32-bit ABIs. ``api`` is
    the level judged (the app's minSdk, or the assumed one; default the ABI's first level): an
    import found in no table is left unchecked when a platform library of the group has a table
    that stops below it.
    """
    platform = platform or platform_libs()
    symbols = symbols or platform_symbols()
    paths = paths or {}
    broken = tuple(unloadable)
    spec = abi_specs().get(abi)
    judged = api if api is not None else (spec.first_api if spec is not None else 1)
    basename = spec is not None and spec.bits == 32 and target_sdk is not None and target_sdk < NEEDED_PATH_API
    groups = {name: load_group(name, libraries, broken, platform, basename) for name in sorted(libraries)}
    findings = _missing_library_findings(abi, groups, paths)
    findings.extend(_renamed_findings(abi, groups, paths))
    for importer, group in groups.items():
        if not group.loads:
            continue
        met: list[PlatformImport] = []
        unchecked: list[Unchecked] = []
        unresolved: list[str] = []
        for name, version, version_file in unmet_imports(importer, libraries, group):
            answer = platform_lookup(name, version, version_file, abi, group, symbols, judged)
            if isinstance(answer, PlatformImport):
                met.append(answer)
                continue
            if isinstance(answer, Unchecked):
                unchecked.append(answer)
                continue
            outside = [
                other
                for other in sorted(libraries)
                if other not in group.packaged and defines(libraries[other], name, version)
            ]
            elsewhere = tuple(
                export.library
                for export in symbols.providers(name, abi)
                if export.library not in group.platform and platform.is_public(export.library)
            )
            unresolved.append(name)
            findings.append(
                UNRESOLVED_SYMBOL.finding(
                    abi,
                    importer,
                    f'dlopen failed: cannot locate symbol "{name}" referenced by "{importer}"',
                    _unresolved_hint(importer, outside, elsewhere, version),
                    symbol=name,
                    demangled=demangle(name),
                    version=version,
                    path=paths.get(importer),
                    searched=group.order,
                )
            )
        groups[importer] = replace(
            group, platform_imports=tuple(met), unchecked=tuple(unchecked), unresolved=tuple(unresolved)
        )
    return groups, findings


def _renamed_findings(abi: str, groups: Mapping[str, LoadGroup], paths: Mapping[str, str]) -> list[Finding]:
    """bionic's warning for a path in DT_NEEDED that a 32-bit app targeting API < 23 still loads."""
    seen: dict[tuple[str, str], None] = {}
    for group in groups.values():
        seen.update(dict.fromkeys(group.renamed))
    return [
        MISSING_LIBRARY.finding(
            abi,
            needer,
            f'library "{needer}" has invalid DT_NEEDED entry "{listed}": loaded as '
            f'"{listed.rsplit("/", 1)[1]}" only because the app targets API < {NEEDED_PATH_API} (32-bit)',
            f"Relink the library {needer} needs with -Wl,-soname,{listed.rsplit('/', 1)[1]} and relink {needer} "
            f"against it: from targetSdk {NEEDED_PATH_API} bionic opens the path literally.",
            Severity.WARNING,
            needed=listed,
            path=paths.get(needer),
            extra=(("reason", "path-in-needed"),),
        )
        for needer, listed in seen
    ]
