"""GitHub Actions workflow commands: one annotation per group of findings, within what GitHub shows.

GitHub displays 10 error, 10 warning and 10 notice annotations per step and drops the rest
silently (REFERENCE.md 9.2), so groups go out most important first (load failures on every device,
then below an API level, then 16 KB pages), at most :data:`LIMIT` per level; what is left is
counted in one ``::notice`` and is in the job summary, where the CLI appends the Markdown report.

The annotations carry no ``file=``: the library lives in the built package, not in the repository.
Every untrusted name is escaped for the workflow command it lands in (:mod:`.escape`); the verdict
line is escaped for the terminal, so a name cannot start a line of its own.
"""

from __future__ import annotations

from symaudit.findings import Severity
from symaudit.report.escape import terminal, workflow_data, workflow_property
from symaudit.report.grouping import (
    Group,
    device_line,
    explanation,
    fold,
    groups,
    libraries_by_abis,
    not_checked,
)
from symaudit.report.text import verdict
from symaudit.results import Report

LIMIT = 10
_COMMANDS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}

# Kept for callers of the previous module API.
escape_data = workflow_data
escape_property = workflow_property


def _title(group: Group) -> str:
    title = f"symaudit {group.rule}"
    if group.subject:
        title += f": {group.subject}"
    return f"{title} ({group.where})"


def _message(group: Group, verbose: bool) -> str:
    """The annotation's lines, each escaped for the terminal: a name's own CR or LF is shown as
    ``\\x0a``, never turned into a line of the message."""
    where = "; ".join(
        f"{fold(libs, verbose)} ({', '.join(abis)})" if abis else fold(libs, verbose)
        for libs, abis in libraries_by_abis(group)
    )
    lines = [f"{len(group.libraries)} libraries: {where}" if len(group.libraries) > 1 else f"in {where}"]
    device = device_line(group.first)
    if device is not None:
        lines.append(f"on device: {device}")
    why = explanation(group.first)
    if why is not None:
        lines.append(why)
    if group.first.searched:
        lines.append(f"searched: {' -> '.join(group.first.searched)}")
    if group.hints:
        lines.append(f"fix: {group.hints[0]}")
    return "\n".join(terminal(line) for line in lines)


def annotation(group: Group, verbose: bool = False) -> str:
    command = _COMMANDS[group.severity]
    # terminal() first: control characters from names shown, not obeyed, by the log viewer too.
    title = workflow_property(terminal(_title(group)))
    message = workflow_data(_message(group, verbose))
    return f"::{command} title={title}::{message}"


def render(report: Report, *, verbose: bool = False) -> str:
    lines: list[str] = []
    left: dict[Severity, int] = {}
    shown: dict[Severity, int] = {}
    for group in groups(report.findings):
        if shown.get(group.severity, 0) >= LIMIT:
            left[group.severity] = left.get(group.severity, 0) + 1
            continue
        shown[group.severity] = shown.get(group.severity, 0) + 1
        lines.append(annotation(group, verbose))
    skipped = not_checked(report)
    if skipped:
        lines.append(f"::notice title=symaudit%3A not checked::{workflow_data(terminal(', '.join(skipped)))}")
    if left:
        counts = ", ".join(f"{n} more {_COMMANDS[s]} group(s)" for s, n in left.items())
        lines.append(
            f"::notice title=symaudit%3A more findings::{workflow_data(counts)} not annotated "
            "(GitHub shows 10 per level); the job summary and the JSON report list every finding"
        )
    lines.append(verdict(report))
    return "\n".join(lines) + "\n"
