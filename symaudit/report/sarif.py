"""SARIF 2.1.0 for GitHub code scanning (and any SARIF viewer).

Every rule of the registry goes into ``tool.driver.rules`` with its documentation as help, so a
viewer can explain a result without symaudit. Each result is located at the library's path inside
the package (``lib/arm64-v8a/libwenet.so``); the symbol or needed library is its logical
location. ``partialFingerprints`` hash :attr:`Finding.identity`, so code scanning recognises the
same finding across runs even when its message or line of text changes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from symaudit.demangle import display_name, readable
from symaudit.findings import Finding, Rule, Severity
from symaudit.results import Report
from symaudit.rules import RULES

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
FINGERPRINT = "symaudit/v1"
_LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def fingerprint(finding: Finding) -> str:
    """sha256 of ``rule|abi|library|symbol-or-needed``: stable while the finding's identity is."""
    text = "|".join(part or "" for part in finding.identity)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _rule(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.summary},
        "help": {"text": rule.doc, "markdown": rule.doc},
        "defaultConfiguration": {"level": _LEVELS[rule.severity]},
        "properties": {"tags": ["android", "native"]},
    }


def _uri(finding: Finding, report: Report) -> str:
    if finding.path:
        return finding.path
    for record in report.libraries:
        if record.name == finding.library and record.abi == finding.abi:
            return record.path
    # A package-level finding: the package itself. GitHub wants paths relative to the repository,
    # which a relative input path usually is; an absolute one becomes a file: URI.
    path = report.input.path or "."
    return Path(path).as_uri() if Path(path).is_absolute() else path


def _logical_locations(finding: Finding) -> list[dict[str, Any]]:
    if finding.symbol:
        full = finding.demangled or display_name(finding.symbol)
        return [
            {
                "name": readable(finding.symbol),
                "fullyQualifiedName": full,
                "decoratedName": finding.symbol,
                "kind": "member",
            }
        ]
    if finding.needed:
        return [{"name": finding.needed, "fullyQualifiedName": finding.needed, "kind": "module"}]
    return []


def _message(finding: Finding, report: Report) -> str:
    where = f" [{finding.abi}]" if finding.abi else ""
    text = f"{finding.message}{where} in {report.input.path}"
    return f"{text}. {finding.hint}" if finding.hint else text


def _result(finding: Finding, report: Report, index: dict[str, int]) -> dict[str, Any]:
    location: dict[str, Any] = {
        "physicalLocation": {"artifactLocation": {"uri": _uri(finding, report)}},
    }
    logical = _logical_locations(finding)
    if logical:
        location["logicalLocations"] = logical
    result: dict[str, Any] = {
        "ruleId": finding.rule,
        "level": _LEVELS[finding.severity],
        "message": {"text": _message(finding, report)},
        "locations": [location],
        "partialFingerprints": {FINGERPRINT: fingerprint(finding)},
        "properties": {
            "abi": finding.abi,
            "library": finding.library,
            "symbol": finding.symbol,
            "needed": finding.needed,
            "hint": finding.hint,
            "searched": list(finding.searched),
            "affected": list(finding.affected),
        },
    }
    if finding.rule in index:
        result["ruleIndex"] = index[finding.rule]
    return result


def sarif_dict(report: Report) -> dict[str, Any]:
    rules = [_rule(rule) for rule in RULES]
    known = {rule.id for rule in RULES}
    # A report read back from JSON may name a rule this version does not have: describe it
    # minimally rather than emit a ruleId that matches no rules[] entry.
    for rule_id in dict.fromkeys(f.rule for f in report.findings if f.rule not in known):
        rules.append({"id": rule_id, "shortDescription": {"text": rule_id}})
    index = {rule["id"]: position for position, rule in enumerate(rules)}
    return {
        "version": SARIF_VERSION,
        "$schema": SARIF_SCHEMA,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "symaudit",
                        "version": report.tool_version,
                        "semanticVersion": report.tool_version,
                        "rules": rules,
                    }
                },
                "results": [_result(finding, report, index) for finding in report.findings],
                "properties": {
                    "input": report.input.path,
                    "kind": report.input.kind,
                    "sha256": report.input.sha256,
                },
            }
        ],
    }


def render(report: Report) -> str:
    return json.dumps(sarif_dict(report), indent=2) + "\n"
