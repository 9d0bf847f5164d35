"""``--baseline``: report only findings that are new relative to an earlier JSON report.

A team adopting symaudit on an existing app records today's findings once (``--write-baseline``)
and from then on fails only on what a change adds. Findings are matched by
:attr:`Finding.identity` — (rule, abi, library, symbol or needed) — so a reworded message or a
changed hint does not make an old finding look new, and a severity override does not either.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from symaudit.findings import Finding
from symaudit.results import Report

Identity = tuple[str, str | None, str | None, str | None]


@dataclass(frozen=True, slots=True)
class Baseline:
    path: str
    identities: frozenset[Identity]


def load_baseline(path: str | Path) -> Baseline:
    from symaudit.report.from_json import load_report  # the report reader, only when a baseline is given

    report = load_report(path)
    return Baseline(str(path), frozenset(f.identity for f in report.findings))


def split_findings(
    findings: Iterable[Finding], baseline: Baseline
) -> tuple[tuple[Finding, ...], tuple[Finding, ...]]:
    """(new, known): the findings not in the baseline, and those it already records."""
    new: list[Finding] = []
    known: list[Finding] = []
    for finding in findings:
        (known if finding.identity in baseline.identities else new).append(finding)
    return tuple(new), tuple(known)


def settle(
    report: Report, severity: Sequence[tuple[str, str]], baseline: Baseline | None
) -> tuple[Report, Report]:
    """(the whole report with the configured severities, what is left to report after the
    baseline). The first is what ``--write-baseline`` records for the next run."""
    from symaudit.config import apply_severity

    if severity:
        report = replace(report, findings=apply_severity(report.findings, severity))
    if baseline is None:
        return report, report
    new, known = split_findings(report.findings, baseline)
    summary = {"path": baseline.path, "known": len(known)}
    return report, replace(report, findings=new, extra=(*report.extra, ("baseline", summary)))
