"""The text report: who crashes and where, one block per finding repeated across ABIs and
libraries, each library's identification, what was not checked, and the verdict line last.

Every line passes through :func:`~symaudit.report.escape.terminal` on its way out: names come
from the artifact, and no control character or ANSI escape of theirs reaches the terminal.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from typing import Any

from symaudit.findings import Horizon, Severity
from symaudit.report.escape import terminal
from symaudit.report.grouping import (
    Group,
    device_line,
    explanation,
    fold,
    groups,
    identity_rows,
    libraries_by_abis,
    rule_of,
    suggestion_change,
)
from symaudit.report.grouping import verdict as _verdict
from symaudit.results import Report

_LABEL = {Severity.ERROR: "ERROR", Severity.WARNING: "WARNING", Severity.INFO: "NOTE"}
_ROWS = 12
"""Identification rows shown before folding (``--verbose`` shows all)."""


def verdict(report: Report) -> str:
    """The verdict line, escaped for a terminal (the CLI also prints it on standard error)."""
    return terminal(_verdict(report, terminal))


def _header(report: Report) -> str:
    abis = sorted({r.abi for r in report.libraries})
    if report.input.kind == "model":
        return f"symaudit {report.tool_version}: {report.input.path} (model)"
    return (
        f"symaudit {report.tool_version}: {report.input.path} ({report.input.kind}, "
        f"{len(report.libraries)} libraries in {len(abis)} ABI(s): {', '.join(abis) or 'none'})"
    )


def _identification(report: Report, verbose: bool) -> list[str]:
    rows = identity_rows(report)
    if not rows:
        return []
    from tabulate import tabulate  # lazy: the verdict line alone must not pay its import

    all_abis = tuple(sorted({r.abi for r in report.libraries}))
    table = []
    for row in rows if verbose else rows[:_ROWS]:
        abis = f"all {len(all_abis)}" if row.abis == all_abis and len(all_abis) > 1 else ", ".join(row.abis)
        names = fold(row.libraries, verbose, limit=3)
        table.append((terminal(names), abis, row.ndk, row.stl, row.page_16k, terminal(row.reference)))
    lines = tabulate(table, headers=("libraries", "ABIs", "NDK", "STL", "16 KB", "reference")).splitlines()
    if len(rows) > len(table):
        lines.append(f"... and {len(rows) - len(table)} more row(s) (--verbose)")
    return [*lines, ""]


def _group_block(group: Group, verbose: bool) -> list[str]:
    rule = rule_of(group.first)
    title = f"{_LABEL[group.severity]} {group.rule}"
    if group.subject:
        title += f": {group.subject}"
    lines = [f"{title}  [{group.where}]"]
    parts = libraries_by_abis(group)
    count = len(group.libraries)
    prefix = f"{count} libraries: " if count > FOLD_LIBRARIES else ""
    where = "; ".join(
        f"{fold(libs, verbose)} ({', '.join(abis)})" if abis else fold(libs, verbose) for libs, abis in parts
    )
    lines.append(f"  in:         {prefix}{where}")
    first = group.first
    device = device_line(first)
    if device is not None:
        lines.append(f"  on device:  {device}")
    why = explanation(first)
    if why is not None:
        lines.append(f"  why:        {why}")
    if rule is not None and rule.horizon is Horizon.PAGE_16K and group.severity is Severity.ERROR:
        lines.append(
            "  who:        devices with 16 KB pages; Google Play requires 16 KB support for apps targeting Android 15+"
        )
    if first.searched:
        lines.append(f"  searched:   {' -> '.join(first.searched)}")
    for change in dict.fromkeys(suggestion_change(f) for f in group.findings):
        if change:
            lines.append(f"  changed:    {change}")
    affected = sorted({name for f in group.findings for name in f.affected})
    if affected:
        lines.append(f"  also fails: {fold(affected, verbose)}")
    hints = group.hints
    for hint in hints if verbose else hints[:1]:
        lines.append(f"  hint:       {hint}")
    if len(hints) > 1 and not verbose:
        lines.append(f"              ({len(hints) - 1} more hint(s) for the other libraries: --verbose)")
    lines.append("")
    return lines


FOLD_LIBRARIES = 5


def _models(report: Report, verbose: bool) -> list[str]:
    models = dict(report.extra).get("models")
    if not isinstance(models, list):
        return []
    lines: list[str] = []
    for model in models:
        if not isinstance(model, Mapping):
            continue
        lines.extend(_model_lines(model, verbose))
    return lines


def _model_lines(model: Mapping[str, Any], verbose: bool) -> list[str]:
    path = model.get("path")
    if model.get("error"):
        return [f"model {path}: unreadable: {model.get('error')}", ""]
    versions = [
        f"file format version {model.get('file_format_version') if model.get('file_format_version') is not None else '-'}",
        f"bytecode version {model.get('bytecode_version') if model.get('bytecode_version') is not None else '-'}",
    ]
    lines = [
        f"model {path}: {model.get('kind')}, {', '.join(versions)}, "
        f"{model.get('operators')} operator(s) (from {model.get('operator_source')})"
    ]
    runtimes = model.get("runtimes") or []
    names = [str(n) for n in model.get("operator_names") or []]
    if runtimes:
        for runtime in runtimes:
            if not isinstance(runtime, Mapping):
                continue
            libraries = ", ".join(str(n) for n in runtime.get("libraries") or [])
            facts = [str(runtime.get("abi") or "?"), f"{runtime.get('operators')} operators"]
            if runtime.get("reference"):
                facts.append(str(runtime["reference"]))
            if runtime.get("version_check"):
                facts.append(str(runtime["version_check"]))
            lines.append(f"  checked against: {libraries} ({'; '.join(facts)})")
        if verbose and names:
            lines.extend(
                textwrap.wrap(", ".join(names), 100, initial_indent="  operators: ", subsequent_indent="    ")
            )
    else:
        lines.append(
            "  checked against: no libtorch runtime (pass --runtime APK|AAR|SO|GROUP:ARTIFACT:VERSION); operators and versions not checked"
        )
        if names:
            lines.extend(
                textwrap.wrap(", ".join(names), 100, initial_indent="  operators: ", subsequent_indent="    ")
            )
    return [*lines, ""]


def _not_checked(report: Report) -> list[str]:
    lines: list[str] = []
    for finding in report.findings:
        rule = rule_of(finding)
        if rule is not None and rule.horizon is Horizon.NOT_CHECKED:
            lines.append(f"not checked: {finding.message}")
            if finding.hint:
                lines.append(f"             {finding.hint}")
    return lines + [""] if lines else []


def render(report: Report, *, verbose: bool = False) -> str:
    lines = [_header(report), ""]
    lines += _identification(report, verbose)
    lines += _models(report, verbose)
    for group in groups(report.findings):
        lines += _group_block(group, verbose)
    lines += _not_checked(report)
    lines.append(_verdict(report, terminal))
    return "\n".join(terminal(line) for line in lines) + "\n"
