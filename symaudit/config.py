"""Project settings: ``symaudit.toml``, or ``[tool.symaudit]`` in ``pyproject.toml``.

Found by walking up from the working directory (in each directory ``symaudit.toml`` first, then a
``pyproject.toml`` that has a ``[tool.symaudit]`` table; a ``pyproject.toml`` without one is passed
over, as ruff and mypy do), or named with ``--config``. Command-line options win over the file,
except ``ignore``, whose patterns are added to those of ``--ignore``.

```toml
fail-on = "warning"                 # error | warning | never
ignore = ["abi-incomplete:libwenet.so"]
min-sdk = 24
ndk = "/opt/android-ndk-r26b"
maven-repos = ["https://maven.example.com/releases"]
network-budget = 60                 # seconds an audit may spend on the network in all

[severity]                          # rule id -> error | warning | info | off
abi-incomplete = "error"
```

An unknown key is an error naming it: a typo that silently does nothing is worse than none.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from symaudit.errors import InputError
from symaudit.findings import Finding, Severity, sort_key
from symaudit.ignore import IgnorePattern
from symaudit.rules import RULES_BY_ID


def _toml() -> Any:
    """The TOML parser, imported when a settings file is read (most runs have none)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.10 only
        import tomli as tomllib
    return tomllib


CONFIG_FILE = "symaudit.toml"
PYPROJECT = "pyproject.toml"
KEYS = ("fail-on", "ignore", "severity", "maven-repos", "min-sdk", "ndk", "network-budget")
FAIL_ON = ("error", "warning", "never")
SEVERITY_VALUES = ("error", "warning", "info", "off")
OFF = "off"


@dataclass(frozen=True, slots=True)
class Settings:
    source: str | None = None
    """The file the settings came from (``path`` or ``path [tool.symaudit]``); None: defaults."""
    fail_on: str | None = None
    ignore: tuple[str, ...] = ()
    severity: tuple[tuple[str, str], ...] = ()
    """(rule id, error|warning|info|off), in file order."""
    maven_repos: tuple[str, ...] = ()
    min_sdk: int | None = None
    ndk: str | None = None
    network_budget: float | None = None
    """Seconds an audit may spend on the network (``--network-budget`` wins)."""


def discover(start: Path) -> Path | None:
    """The nearest ``symaudit.toml`` or ``pyproject.toml`` with ``[tool.symaudit]`` at or above ``start``."""
    for directory in (start, *start.parents):
        candidate = directory / CONFIG_FILE
        if candidate.is_file():
            return candidate
        pyproject = directory / PYPROJECT
        if pyproject.is_file() and _has_tool_table(pyproject):
            return pyproject
    return None


def _has_tool_table(pyproject: Path) -> bool:
    try:
        data = _toml().loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):  # TOMLDecodeError and UnicodeDecodeError too
        # A broken pyproject.toml that may not even be ours: not a reason to refuse to run.
        return False
    tool = data.get("tool")
    return isinstance(tool, dict) and "symaudit" in tool


def load(path: Path) -> Settings:
    """Settings from ``path``; an :class:`InputError` naming the file and key for anything wrong."""
    tomllib = _toml()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{path}: cannot read config: {exc.strerror or exc}") from exc
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a TOML file (not UTF-8 text)") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: invalid TOML: {exc}") from None
    except RecursionError:
        raise InputError(f"{path}: invalid TOML: values nested too deeply") from None
    except ValueError as exc:  # tomllib's int(): "Exceeds the limit (4300 digits) ..."
        raise InputError(f"{path}: invalid TOML: {str(exc).splitlines()[0][:200]}") from None
    where = str(path)
    if path.name == PYPROJECT:
        tool = data.get("tool")
        table = tool.get("symaudit") if isinstance(tool, dict) else None
        if table is None:
            return Settings(source=None)
        where = f"{path} [tool.symaudit]"
        data = table
        if not isinstance(data, dict):
            raise InputError(f"{where}: must be a table")
    settings = parse(data, where)
    if settings.ndk is not None and not Path(settings.ndk).is_absolute():
        # A path in a settings file means the same thing whichever directory symaudit runs in.
        settings = replace(settings, ndk=str(path.parent / settings.ndk))
    return settings


def parse(data: Mapping[str, Any], where: str) -> Settings:
    for key in data:
        if key not in KEYS:
            raise InputError(f"{where}: unknown key '{key}' (known: {', '.join(KEYS)})")
    fail_on = data.get("fail-on")
    if fail_on is not None and fail_on not in FAIL_ON:
        raise InputError(f"{where}: fail-on must be one of {', '.join(FAIL_ON)}, not {fail_on!r}")
    ignore = _strings(data, "ignore", where)
    for pattern in ignore:
        try:
            IgnorePattern.parse(pattern)
        except InputError as exc:
            raise InputError(f"{where}: ignore: {exc}") from None
    min_sdk = data.get("min-sdk")
    if min_sdk is not None and (
        not isinstance(min_sdk, int) or isinstance(min_sdk, bool) or not 1 <= min_sdk <= 100
    ):
        raise InputError(f"{where}: min-sdk must be an API level (an integer from 1 to 100), not {min_sdk!r}")
    ndk = data.get("ndk")
    if ndk is not None and not isinstance(ndk, str):
        raise InputError(f"{where}: ndk must be a path (a string), not {ndk!r}")
    budget = data.get("network-budget")
    if budget is not None and (
        not isinstance(budget, (int, float)) or isinstance(budget, bool) or not 0 <= budget <= 86400
    ):
        raise InputError(
            f"{where}: network-budget must be a number of seconds from 0 to 86400, not {budget!r}"
        )
    return Settings(
        source=where,
        fail_on=fail_on,
        ignore=ignore,
        severity=_severity(data.get("severity"), where),
        maven_repos=_strings(data, "maven-repos", where),
        min_sdk=min_sdk,
        ndk=ndk,
        network_budget=float(budget) if budget is not None else None,
    )


def _strings(data: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InputError(f"{where}: {key} must be a list of strings")
    return tuple(value)


def _severity(table: Any, where: str) -> tuple[tuple[str, str], ...]:
    if table is None:
        return ()
    if not isinstance(table, dict):
        raise InputError(f'{where}: severity must be a table of rule = "error|warning|info|off"')
    overrides: list[tuple[str, str]] = []
    for rule, level in table.items():
        if rule not in RULES_BY_ID:
            raise InputError(
                f"{where}: severity: unknown rule '{rule}' (known: {', '.join(sorted(RULES_BY_ID))})"
            )
        if level not in SEVERITY_VALUES:
            raise InputError(
                f"{where}: severity.{rule} must be one of {', '.join(SEVERITY_VALUES)}, not {level!r}"
            )
        overrides.append((rule, level))
    return tuple(overrides)


def settings_for(config: str | None, cwd: Path) -> Settings:
    """``--config FILE`` when given (it must exist), else the file found upward from ``cwd``."""
    if config is not None:
        path = Path(config)
        if not path.is_file():
            raise InputError(f"{config}: config file not found")
        return load(path)
    found = discover(cwd)
    return load(found) if found is not None else Settings()


def apply_severity(findings: Iterable[Finding], overrides: Iterable[tuple[str, str]]) -> tuple[Finding, ...]:
    """Findings with the configured severity per rule, re-sorted; rules set to ``off`` are dropped."""
    table = dict(overrides)
    if not table:
        return tuple(findings)
    result: list[Finding] = []
    for finding in findings:
        level = table.get(finding.rule)
        if level is None:
            result.append(finding)
        elif level != OFF:
            result.append(finding.with_severity(Severity(level)))
    return tuple(sorted(result, key=sort_key))


def merge_options(options: dict[str, Any], settings: Settings, fail_on_given: bool) -> None:
    """Fill ``options`` from the settings where the command line did not say: ``fail-on`` unless
    given, ``ndk`` unless set; ``ignore`` patterns are added to ``--ignore``'s. (``min-sdk`` is not
    merged here: it only fills in when the package's manifest is silent, see ``app_facts``.)"""
    if settings.fail_on and not fail_on_given:
        options["fail_on"] = settings.fail_on
    options["ignore"] = (*settings.ignore, *options["ignore"])
    if "ndk" in options and options["ndk"] is None and settings.ndk is not None:
        options["ndk"] = settings.ndk
