"""Which reference build a packaged library is, and which references a consumer fits. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from symaudit.maven.coordinates import Coordinate, version_key
from symaudit.references.families import MODULE_ORDER, homes
from symaudit.references.manifest import ReferenceManifest
from symaudit.results import ReferenceMatch

CLOSEST_THRESHOLD = 0.5
"""Below this Jaccard similarity of export sets a library is not called any reference."""


@dataclass(frozen=True, slots=True)
class Identification:
    """The reference a library was identified as, with parsed coordinates; the fields mean what
    :class:`~symaudit.results.ReferenceMatch`'s do."""

    coordinate: Coordinate
    match: str
    similarity: float
    coordinates: tuple[Coordinate, ...]

    def record(self) -> ReferenceMatch:
        """What the report keeps of it."""
        return ReferenceMatch(str(self.coordinate), self.match, self.similarity, tuple(str(c) for c in self.coordinates))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def _preference(name: str, coordinate: Coordinate) -> tuple[int, tuple[tuple[int, int | str], ...]]:
    """The module the file most likely comes from first; then the newest version."""
    order = [*homes(name), *MODULE_ORDER]
    module = Coordinate(coordinate.group, coordinate.artifact)
    rank = order.index(module) if module in order else len(order)
    return (-rank, version_key(coordinate.version or ""))


def identify(
    abi: str, name: str, sha256: str | None, exports: frozenset[str], manifests: Sequence[ReferenceManifest]
) -> Identification | None:
    candidates = [(m.coordinate, lib) for m in manifests if (lib := m.library(abi, name)) is not None]
    if not candidates:
        return None
    exact = [c for c, lib in candidates if sha256 is not None and lib.sha256 == sha256]
    if exact:
        ranked = sorted(exact, key=lambda c: _preference(name, c), reverse=True)
        return Identification(ranked[0], "exact", 1.0, tuple(sorted(exact, key=_sort)))
    scored = [(jaccard(exports, lib.exports), c) for c, lib in candidates]
    best = max(score for score, _ in scored)
    if best < CLOSEST_THRESHOLD:
        return None
    tied = [c for score, c in scored if score == best]
    ranked = sorted(tied, key=lambda c: _preference(name, c), reverse=True)
    return Identification(ranked[0], "closest", best, tuple(sorted(tied, key=_sort)))


def _sort(coordinate: Coordinate) -> tuple[str, str, tuple[tuple[int, int | str], ...]]:
    return (coordinate.group, coordinate.artifact, version_key(coordinate.version or ""))


def compatible(abi: str, imports: Iterable[str], manifests: Sequence[ReferenceManifest]) -> list[Coordinate]:
    """References whose libraries of ``abi`` together define every one of ``imports``."""
    needed = frozenset(imports)
    found = [m.coordinate for m in manifests if abi in m.abis and needed <= m.exports(abi)]
    return sorted(found, key=_sort)


def describe_versions(coordinates: Sequence[Coordinate]) -> str:
    """``org.pytorch:pytorch_android 1.10.0 .. 1.13.1`` (grouped by module, in version order)."""
    by_module: dict[str, list[str]] = {}
    for c in coordinates:
        by_module.setdefault(c.module, []).append(c.version or "?")
    parts = []
    for module, versions in by_module.items():
        versions.sort(key=version_key)
        shown = versions[0] if len(versions) == 1 else f"{versions[0]} .. {versions[-1]}"
        parts.append(f"{module} {shown}")
    return ", ".join(parts)
