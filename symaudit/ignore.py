"""``--ignore RULE[:LIBRARY[:SYMBOL]]``: drop findings the user has accepted.

LIBRARY and SYMBOL are shell-style patterns (``lib*.so``, ``_ZN5torch*``); SYMBOL matches the
mangled symbol or the needed library name.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase

from symaudit.errors import InputError
from symaudit.findings import Finding
from symaudit.rules import RULES_BY_ID


@dataclass(frozen=True, slots=True)
class IgnorePattern:
    rule: str
    library: str = "*"
    symbol: str = "*"

    @classmethod
    def parse(cls, text: str) -> IgnorePattern:
        parts = text.split(":", 2)
        rule = parts[0]
        if rule != "*" and rule not in RULES_BY_ID:
            known = ", ".join(sorted(RULES_BY_ID))
            raise InputError(f"--ignore {text}: unknown rule '{rule}' (known: {known})")
        return cls(rule, *(p or "*" for p in parts[1:]))

    def matches(self, finding: Finding) -> bool:
        subject = finding.symbol or finding.needed or ""
        return (
            (self.rule == "*" or self.rule == finding.rule)
            and fnmatchcase(finding.library or "", self.library)
            and fnmatchcase(subject, self.symbol)
        )


def apply_ignores(findings: Iterable[Finding], patterns: Iterable[IgnorePattern]) -> tuple[Finding, ...]:
    patterns = tuple(patterns)
    return tuple(f for f in findings if not any(p.matches(f) for p in patterns))
