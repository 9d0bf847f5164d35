"""The Markdown report: what the pull-request comment and the GitHub step summary show.

Verdict first (a reviewer decides from one line), then one compact table per ABI — ABIs with the
same findings share a table, as they usually do — and the messages, searched libraries and fixes
folded into ``<details>``. A report with no findings says so in green, so the same sticky comment
turns green when a pull request fixes the problem.
"""

from __future__ import annotations

import re
from collections import defaultdict

from symaudit.demangle import readable
from symaudit.findings import Finding, Severity
from symaudit.report.text import verdict
from symaudit.results import Report

_ICONS = {Severity.ERROR: ":x:", Severity.WARNING: ":warning:", Severity.INFO: ":information_source:"}
MAX_ROWS = 50
"""Rows per table (and entries in the details) before the rest is summarised in one line."""


def _cell(text: str) -> str:
    return _one_line(text).replace("|", "\\|")


def _one_line(text: str) -> str:
    return text.replace("\r", " ").replace("\n", " ")


_MARKUP = frozenset("\\`*_<>[]|~&")


def _text(text: str) -> str:
    """Plain text (a message quoting ``std::vector<int>`` or ``char*``) that Markdown must not read
    as HTML, emphasis or a link; also safe in a table cell (``|`` escaped)."""
    return "".join(f"\\{char}" if char in _MARKUP else char for char in _one_line(text))


def _code(text: str, *, table: bool = False) -> str:
    """A code span. Inside a table GitHub needs ``\\|`` even in code; outside one the backslash shows."""
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{_cell(text) if table else _one_line(text)}{pad}{fence}"


def _subject(finding: Finding) -> str:
    if finding.symbol:
        shown = readable(finding.symbol)
        return f"{shown}@{finding.version}" if finding.version else shown
    return finding.needed or ""


def _headline(report: Report) -> str:
    line = verdict(report)
    if report.count("error"):
        icon = ":x:"
    elif report.count("warning"):
        icon = ":warning:"
    else:
        icon = ":white_check_mark:"
    return f"### {icon} symaudit — {line}"


def _context(report: Report) -> str:
    abis = sorted({r.abi for r in report.libraries})
    parts = [
        _code(report.input.path),
        report.input.kind,
        f"{len(report.libraries)} libraries in {len(abis)} ABI(s)",
        f"symaudit {report.tool_version}",
    ]
    return " · ".join(parts)


def _baseline_note(report: Report) -> str | None:
    extra = dict(report.extra)
    baseline = extra.get("baseline")
    if not isinstance(baseline, dict):
        return None
    known = baseline.get("known")
    if not isinstance(known, int) or known == 0:
        return None
    return f"{known} finding(s) already recorded in the baseline `{baseline.get('path')}` are not shown."


def _row(finding: Finding) -> tuple[str, ...]:
    subject = _subject(finding)
    return (
        f"{_ICONS[finding.severity]} {finding.severity.value}",
        _code(finding.rule, table=True),
        _code(finding.library, table=True) if finding.library else "(package)",
        _code(subject, table=True) if subject else "",
    )


def _tables(findings: tuple[Finding, ...]) -> list[str]:
    by_abi: dict[str, list[Finding]] = defaultdict(list)
    for finding in findings:
        by_abi[finding.abi or "package"].append(finding)
    # ABIs whose rows are identical share one table: a 4-ABI app with one bad library shows one.
    shared: dict[tuple[tuple[str, ...], ...], list[str]] = defaultdict(list)
    for abi in sorted(by_abi):
        shared[tuple(_row(f) for f in by_abi[abi])].append(abi)
    lines: list[str] = []
    for rows, abis in shared.items():
        lines += [
            "",
            f"**{', '.join(abis)}**",
            "",
            "| severity | rule | library | symbol / needed library |",
            "|---|---|---|---|",
        ]
        lines += ["| " + " | ".join(row) + " |" for row in rows[:MAX_ROWS]]
        if len(rows) > MAX_ROWS:
            lines.append(f"| | | | … and {len(rows) - MAX_ROWS} more |")
    return lines


def _details(findings: tuple[Finding, ...]) -> list[str]:
    groups: dict[tuple[str, str | None, str], list[Finding]] = {}
    for finding in findings:
        groups.setdefault((finding.rule, finding.library, _subject(finding)), []).append(finding)
    lines = ["", "<details><summary>What fails on the device, and how to fix it</summary>", ""]
    for (rule, library, subject), members in list(groups.items())[:MAX_ROWS]:
        abis = ", ".join(sorted({f.abi for f in members if f.abi}))
        title = f"**{_code(library)}**" if library else "**(package)**"
        what = f" — {_code(subject)}" if subject else ""
        lines.append(f"{title} `{rule}`{what}" + (f" ({abis})" if abis else ""))
        first = members[0]
        lines.append(f"- on device: {_text(first.message)}")
        if first.searched:
            lines.append(f"- searched: {' → '.join(_code(name) for name in first.searched)}")
        affected = sorted({name for f in members for name in f.affected})
        if affected:
            lines.append(f"- also fails: {', '.join(_code(name) for name in affected)}")
        for hint in dict.fromkeys(f.hint for f in members if f.hint):
            lines.append(f"- fix: {_cell(hint)}")
        lines.append("")
    if len(groups) > MAX_ROWS:
        lines += [f"… and {len(groups) - MAX_ROWS} more (see the JSON or SARIF report).", ""]
    lines.append("</details>")
    return lines


def render(report: Report) -> str:
    lines = [_headline(report), "", _context(report)]
    note = _baseline_note(report)
    if not report.findings:
        lines += ["", "No findings: every native library will load." + (f" {note}" if note else "")]
        return "\n".join(lines) + "\n"
    if note:
        lines += ["", note]
    lines += _tables(report.findings)
    lines += _details(report.findings)
    return "\n".join(lines) + "\n"
