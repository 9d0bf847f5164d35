"""Libraries that some ABI directories of a package have and another lacks."""

from __future__ import annotations

from collections.abc import Mapping

from symaudit.analysis.context import PackageResult
from symaudit.containers.base import Package, PackageKind
from symaudit.findings import Finding
from symaudit.results import Report
from symaudit.rules.core import ABI_INCOMPLETE


def abi_incomplete(names_by_abi: Mapping[str, set[str]]) -> list[Finding]:
    """One ``abi-incomplete`` finding per (ABI lacking a library, library).

    A device installs one ABI directory only, so every ABI directory the package has must hold
    every library; an ABI the package has no directory for is not judged (devices fall back).
    """
    findings = []
    everything = set().union(*names_by_abi.values()) if names_by_abi else set()
    for abi in sorted(names_by_abi):
        names = names_by_abi[abi]
        for name in sorted(everything - names):
            have = sorted(other for other, present in names_by_abi.items() if name in present)
            findings.append(
                ABI_INCOMPLETE.finding(
                    abi,
                    name,
                    f"{name} is packaged for {', '.join(have)} but not for {abi}",
                    f"Build {name} for {abi} too (check abiFilters of every module), or drop {abi} from the package.",
                )
            )
    return findings


def abi_coverage(package: Package, report: Report) -> PackageResult:
    """``abi-incomplete`` over the libraries of the report; loose files have no ABI folders."""
    if package.kind is PackageKind.FILES:
        return PackageResult()
    names_by_abi: dict[str, set[str]] = {}
    for record in report.libraries:
        names_by_abi.setdefault(record.abi, set()).add(record.name)
    return PackageResult(findings=tuple(abi_incomplete(names_by_abi)))
