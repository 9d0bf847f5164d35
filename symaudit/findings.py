"""Findings and what a rule is. The rules themselves live in :mod:`symaudit.rules`, one module
per family, gathered into the one registry that ``symaudit rules``, the README table and SARIF
``rules[]`` are generated from.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import Any


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 2, "warning": 1, "info": 0}[self.value]


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    name: str
    """CamelCase form of the id, for formats that want one (SARIF ``rules[].name``)."""
    severity: Severity
    summary: str
    doc: str
    """Markdown with the headings ``## What it finds``, ``## Why it matters``, ``## Example``, ``## Fix``."""

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


def define_rule(rule_id: str, severity: Severity, summary: str, doc: str) -> Rule:
    """A rule whose SARIF-style name is the CamelCase form of its kebab-case id."""
    name = "".join(part.capitalize() for part in rule_id.split("-"))
    return Rule(rule_id, name, severity, summary, doc.strip())


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
        return {
            "symbol": self.symbol,
            "demangled": self.demangled,
            "library": self.library,
            "kind": self.kind,
            "coordinate": self.coordinate,
        }

    @classmethod
    def from_json(cls, data: object) -> Suggestion | None:
        """The suggestion a JSON report holds; None when ``data`` is not exactly one."""
        if not isinstance(data, dict) or list(data) != ["symbol", "demangled", "library", "kind", "coordinate"]:
            return None
        if not all(isinstance(data[k], str) for k in ("symbol", "library", "kind")):
            return None
        if not all(data[k] is None or isinstance(data[k], str) for k in ("demangled", "coordinate")):
            return None
        return cls(data["symbol"], data["demangled"], data["library"], data["kind"], data["coordinate"])


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
        value = dict(self.extra).get("suggestion")
        return value if isinstance(value, Suggestion) else None

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
