"""The bionic dynamic linker, as far as load success is concerned.

For every packaged library of one ABI, this builds the load group bionic builds when that library
is ``dlopen``ed (``System.loadLibrary``): the library, then its DT_NEEDED closure breadth-first
(API 22+). Every non-weak undefined symbol of the library must then be defined by a library of
that group; bionic binds everything at load time, so one miss fails the whole load.

Each library is checked as its own root: Java may load any of them first, and a library whose
imports are only met by a library outside its DT_NEEDED closure fails when loaded on its own.
Platform libraries are not packaged; without an NDK sysroot (see the platform rules) an import the
packaged group does not define is presumed to come from the platform when

* its version names a platform library (``malloc@LIBC`` from ``libc.so``), or
* it is a C name (not ``_Z``), not a C++ runtime entry point (``__cxa_*``, ``__gxx_*``: those come
  from ``libc++_shared.so`` or a static libc++), and the group reaches a platform library, or
* it is one of the handful of C++ names the platform ``libstdc++.so`` exports (operator
  new/delete, ``std::nothrow``) and the group reaches ``libstdc++.so``.

Any other ``_Z`` name must come from a packaged library: the platform's own libc++ lives in
``std::__1``, never in the NDK's ``std::__ndk1``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from symaudit.analysis.platform_libs import PlatformLibs, platform_libs
from symaudit.demangle import demangle
from symaudit.elf.model import ElfLibrary, ExportTable
from symaudit.findings import Finding
from symaudit.rules.core import MISSING_LIBRARY, UNRESOLVED_SYMBOL

# C-named entry points of the C++ runtime: libc never exports them (except the ones listed in
# platform_libs.json and the three libc functions below), so they are never presumed platform-provided.
_CXX_RUNTIME_PREFIXES = ("__cxa_", "__gxx_")
_LIBC_CXA_NAMES = frozenset({"__cxa_atexit", "__cxa_finalize", "__cxa_thread_atexit_impl"})


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

    @property
    def loads(self) -> bool:
        """False when the loader fails before looking at symbols."""
        return not self.missing and not self.unloadable and not self.private


def load_group(
    root: str,
    libraries: Mapping[str, ElfLibrary],
    unloadable: Iterable[str] = (),
    platform: PlatformLibs | None = None,
) -> LoadGroup:
    """bionic's breadth-first DT_NEEDED closure of ``root`` within one ABI directory.

    DT_NEEDED names are matched against file names in the ABI directory (where the loader looks),
    packaged libraries first, then the public platform libraries.
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
    queue = deque([root])
    while queue:
        current = queue.popleft()
        for needed in libraries[current].needed:
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


def unmet_imports(
    importer: str, libraries: Mapping[str, ElfLibrary], group: LoadGroup
) -> Iterator[tuple[str, str | None, str | None]]:
    """(name, version, version file) of each strong import of ``importer`` that no packaged
    library of its load group defines: what the platform must provide, or the load fails."""
    imports = libraries[importer].imports
    weak = imports.weak_mask
    versions, files = imports.versions, imports.version_files
    providers = [libraries[name] for name in group.packaged if name != importer]
    for position, name in enumerate(imports.names):
        if weak[position]:
            continue
        version = versions[position] if versions is not None else None
        if any(defines(provider, name, version) for provider in providers):
            continue
        yield name, version, files[position] if files is not None else None


def presumed_platform(name: str, version_file: str | None, group: LoadGroup, platform: PlatformLibs) -> bool:
    if version_file is not None and version_file in group.platform:
        return True
    if not group.platform:
        return False
    if name.startswith("_Z"):
        return name in platform.cxx_exports and platform.cxx_library in group.platform
    if name.startswith(_CXX_RUNTIME_PREFIXES):
        if name in _LIBC_CXA_NAMES:
            return "libc.so" in group.platform
        return name in platform.cxx_exports and platform.cxx_library in group.platform
    return True


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
        findings.append(
            MISSING_LIBRARY.finding(
                abi,
                needer,
                f'dlopen failed: library "{needed}" not found: needed by {needer}',
                f"Package {needed} in lib/{abi}/ (add the dependency that ships it, or remove a "
                f"packaging exclude that dropped it), or relink {needer} without it.",
                needed=needed,
                path=paths.get(needer),
                affected=tuple(sorted(roots)),
            )
        )
    return findings


def _unresolved_hint(
    importer: str, name: str, outside: list[str], group: LoadGroup, version: str | None
) -> str:
    if outside:
        providers = ", ".join(outside)
        return (
            f"{providers} defines it but is not in {importer}'s DT_NEEDED closure: link {importer} "
            f"against {outside[0]} (add it to target_link_libraries) so bionic loads it first."
        )
    what = "the C++ runtime (libc++_shared.so)" if name.startswith("_ZNSt6__ndk1") else "its provider"
    versioned = f" at version {version}" if version else ""
    return (
        f"Nothing in the load group defines it{versioned}. Rebuild {importer} against the headers of "
        f"the libraries you ship, or ship the version of {what} it was built against."
    )


def resolve_abi(
    abi: str,
    libraries: Mapping[str, ElfLibrary],
    unloadable: Iterable[str] = (),
    paths: Mapping[str, str] | None = None,
    platform: PlatformLibs | None = None,
) -> tuple[dict[str, LoadGroup], list[Finding]]:
    """Load groups of every library of one ABI, and the load failures they predict.

    ``libraries`` maps file names to the loadable libraries of the ABI directory; ``unloadable``
    names packaged libraries the loader rejects (they are reported by their own rules). No
    ``unresolved-symbol`` is reported for a library whose group already fails on a missing or
    unloadable library: the loader stops there first.
    """
    platform = platform or platform_libs()
    paths = paths or {}
    broken = tuple(unloadable)
    groups = {name: load_group(name, libraries, broken, platform) for name in sorted(libraries)}
    findings = _missing_library_findings(abi, groups, paths)
    for importer, group in groups.items():
        if not group.loads:
            continue
        for name, version, version_file in unmet_imports(importer, libraries, group):
            if presumed_platform(name, version_file, group, platform):
                continue
            outside = [
                other
                for other in sorted(libraries)
                if other not in group.packaged and defines(libraries[other], name, version)
            ]
            findings.append(
                UNRESOLVED_SYMBOL.finding(
                    abi,
                    importer,
                    f'dlopen failed: cannot locate symbol "{name}" referenced by "{importer}"',
                    _unresolved_hint(importer, name, outside, group, version),
                    symbol=name,
                    demangled=demangle(name),
                    version=version,
                    path=paths.get(importer),
                    searched=group.order,
                )
            )
    return groups, findings
