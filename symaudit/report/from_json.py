"""Read a ``symaudit.report/1`` JSON file back into a :class:`Report`.

``symaudit comment`` and ``--baseline`` take a report written by an earlier run, so the audit
runs once and feeds the build, SARIF and the pull-request comment. Fields this version does not
know (a newer symaudit's additions) are kept in the ``extra`` tuples, as the audit would.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from symaudit.errors import InputError
from symaudit.findings import Finding, Severity, Suggestion
from symaudit.report.json import APP_FIELDS, FINDING_FIELDS, LIBRARY_FIELDS, REPORT_FIELDS, SCHEMA
from symaudit.results import AppFacts, InputRecord, LibraryRecord, ReferenceMatch, Report


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


_TYPED: dict[str, Callable[[object], object | None]] = {
    "suggestion": Suggestion.from_json,
    "reference": ReferenceMatch.from_json,
    "compatible_references": lambda value: tuple(value) if isinstance(value, list) else None,
}
"""Added fields other modules read by type: read back as that type (kept as read otherwise)."""


def _typed(key: str, value: object) -> object:
    parse = _TYPED.get(key)
    typed = parse(value) if parse is not None and value is not None else None
    return value if typed is None else typed


def _extra(data: Mapping[str, Any], known: tuple[str, ...]) -> tuple[tuple[str, object], ...]:
    return tuple((key, _typed(key, value)) for key, value in data.items() if key not in known)


def _required(data: Mapping[str, Any], key: str) -> str:
    return _str(data, key, optional=False) or ""


def _text(data: Mapping[str, Any], key: str) -> str:
    return _str(data, key) or ""


def _severity(data: Mapping[str, Any], key: str) -> Severity:
    try:
        return Severity(data.get(key))
    except ValueError:
        raise _Bad(f"unknown severity {data.get(key)!r}") from None


def _flag(data: Mapping[str, Any], key: str) -> bool | None:
    value = data.get(key)
    return value if isinstance(value, bool) else None


Reader = Callable[[Mapping[str, Any], str], object]
_BY_TYPE: dict[str, Reader] = {"str | None": _str, "int | None": _int, "tuple[str, ...]": _strs, "bool | None": _flag}
"""How a field is read, by its annotation in :mod:`symaudit.results` / :mod:`symaudit.findings`."""


def _fields(
    cls: Any, data: Any, names: tuple[str, ...], not_an_object: str, special: Mapping[str, Reader]
) -> dict[str, Any]:
    """The known ``names`` of ``data`` as keyword arguments of ``cls``; the rest go to ``extra``."""
    if not isinstance(data, Mapping):
        raise _Bad(not_an_object)
    types = {f.name: str(f.type) for f in dataclasses.fields(cls)}
    return {name: (special.get(name) or _BY_TYPE[types[name]])(data, name) for name in names}


_FINDING_READERS: Mapping[str, Reader] = {"rule": _required, "severity": _severity, "message": _text, "hint": _text}
_LIBRARY_READERS: Mapping[str, Reader] = {
    "abi": _required,
    "name": _required,
    "path": _required,
    "size": lambda data, key: _int(data, key) or 0,
    "compressed": lambda data, key: bool(data.get(key, False)),
}


def finding_from_dict(data: Mapping[str, Any]) -> Finding:
    fields = _fields(Finding, data, FINDING_FIELDS, "a finding must be an object", _FINDING_READERS)
    return Finding(**fields, extra=_extra(data, FINDING_FIELDS))


def _library(data: Mapping[str, Any]) -> LibraryRecord:
    fields = _fields(LibraryRecord, data, LIBRARY_FIELDS, "a library must be an object", _LIBRARY_READERS)
    return LibraryRecord(**fields, extra=_extra(data, LIBRARY_FIELDS))


def _app(data: Any) -> AppFacts | None:
    if data is None:
        return None
    return AppFacts(**_fields(AppFacts, data, APP_FIELDS, "'app' must be an object or null", {}))


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
            extra=_extra(data, REPORT_FIELDS),
        )
    except _Bad as exc:
        raise ValueError(str(exc)) from None


REPORT_LIMIT = 256 << 20
"""Largest report read back (``--baseline``, ``symaudit comment``): a 48-library app with
thousands of findings writes a few MB."""


def load_report(path: str | Path) -> Report:
    """The report in ``path``; an :class:`InputError` naming the file when it is not one (too
    large, not UTF-8, not JSON, nested too deeply, a number too long, not a report)."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(REPORT_LIMIT + 1)
    except OSError as exc:
        raise InputError(f"{path}: cannot read report: {exc.strerror or exc}") from exc
    if len(raw) > REPORT_LIMIT:
        raise InputError(f"{path}: not a symaudit JSON report (larger than {REPORT_LIMIT >> 20} MiB)")
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a symaudit JSON report (not UTF-8 text)") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not a symaudit JSON report (invalid JSON at line {exc.lineno})") from None
    except RecursionError:  # json's scanner on arrays nested 100,000 deep
        raise InputError(f"{path}: not a symaudit JSON report (values nested too deeply)") from None
    except ValueError as exc:  # json's int(): "Exceeds the limit (4300 digits) ..."
        detail = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise InputError(f"{path}: not a symaudit JSON report ({detail})") from None
    try:
        return report_from_dict(data)
    except ValueError as exc:
        raise InputError(f"{path}: {exc}") from None
