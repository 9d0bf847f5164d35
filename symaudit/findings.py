"""Findings and what a rule is. The rules themselves live in :mod:`symaudit.rules`, one module
per family, gathered into the one registry that ``symaudit rules``, the README table and SARIF
``rules[]`` are generated from.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, TypeGuard, TypeVar

_T = TypeVar("_T")


def extra_field(extra: tuple[tuple[str, object], ...], key: str, kind: type[_T]) -> _T | None:
    """The added field ``key`` when it holds a ``kind`` (a typed fact), else None."""
    value = dict(extra).get(key)
    return value if isinstance(value, kind) else None


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 2, "warning": 1, "info": 0}[self.value]


class Horizon(str, enum.Enum):
    """Which devices a rule's error fails on: what the verdict names separately.

    A warning is a hazard whatever its rule's horizon; ``NOT_CHECKED`` rules report something
    symaudit could not check (no NDK, no reference builds), never a problem with the app.
    """

    EVERY_DEVICE = "every-device"
    BELOW_API = "below-api"
    """Devices older than an API level: the level is :attr:`Rule.below_api` or the finding's
    fact named :attr:`Rule.api_fact`."""
    PAGE_16K = "16k-pages"
    """Devices with 16 KB memory pages (Android 15+ on arm64-v8a and x86_64)."""
    NOT_CHECKED = "not-checked"


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    name: str
    """CamelCase form of the id, for formats that want one (SARIF ``rules[].name``)."""
    severity: Severity
    summary: str
    doc: str
    """Markdown with the headings ``## What it finds``, ``## Why it matters``, ``## Example``, ``## Fix``."""
    horizon: Horizon = Horizon.EVERY_DEVICE
    below_api: int | None = None
    """For ``BELOW_API`` rules with a fixed gate: devices below this API level fail."""
    api_fact: str | None = None
    """For ``BELOW_API`` rules whose gate depends on the finding: the name of the finding's fact
    (a field of its JSON) that holds the API level; when that fact is null, every device fails."""
    device: str | None = None
    """What the device prints (bionic's wording, REFERENCE.md 3.3), as a ``str.format`` template
    over the finding's JSON fields; ``None`` when symaudit cannot quote the device."""
    not_checked: str | None = None
    """For ``NOT_CHECKED`` rules: what the verdict names as not checked."""

    def finding(
        self,
        abi: str | None,
        library: str | None,
        message: str,
        hint: str,
        severity: Severity | None = None,
        **facts: Any,
    ) -> Finding:
        """A finding of this rule, at the rule's severity unless ``severity`` says otherwise;
        ``facts`` are the other :class:`Finding` fields (``symbol``, ``needed``, ``path``, ...)."""
        return Finding(self.id, severity or self.severity, abi, library, message, hint, **facts)


def define_rule(
    rule_id: str,
    severity: Severity,
    summary: str,
    doc: str,
    *,
    horizon: Horizon = Horizon.EVERY_DEVICE,
    below_api: int | None = None,
    api_fact: str | None = None,
    device: str | None = None,
    not_checked: str | None = None,
) -> Rule:
    """A rule whose SARIF-style name is the CamelCase form of its kebab-case id."""
    name = "".join(part.capitalize() for part in rule_id.split("-"))
    return Rule(
        rule_id, name, severity, summary, doc.strip(), horizon, below_api, api_fact, device, not_checked
    )


@dataclass(frozen=True, slots=True)
class Suggestion:
    """The export of a shipped library nearest to an unresolved symbol: the same qualified
    function with another signature (``same-function``), else the closest mangled name
    (``similar-name``). Set by the references analysis; reporters make the words."""

    symbol: str
    demangled: str | None
    library: str
    kind: str
    coordinate: str | None
    """The reference the providing library was identified as, when it was."""

    def as_json(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_json(cls, data: object) -> Suggestion | None:
        """The suggestion a JSON report holds; None when ``data`` is not exactly one."""
        optional = (str, type(None))
        shape = {"symbol": (str,), "demangled": optional, "library": (str,), "kind": (str,), "coordinate": optional}
        return cls(**data) if has_shape(data, shape) else None


def has_shape(data: object, shape: Mapping[str, tuple[type, ...]]) -> TypeGuard[dict[str, Any]]:
    """Whether ``data`` is a JSON object with exactly these keys, in this order, of these types
    (booleans are not numbers): the test a typed fact read back from a report must pass."""
    if not isinstance(data, dict) or list(data) != list(shape):
        return False
    return all(
        isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
        for value, types in zip(data.values(), shape.values(), strict=True)
    )


@dataclass(frozen=True, slots=True)
class Finding:
    """One predicted problem. Facts only; reporters make the words for their format."""

    rule: str
    severity: Severity
    abi: str | None
    library: str | None
    """File name of the library the finding is about (the importer, the needer, the corrupt one)."""
    message: str
    hint: str
    symbol: str | None = None
    """Mangled symbol name, as bionic prints it in `cannot locate symbol`."""
    demangled: str | None = None
    needed: str | None = None
    path: str | None = None
    """The library's path inside the package."""
    version: str | None = None
    """Symbol version the import requires (``LIBC``), when versioned."""
    searched: tuple[str, ...] = ()
    """Libraries searched for the symbol, in bionic's lookup order."""
    affected: tuple[str, ...] = ()
    """Other libraries of the ABI whose load fails because of this finding."""
    extra: tuple[tuple[str, object], ...] = field(default=())
    """Rule-specific facts added by later analyses; rendered as extra JSON fields."""

    @property
    def suggestion(self) -> Suggestion | None:
        """The nearest shipped export, on an ``unresolved-symbol`` the references analysis refined."""
        return extra_field(self.extra, "suggestion", Suggestion)

    @property
    def identity(self) -> tuple[str, str | None, str | None, str | None]:
        """(rule, abi, library, symbol or needed): what baselines and fingerprints key on."""
        return (self.rule, self.abi, self.library, self.symbol or self.needed)

    def with_severity(self, severity: Severity) -> Finding:
        return replace(self, severity=severity)


def sort_key(finding: Finding) -> tuple[int, str, str, str, str]:
    return (
        -finding.severity.rank,
        finding.abi or "",
        finding.library or "",
        finding.rule,
        finding.symbol or finding.needed or "",
    )
