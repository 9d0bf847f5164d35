"""The plug-in contract between the audit engine and the analyses it runs: what an analysis
gets (:class:`AbiContext`) and the shapes of the callables an audit suite lists. Below the
engine, so an analysis never imports it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from symaudit.analysis.linker import LoadGroup
from symaudit.containers.base import LibraryEntry, Package, PackageKind
from symaudit.elf.model import ElfLibrary
from symaudit.findings import Finding
from symaudit.results import AppFacts, Report


@dataclass(frozen=True, slots=True)
class AbiContext:
    """Everything an ABI-level analysis gets: the loadable models and what the linker found."""

    abi: str
    libraries: Mapping[str, ElfLibrary]
    unloadable: tuple[str, ...]
    paths: Mapping[str, str]
    groups: Mapping[str, LoadGroup]
    entries: Mapping[str, LibraryEntry] = field(default_factory=dict)
    """The container entry of every library of the ABI (loadable or not), by file name."""
    app: AppFacts | None = None
    package_kind: PackageKind | None = None
    digests: Mapping[str, str | None] = field(default_factory=dict)
    """sha256 of every library of the ABI (None when its bytes could not be read), by file name."""


AbiAnalysis = Callable[[AbiContext], Iterable[Finding]]
"""Findings about one ABI. Runs after the link resolver, while the ABI's models are in memory."""

FindingRefiner = Callable[[AbiContext, Finding], Finding]
"""Adds facts to one finding of the ABI (``suggestion`` on ``unresolved-symbol``), models in memory."""


@dataclass(frozen=True, slots=True)
class Annotator:
    """Adds fields to each library's record (``ndk``, ``stl``, ``reference``, ...).

    ``annotate`` runs once per loadable library while its ABI is in memory; libraries that could
    not be read get every name of ``fields`` as ``None``, so the JSON keeps one shape.
    """

    fields: tuple[str, ...]
    annotate: Callable[[AbiContext, str], Mapping[str, object]]


@dataclass(frozen=True, slots=True)
class PackageResult:
    findings: tuple[Finding, ...] = ()
    fields: tuple[tuple[str, object], ...] = ()


PackageAnalysis = Callable[[Package, Report], PackageResult]
"""Runs once after every ABI (model checks, reference lookups that need the whole package)."""


@dataclass(frozen=True, slots=True)
class Suite:
    """The analyses of one kind of audit, in the order they run (see :mod:`symaudit.suites`)."""

    analyses: Sequence[AbiAnalysis] = ()
    annotators: Sequence[Annotator] = ()
    refiners: Sequence[FindingRefiner] = ()
    """Run over every finding of the ABI (the engine's and the analyses'), in order."""
    package_analyses: Sequence[PackageAnalysis] = ()
