"""Read a ``symaudit.report/1`` JSON file back into a :class:`Report`.

``symaudit comment`` and ``--baseline`` take a report written by an earlier run, so the audit
runs once and feeds the build, SARIF and the pull-request comment. Fields this version does not
know (a newer symaudit's additions) are kept in the ``extra`` tuples, as the audit would.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from symaudit.errors import InputError
from symaudit.findings import Finding, Severity
from symaudit.report.json import SCHEMA
from symaudit.results import AppFacts, InputRecord, LibraryRecord, Report

_FINDING_FIELDS = (
    "rule",
    "severity",
    "abi",
    "library",
    "message",
    "hint",
    "symbol",
    "demangled",
    "needed",
    "path",
    "version",
    "searched",
    "affected",
)
_LIBRARY_FIELDS = (
    "abi",
    "name",
    "path",
    "sha256",
    "size",
    "soname",
    "needed",
    "machine",
    "elf_class",
    "exports",
    "imports",
    "load_group",
    "compressed",
    "container",
    "error",
)
_REPORT_FIELDS = ("schema", "tool", "input", "libraries", "findings", "summary", "app")
_APP_FIELDS = ("package", "min_sdk", "target_sdk", "extract_native_libs", "min_sdk_source")


class _Bad(Exception):
    """A field of the wrong shape; turned into an InputError naming the file."""


def _str(data: Mapping[str, Any], key: str, *, optional: bool = True) -> str | None:
    value = data.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise _Bad(f"'{key}' must be a string")
    return value


def _strs(data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = data.get(key) or []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _Bad(f"'{key}' must be a list of strings")
    return tuple(value)


def _int(data: Mapping[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise _Bad(f"'{key}' must be an integer")
    return value


def _extra(data: Mapping[str, Any], known: tuple[str, ...]) -> tuple[tuple[str, object], ...]:
    return tuple((key, value) for key, value in data.items() if key not in known)


def finding_from_dict(data: Mapping[str, Any]) -> Finding:
    if not isinstance(data, Mapping):
        raise _Bad("a finding must be an object")
    try:
        severity = Severity(data.get("severity"))
    except ValueError:
        raise _Bad(f"unknown severity {data.get('severity')!r}") from None
    return Finding(
        rule=_str(data, "rule", optional=False) or "",
        severity=severity,
        abi=_str(data, "abi"),
        library=_str(data, "library"),
        message=_str(data, "message") or "",
        hint=_str(data, "hint") or "",
        symbol=_str(data, "symbol"),
        demangled=_str(data, "demangled"),
        needed=_str(data, "needed"),
        path=_str(data, "path"),
        version=_str(data, "version"),
        searched=_strs(data, "searched"),
        affected=_strs(data, "affected"),
        extra=_extra(data, _FINDING_FIELDS),
    )


def _library(data: Mapping[str, Any]) -> LibraryRecord:
    if not isinstance(data, Mapping):
        raise _Bad("a library must be an object")
    return LibraryRecord(
        abi=_str(data, "abi", optional=False) or "",
        name=_str(data, "name", optional=False) or "",
        path=_str(data, "path", optional=False) or "",
        sha256=_str(data, "sha256"),
        size=_int(data, "size") or 0,
        soname=_str(data, "soname"),
        needed=_strs(data, "needed"),
        machine=_str(data, "machine"),
        elf_class=_int(data, "elf_class"),
        exports=_int(data, "exports"),
        imports=_int(data, "imports"),
        load_group=_strs(data, "load_group"),
        compressed=bool(data.get("compressed", False)),
        container=_str(data, "container"),
        error=_str(data, "error"),
        extra=_extra(data, _LIBRARY_FIELDS),
    )


def _app(data: Any) -> AppFacts | None:
    if data is None:
        return None
    if not isinstance(data, Mapping):
        raise _Bad("'app' must be an object or null")
    extract = data.get("extract_native_libs")
    return AppFacts(
        package=_str(data, "package"),
        min_sdk=_int(data, "min_sdk"),
        target_sdk=_int(data, "target_sdk"),
        extract_native_libs=extract if isinstance(extract, bool) else None,
        min_sdk_source=_str(data, "min_sdk_source"),
    )


def report_from_dict(data: Any) -> Report:
    """Raises ``ValueError`` (with a short reason) when ``data`` is not a symaudit report."""
    if not isinstance(data, Mapping) or data.get("schema") != SCHEMA:
        raise ValueError(f'not a symaudit JSON report (expected "schema": "{SCHEMA}")')
    try:
        input_data = data.get("input")
        if not isinstance(input_data, Mapping):
            raise _Bad("'input' must be an object")
        findings = data.get("findings")
        libraries = data.get("libraries")
        if not isinstance(findings, list) or not isinstance(libraries, list):
            raise _Bad("'findings' and 'libraries' must be lists")
        tool = data.get("tool")
        version = tool.get("version") if isinstance(tool, Mapping) else None
        return Report(
            input=InputRecord(
                _str(input_data, "path") or "", _str(input_data, "kind") or "", _str(input_data, "sha256")
            ),
            libraries=tuple(_library(item) for item in libraries),
            findings=tuple(finding_from_dict(item) for item in findings),
            tool_version=version if isinstance(version, str) else "unknown",
            app=_app(data.get("app")),
            extra=_extra(data, _REPORT_FIELDS),
        )
    except _Bad as exc:
        raise ValueError(str(exc)) from None


def load_report(path: str | Path) -> Report:
    """The report in ``path``; an :class:`InputError` naming the file when it is not one."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read report: {exc.strerror or exc}") from exc
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a symaudit JSON report (not UTF-8 text)") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not a symaudit JSON report (invalid JSON at line {exc.lineno})") from None
    try:
        return report_from_dict(data)
    except ValueError as exc:
        raise InputError(f"{path}: {exc}") from None
