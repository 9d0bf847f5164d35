"""The Markdown report: what the pull-request comment and the GitHub step summary show.

The verdict first (a reviewer decides from one line: who cannot load, and where), then one table
row per group of findings (the same rule and symbol or needed library across ABIs and libraries),
most important first, then the device messages and fixes and each library's identification folded
into ``<details>``. A report with no findings says so in green, so the same sticky comment turns
green when a pull request fixes the problem.

Names come from the artifact: they go into code spans (no HTML, link or mention is rendered
there) and other text through :func:`~symaudit.report.escape.md_text`.
"""

from __future__ import annotations

from symaudit.findings import Severity
from symaudit.report import grouping
from symaudit.report.escape import md_code, md_text
from symaudit.results import Report

_ICONS = {Severity.ERROR: ":x:", Severity.WARNING: ":warning:", Severity.INFO: ":information_source:"}
MAX_ROWS = 50
"""Groups in the table (and in the details) before the rest is summarised in one line."""
MAX_NAMES = 5
"""Library names per cell before the rest is counted (``--verbose`` lists all)."""


def _names(names: list[str], verbose: bool, *, table: bool = False) -> str:
    shown = names if verbose else names[:MAX_NAMES]
    text = ", ".join(md_code(name, table=table) for name in shown)
    return text + (f" and {len(names) - len(shown)} more" if len(shown) < len(names) else "")


def _where(group: grouping.Group, verbose: bool, *, table: bool = False) -> str:
    parts = []
    for libraries, abis in grouping.libraries_by_abis(group):
        text = _names(libraries, verbose, table=table)
        parts.append(f"{text} ({', '.join(abis)})" if abis else text)
    return "; ".join(parts)


def _headline(report: Report) -> str:
    line = grouping.verdict(report, md_code)
    if report.count("error"):
        icon = ":x:"
    elif report.count("warning"):
        icon = ":warning:"
    elif line.startswith("NOT CHECKED"):
        icon = ":grey_question:"
    else:
        icon = ":white_check_mark:"
    return f"### {icon} symaudit — {line}"


def _context(report: Report) -> str:
    abis = sorted({r.abi for r in report.libraries})
    parts = [
        md_code(report.input.path),
        report.input.kind,
        f"{len(report.libraries)} libraries in {len(abis)} ABI(s)",
        f"symaudit {report.tool_version}",
    ]
    return " · ".join(parts)


def _baseline_note(report: Report) -> str | None:
    baseline = dict(report.extra).get("baseline")
    if not isinstance(baseline, dict):
        return None
    known = baseline.get("known")
    if not isinstance(known, int) or known == 0:
        return None
    return f"{known} finding(s) already recorded in the baseline {md_code(str(baseline.get('path')))} are not shown."


def _title(group: grouping.Group, *, table: bool) -> str:
    title = md_code(group.rule, table=table)
    return f"{title} {md_code(group.subject, table=table)}" if group.subject else title


def _table(found: list[grouping.Group], verbose: bool) -> list[str]:
    lines = ["", "| | finding | fails | libraries (ABIs) |", "|---|---|---|---|"]
    for group in found[:MAX_ROWS]:
        lines.append(
            f"| {_ICONS[group.severity]} | {_title(group, table=True)} | {group.where} | "
            f"{_where(group, verbose, table=True)} |"
        )
    if len(found) > MAX_ROWS:
        lines.append(f"| | … and {len(found) - MAX_ROWS} more | | |")
    return lines


def _details(found: list[grouping.Group], verbose: bool) -> list[str]:
    lines = ["", "<details><summary>What fails on the device, and how to fix it</summary>", ""]
    for group in found[:MAX_ROWS]:
        first = group.first
        lines.append(f"**{_title(group, table=False)}** ({group.where})")
        lines.append(f"- in: {_where(group, verbose)}")
        device = grouping.device_line(first)
        if device is not None:
            lines.append(f"- on device: {md_code(device)}")
        why = grouping.explanation(first)
        if why is not None:
            lines.append(f"- why: {md_text(why)}")
        if first.searched:
            lines.append(f"- searched: {' → '.join(md_code(name) for name in first.searched)}")
        for change in dict.fromkeys(grouping.suggestion_change(f, md_code) for f in group.findings):
            if change:
                lines.append(f"- changed: {change}")
        affected = sorted({name for f in group.findings for name in f.affected})
        if affected:
            lines.append(f"- also fails: {_names(affected, verbose)}")
        hints = group.hints if verbose else group.hints[:1]
        for hint in hints:
            lines.append(f"- fix: {md_text(hint)}")
        lines.append("")
    if len(found) > MAX_ROWS:
        lines += [f"… and {len(found) - MAX_ROWS} more (see the JSON or SARIF report).", ""]
    lines.append("</details>")
    return lines


def _identification(report: Report, verbose: bool) -> list[str]:
    rows = grouping.identity_rows(report)
    if not rows:
        return []
    lines = [
        "",
        "<details><summary>Libraries: NDK, STL, 16 KB pages, reference</summary>",
        "",
        "| libraries | ABIs | NDK | STL | 16 KB | reference |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        names = _names(list(row.libraries), verbose, table=True)
        reference = md_code(row.reference, table=True) if row.reference != "-" else "-"
        lines.append(
            f"| {names} | {', '.join(row.abis)} | {md_text(row.ndk)} | {md_code(row.stl, table=True)} | "
            f"{row.page_16k} | {reference} |"
        )
    lines += ["", "</details>"]
    return lines


def _not_checked(report: Report) -> list[str]:
    skipped = grouping.not_checked(report)
    if not skipped:
        return []
    return ["", "**Not checked:** " + "; ".join(md_text(item) for item in skipped)]


def render(report: Report, *, verbose: bool = False) -> str:
    lines = [_headline(report), "", _context(report)]
    note = _baseline_note(report)
    found = grouping.groups(report.findings)
    if not found:
        text = "No findings: every native library will load." if report.libraries else "No findings."
        lines += ["", text + (f" {note}" if note else "")]
        lines += _not_checked(report)
        lines += _identification(report, verbose)
        return "\n".join(lines) + "\n"
    if note:
        lines += ["", note]
    lines += _table(found, verbose)
    lines += _details(found, verbose)
    lines += _identification(report, verbose)
    lines += _not_checked(report)
    return "\n".join(lines) + "\n"
