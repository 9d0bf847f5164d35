"""The reference analyses of one audit: identification and compatibility annotations, the
``libtorch-version-mismatch`` and ``references-unavailable`` findings, and the ``suggestion`` of
each ``unresolved-symbol``. Pure: the manifests are loaded before the audit starts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from symaudit.analysis.context import AbiContext, Annotator, PackageResult
from symaudit.containers.base import Package
from symaudit.demangle import demangle
from symaudit.elf.model import ElfLibrary
from symaudit.findings import Finding, Suggestion
from symaudit.maven.coordinates import Coordinate
from symaudit.references.families import RUNTIME_NAMES, is_family_symbol, is_reference_library
from symaudit.results import Report
from symaudit.rules.core import UNRESOLVED_SYMBOL
from symaudit.rules.references import LIBTORCH_VERSION_MISMATCH, REFERENCES_UNAVAILABLE

if TYPE_CHECKING:  # identification and symbol matching are imported when there is a reference
    from symaudit.references.identify import Identification
    from symaudit.references.manifest import ReferenceManifest


def family_imports(library: ElfLibrary) -> frozenset[str]:
    return frozenset(name for name in library.imports.names if is_family_symbol(name))


class ReferenceAudit:
    """Holds the loaded manifests and what was worked out per (ABI, library) during one audit."""

    def __init__(
        self,
        manifests: Sequence[ReferenceManifest] = (),
        problems: Sequence[str] = (),
        modules: Sequence[Coordinate] = (),
    ) -> None:
        self.manifests = tuple(manifests)
        self.problems = tuple(problems)
        self.modules = tuple(modules)
        self._identified: dict[tuple[str, str], Identification | None] = {}

    # --- per library -----------------------------------------------------------------------

    def identification(self, ctx: AbiContext, name: str) -> Identification | None:
        key = (ctx.abi, name)
        if key not in self._identified:
            library = ctx.libraries.get(name)
            found = None
            if library is not None and is_reference_library(name) and self.manifests:
                from symaudit.references.identify import identify

                found = identify(
                    ctx.abi, name, ctx.digests.get(name), library.exports.name_set, self.manifests
                )
            self._identified[key] = found
        return self._identified[key]

    def _compatible(self, ctx: AbiContext, name: str) -> list[Coordinate] | None:
        library = ctx.libraries.get(name)
        if library is None or not self.manifests:
            return None
        from symaudit.references.identify import compatible

        imports = family_imports(library)
        return compatible(ctx.abi, imports, self.manifests) if imports else None

    def annotate(self, ctx: AbiContext, name: str) -> dict[str, object]:
        found = self.identification(ctx, name)
        fits = self._compatible(ctx, name)
        return {
            "reference": found.record() if found is not None else None,
            "compatible_references": tuple(str(c) for c in fits) if fits is not None else None,
        }

    @property
    def annotator(self) -> Annotator:
        return Annotator(("reference", "compatible_references"), self.annotate)

    # --- ABI analysis ----------------------------------------------------------------------

    def mismatches(self, ctx: AbiContext) -> Iterable[Finding]:
        if not self.manifests:
            return
        for name in sorted(ctx.libraries):
            library = ctx.libraries[name]
            imports = family_imports(library)
            group = ctx.groups.get(name)
            if not imports or group is None:
                continue
            providers = [p for p in group.packaged if p != name and p in ctx.libraries]
            provided = frozenset().union(*(ctx.libraries[p].exports.name_set for p in providers))
            missing = imports - provided
            from symaudit.references.identify import compatible

            fits = compatible(ctx.abi, imports, self.manifests)
            if not missing or not fits:
                continue
            runtime = self._runtime(ctx, providers, imports)
            found = self.identification(ctx, runtime) if runtime else None
            yield self._mismatch(ctx, name, runtime, found, fits, missing)

    def _runtime(self, ctx: AbiContext, providers: Sequence[str], imports: frozenset[str]) -> str | None:
        """The packaged library standing for "the runtime": a libpytorch_jni*/libtorch* one first,
        else the reference library providing the most of the consumer's imports."""
        named = [p for p in providers if RUNTIME_NAMES.match(p)]
        pool = named or [p for p in providers if is_reference_library(p)]
        if not pool:
            return None
        return max(pool, key=lambda p: (len(imports & ctx.libraries[p].exports.name_set), p))

    def _mismatch(
        self,
        ctx: AbiContext,
        name: str,
        runtime: str | None,
        found: Identification | None,
        fits: list[Coordinate],
        missing: frozenset[str],
    ) -> Finding:
        if found is not None:
            shipped = f"{found.coordinate.module} {found.coordinate.version} ({found.match} match)"
        elif runtime is not None:
            shipped = f"a {runtime} matching no reference"
        else:
            shipped = "no runtime that defines them"
        from symaudit.references.identify import describe_versions

        built = describe_versions(fits)
        latest = fits[-1]
        target = f"{found.coordinate}" if found is not None else (runtime or "the packaged runtime")
        return LIBTORCH_VERSION_MISMATCH.finding(
            ctx.abi,
            name,
            f"{name} needs {built}; the package ships {shipped}, which lacks "
            f"{len(missing)} of its libtorch/fbjni imports",
            f"Rebuild {name} against the headers of {target}, or package {latest}.",
            path=ctx.paths.get(name),
            extra=(
                ("built_against", [str(c) for c in fits]),
                ("shipped", str(found.coordinate) if found is not None else None),
                ("shipped_library", runtime),
                ("shipped_match", found.match if found is not None else None),
                ("missing", sorted(missing)),
            ),
        )

    # --- suggestions -----------------------------------------------------------------------

    def refine(self, ctx: AbiContext, finding: Finding) -> Finding:
        if finding.rule != UNRESOLVED_SYMBOL.id or not finding.symbol or finding.library is None:
            return finding
        suggestion = self.suggest(ctx, finding.library, finding.symbol)
        return replace(finding, extra=(*finding.extra, ("suggestion", suggestion)))

    def suggest(self, ctx: AbiContext, importer: str, symbol: str) -> Suggestion | None:
        """The nearest export of the shipped libraries: the same qualified function with another
        signature (by demangled name), else the closest mangled name."""
        from symaudit.references.symbols import closest_name, same_function

        group = ctx.groups.get(importer)
        ordered = [p for p in (group.packaged if group else ()) if p != importer and p in ctx.libraries]
        ordered += [p for p in sorted(ctx.libraries) if p not in ordered and p != importer]
        for provider in ordered:
            same = same_function(symbol, ctx.libraries[provider].exports.names)
            if same:
                return self._suggestion(ctx, provider, same[0], "same-function")
        best: tuple[str, str] | None = None
        for provider in ordered:
            close = closest_name(symbol, ctx.libraries[provider].exports.names)
            if close is not None:
                best = (provider, close)
                break
        return self._suggestion(ctx, best[0], best[1], "similar-name") if best else None

    def _suggestion(self, ctx: AbiContext, provider: str, name: str, kind: str) -> Suggestion:
        found = self.identification(ctx, provider)
        return Suggestion(name, demangle(name), provider, kind, str(found.coordinate) if found is not None else None)

    # --- package level ---------------------------------------------------------------------

    def package_result(self, package: Package, report: Report) -> PackageResult:
        fields: tuple[tuple[str, object], ...] = (
            (
                "references",
                {
                    "modules": [str(m) for m in self.modules],
                    "loaded": [str(m.coordinate) for m in self.manifests],
                    "problems": list(self.problems),
                },
            ),
        )
        if not self.problems:
            return PackageResult(fields=fields)
        first = self.problems[0]
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        finding = REFERENCES_UNAVAILABLE.finding(
            None,
            None,
            f"reference builds unavailable: {first}{more}; audited without them",
            "Run once with network access (or `symaudit refs fetch`), or point --maven-repo at "
            "a reachable repository; the other checks are unaffected.",
            extra=(("problems", list(self.problems)),),
        )
        return PackageResult(findings=(finding,), fields=fields)
