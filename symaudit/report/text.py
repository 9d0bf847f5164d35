"""The text report: findings grouped by ABI and library, demangled, and a one-line verdict last."""

from __future__ import annotations

from collections import defaultdict

from symaudit.demangle import readable
from symaudit.findings import Finding
from symaudit.results import Report


def _subject(finding: Finding) -> str:
    if finding.symbol:
        shown = readable(finding.symbol)
        return f"{shown}@{finding.version}" if finding.version else shown
    if finding.needed:
        return finding.needed
    return finding.library or ""


def verdict(report: Report) -> str:
    errors, warnings = report.count("error"), report.count("warning")
    abis = sorted({r.abi for r in report.libraries})
    if errors:
        failing = sorted({f.library for f in report.findings if f.severity.value == "error" and f.library})
        shown = ", ".join(failing[:5]) + (f" and {len(failing) - 5} more" if len(failing) > 5 else "")
        return (
            f"FAIL: {errors} error(s), {warnings} warning(s): loading {shown} will fail "
            f"({', '.join(sorted({f.abi for f in report.findings if f.abi and f.severity.value == 'error'}))})"
        )
    if warnings:
        return f"WARN: no load failure predicted for {len(report.libraries)} libraries in {len(abis)} ABI(s); {warnings} warning(s)"
    return f"OK: {len(report.libraries)} libraries in {len(abis)} ABI(s) will load (0 errors, 0 warnings)"


def render(report: Report) -> str:
    abis = sorted({r.abi for r in report.libraries})
    lines = [
        f"symaudit {report.tool_version}: {report.input.path} ({report.input.kind}, "
        f"{len(report.libraries)} libraries, {len(abis)} ABI(s): {', '.join(abis) or 'none'})",
        "",
    ]
    notes = [f for f in report.findings if f.severity.value == "info" and f.abi is None and f.library is None]
    grouped: dict[str | None, dict[str | None, list[Finding]]] = defaultdict(lambda: defaultdict(list))
    for finding in report.findings:
        if finding not in notes:
            grouped[finding.abi][finding.library].append(finding)
    for abi in sorted(grouped, key=lambda a: a or ""):
        lines.append(f"== {abi or 'package'} ==")
        for library in sorted(grouped[abi], key=lambda name: name or ""):
            lines.extend(_library_block(library, grouped[abi][library]))
    if report.libraries:
        summary: list[tuple[str, int, int, int]] = []
        for abi in abis:
            libs = [r for r in report.libraries if r.abi == abi]
            errors = sum(1 for f in report.findings if f.abi == abi and f.severity.value == "error")
            warnings = sum(1 for f in report.findings if f.abi == abi and f.severity.value == "warning")
            summary.append((abi, len(libs), errors, warnings))
        from tabulate import tabulate  # lazy: the verdict line alone must not pay its import

        lines.extend(tabulate(summary, headers=("ABI", "libraries", "errors", "warnings")).splitlines())
        lines.append("")
    for note in notes:
        lines.append(f"note: {note.message}")
        lines.append(f"      {note.hint}")
    if notes:
        lines.append("")
    lines.append(verdict(report))
    return "\n".join(lines) + "\n"


def _library_block(library: str | None, findings: list[Finding]) -> list[str]:
    path = next((f.path for f in findings if f.path), None)
    lines = [f"{library or '(package)'}" + (f"  ({path})" if path else "")]
    rows = [(f.severity.value, f.rule, _subject(f)) for f in findings]
    from tabulate import tabulate

    table = tabulate(rows, headers=("severity", "rule", "symbol / library"), tablefmt="simple")
    lines.extend("  " + row for row in table.splitlines())
    # One message per rule: many unresolved symbols of one library read alike.
    first_by_rule: dict[str, str] = {}
    for finding in findings:
        first_by_rule.setdefault(finding.rule, finding.message)
    for message in first_by_rule.values():
        lines.append(f"  on device: {message}")
    hidden = len({f.message for f in findings}) - len(first_by_rule)
    if hidden > 0:
        lines.append(f"  ({hidden} more message(s) like these in --format json)")
    searched = next((f.searched for f in findings if f.searched), ())
    if searched:
        lines.append(f"  searched:  {' -> '.join(searched)}")
    for change in dict.fromkeys(_change(f) for f in findings):
        if change:
            lines.append(f"  changed:   {change}")
    affected = sorted({name for f in findings for name in f.affected})
    if affected:
        lines.append(f"  also fails: {', '.join(affected)}")
    for hint in dict.fromkeys(f.hint for f in findings):
        lines.append(f"  hint:      {hint}")
    lines.append("")
    return lines


def _change(finding: Finding) -> str | None:
    """"`old` is gone; 2.1.0 has `new`" from an unresolved symbol's ``suggestion``."""
    suggestion = finding.suggestion
    if not finding.symbol or suggestion is None or not suggestion.symbol:
        return None
    where = suggestion.coordinate.rsplit(":", 1)[-1] if suggestion.coordinate else suggestion.library
    verb = "has" if suggestion.kind == "same-function" else "has a similar"
    return f"`{readable(finding.symbol)}` is gone; {where} {verb} `{readable(suggestion.symbol)}`"
