"""The JSON report: ``symaudit.report/1``, a public contract (add fields, never rename or drop).

``symaudit/schemas/report-1.json`` describes it; tests validate every report against it.
"""

from __future__ import annotations

import json
from typing import Any

from symaudit.findings import Finding, Severity, Suggestion
from symaudit.results import LibraryRecord, ReferenceMatch, Report

SCHEMA = "symaudit.report/1"

# The fields every report has, in output order: the one list of them. The reader
# (:mod:`symaudit.report.from_json`) knows them from here, and a test checks the schema's
# ``properties`` against them. Fields an analysis adds (``extra``) follow in the order it adds them.
REPORT_FIELDS = ("schema", "tool", "input", "libraries", "findings", "summary", "app")
INPUT_FIELDS = ("path", "kind", "sha256")
LIBRARY_FIELDS = (
    "abi", "name", "path", "sha256", "soname", "needed", "machine", "elf_class", "size", "compressed",
    "container", "exports", "imports", "load_group", "error",
)
FINDING_FIELDS = (
    "rule", "severity", "abi", "library", "symbol", "needed", "demangled", "message", "hint", "path",
    "version", "searched", "affected",
)
APP_FIELDS = ("package", "min_sdk", "target_sdk", "extract_native_libs", "min_sdk_source")
SUMMARY_FIELDS = ("errors", "warnings", "infos", "libraries", "abis")


def _value(value: object) -> Any:
    """A field's JSON form: typed facts (a suggestion, a reference match) say how themselves."""
    if isinstance(value, Severity):
        return value.value
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, (Suggestion, ReferenceMatch)):
        return value.as_json()
    return value


def _record(record: object, names: tuple[str, ...], extra: tuple[tuple[str, object], ...] = ()) -> dict[str, Any]:
    data = {name: _value(getattr(record, name)) for name in names}
    data.update((key, _value(value)) for key, value in extra)
    return data


def finding_dict(finding: Finding) -> dict[str, Any]:
    return _record(finding, FINDING_FIELDS, finding.extra)


def library_dict(record: LibraryRecord) -> dict[str, Any]:
    return _record(record, LIBRARY_FIELDS, record.extra)


def app_dict(report: Report) -> dict[str, Any] | None:
    return _record(report.app, APP_FIELDS) if report.app is not None else None


def report_dict(report: Report) -> dict[str, Any]:
    data: dict[str, Any] = {
        "schema": SCHEMA,
        "tool": {"name": "symaudit", "version": report.tool_version},
        "input": _record(report.input, INPUT_FIELDS),
        "libraries": [library_dict(r) for r in report.libraries],
        "findings": [finding_dict(f) for f in report.findings],
        "summary": {
            "errors": report.count("error"),
            "warnings": report.count("warning"),
            "infos": report.count("info"),
            "libraries": len(report.libraries),
            "abis": sorted({r.abi for r in report.libraries}),
        },
        "app": app_dict(report),
    }
    data.update(dict(report.extra))
    return data


def render(report: Report) -> str:
    return json.dumps(report_dict(report), indent=2) + "\n"
