"""The JSON report: ``symaudit.report/1``, a public contract (add fields, never rename or drop).

``symaudit/schemas/report-1.json`` describes it; tests validate every report against it.
"""

from __future__ import annotations

import json
from typing import Any

from symaudit.findings import Finding
from symaudit.results import LibraryRecord, Report

SCHEMA = "symaudit.report/1"


def finding_dict(finding: Finding) -> dict[str, Any]:
    data: dict[str, Any] = {
        "rule": finding.rule,
        "severity": finding.severity.value,
        "abi": finding.abi,
        "library": finding.library,
        "symbol": finding.symbol,
        "needed": finding.needed,
        "demangled": finding.demangled,
        "message": finding.message,
        "hint": finding.hint,
        "path": finding.path,
        "version": finding.version,
        "searched": list(finding.searched),
        "affected": list(finding.affected),
    }
    data.update(dict(finding.extra))
    return data


def library_dict(record: LibraryRecord) -> dict[str, Any]:
    data: dict[str, Any] = {
        "abi": record.abi,
        "name": record.name,
        "path": record.path,
        "sha256": record.sha256,
        "soname": record.soname,
        "needed": list(record.needed),
        "machine": record.machine,
        "elf_class": record.elf_class,
        "size": record.size,
        "compressed": record.compressed,
        "container": record.container,
        "exports": record.exports,
        "imports": record.imports,
        "load_group": list(record.load_group),
        "error": record.error,
    }
    data.update(dict(record.extra))
    return data


def app_dict(report: Report) -> dict[str, Any] | None:
    app = report.app
    if app is None:
        return None
    return {
        "package": app.package,
        "min_sdk": app.min_sdk,
        "target_sdk": app.target_sdk,
        "extract_native_libs": app.extract_native_libs,
        "min_sdk_source": app.min_sdk_source,
    }


def report_dict(report: Report) -> dict[str, Any]:
    data: dict[str, Any] = {
        "schema": SCHEMA,
        "tool": {"name": "symaudit", "version": report.tool_version},
        "input": {"path": report.input.path, "kind": report.input.kind, "sha256": report.input.sha256},
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
