"""The rule registry: every rule symaudit can report, in the order ``symaudit rules`` lists them.

Each family of analyses declares its rules in its own module here (ids are kebab-case and
permanent: a retired rule stays, marked deprecated, and its id is never reused); this module
gathers them. ``symaudit rules``, the README table and SARIF ``tool.driver.rules`` all come
from :data:`RULES`.
"""

from __future__ import annotations

from symaudit.findings import Rule
from symaudit.rules import core, models, platform, references

RULES: tuple[Rule, ...] = (*core.RULES, *platform.RULES, *models.RULES, *references.RULES)
RULES_BY_ID: dict[str, Rule] = {rule.id: rule for rule in RULES}

if len(RULES_BY_ID) != len(RULES):  # pragma: no cover - a programming error caught at import
    raise RuntimeError("duplicate rule id in symaudit.rules")
