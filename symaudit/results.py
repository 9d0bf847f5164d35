"""What an audit produces: the report and its records. Plain frozen data below the engine, so
analyses and report formats read it without importing the engine that fills it."""

from __future__ import annotations

from dataclasses import dataclass, field

from symaudit import __version__
from symaudit.findings import Finding, extra_field, has_shape


@dataclass(frozen=True, slots=True)
class AppFacts:
    """What the app's AndroidManifest.xml says (read by :mod:`symaudit.containers.android_manifest`)."""

    package: str | None = None
    min_sdk: int | None = None
    """None when the manifest does not say (no uses-sdk: the platform assumes 1)."""
    target_sdk: int | None = None
    extract_native_libs: bool | None = None
    """None when the attribute is absent (the platform's default is true)."""
    min_sdk_source: str | None = None
    """Where ``min_sdk`` came from: the manifest's path in the package, or ``--min-sdk``."""
    problem: str | None = None
    """Why the manifest could not be read, when there was one and it could not."""


@dataclass(frozen=True, slots=True)
class InputRecord:
    path: str
    kind: str
    sha256: str | None


@dataclass(frozen=True, slots=True)
class ReferenceMatch:
    """The Maven reference build a packaged library was identified as (references analysis)."""

    coordinate: str
    match: str
    """``exact`` (same sha256) or ``closest`` (highest Jaccard similarity of exported names)."""
    similarity: float
    coordinates: tuple[str, ...]
    """Every reference equally good (an identical libfbjni.so ships in several AARs)."""

    def as_json(self) -> dict[str, object]:
        return {
            "coordinate": self.coordinate,
            "match": self.match,
            "similarity": round(self.similarity, 4),
            "coordinates": list(self.coordinates),
        }

    @classmethod
    def from_json(cls, data: object) -> ReferenceMatch | None:
        """The match a JSON report holds; None when ``data`` is not exactly one."""
        shape = {"coordinate": (str,), "match": (str,), "similarity": (int, float), "coordinates": (list,)}
        if not has_shape(data, shape) or not all(isinstance(c, str) for c in data["coordinates"]):
            return None
        return cls(data["coordinate"], data["match"], data["similarity"], tuple(data["coordinates"]))


@dataclass(frozen=True, slots=True)
class LibraryRecord:
    """What the report says about one packaged library (the model itself is not kept)."""

    abi: str
    name: str
    path: str
    sha256: str | None
    size: int
    soname: str | None = None
    needed: tuple[str, ...] = ()
    machine: str | None = None
    elf_class: int | None = None
    exports: int | None = None
    imports: int | None = None
    load_group: tuple[str, ...] = ()
    compressed: bool = False
    container: str | None = None
    error: str | None = None
    """Why the library could not be read, when it could not."""
    extra: tuple[tuple[str, object], ...] = field(default=())
    """Fields the suite's annotators added (``ndk``, ``stl``, ``reference``, ...), in their order."""

    @property
    def reference(self) -> ReferenceMatch | None:
        return extra_field(self.extra, "reference", ReferenceMatch)

    @property
    def compatible_references(self) -> tuple[str, ...] | None:
        """Reference builds whose exports cover the library's libtorch/fbjni imports."""
        return extra_field(self.extra, "compatible_references", tuple)


@dataclass(frozen=True, slots=True)
class Report:
    input: InputRecord
    libraries: tuple[LibraryRecord, ...]
    findings: tuple[Finding, ...]
    tool_version: str = __version__
    app: AppFacts | None = None
    """Facts from the package's AndroidManifest.xml (and ``--min-sdk``), when there are any."""
    extra: tuple[tuple[str, object], ...] = ()
    """Top-level report fields added by package analyses (``models``, ``references``, ...)."""

    def count(self, severity: str) -> int:
        return sum(1 for f in self.findings if f.severity.value == severity)
