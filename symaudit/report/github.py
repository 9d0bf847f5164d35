"""GitHub Actions workflow commands: one ``::error``/``::warning``/``::notice`` annotation per finding.

The annotations carry no ``file=``: the library lives in the built package, not in the repository,
and GitHub would link a path that does not exist. They appear on the workflow run's summary,
titled with the rule, library and ABI. The CLI also appends the Markdown report to
``$GITHUB_STEP_SUMMARY`` when it is set (writing files is the CLI's job, not a renderer's).
"""

from __future__ import annotations

from symaudit.demangle import readable
from symaudit.findings import Finding, Severity
from symaudit.report.text import verdict
from symaudit.results import Report

_COMMANDS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _title(finding: Finding) -> str:
    where = " ".join(part for part in (finding.library, f"({finding.abi})" if finding.abi else None) if part)
    return f"symaudit {finding.rule}: {where}" if where else f"symaudit {finding.rule}"


def _message(finding: Finding) -> str:
    lines = [finding.message]
    if finding.symbol:
        lines.append(f"symbol: {readable(finding.symbol)}")
    if finding.searched:
        lines.append(f"searched: {' -> '.join(finding.searched)}")
    if finding.hint:
        lines.append(f"fix: {finding.hint}")
    return "\n".join(lines)


def annotation(finding: Finding) -> str:
    command = _COMMANDS[finding.severity]
    return f"::{command} title={escape_property(_title(finding))}::{escape_data(_message(finding))}"


def render(report: Report) -> str:
    lines = [annotation(finding) for finding in report.findings]
    lines.append(verdict(report))
    return "\n".join(lines) + "\n"
