"""``symaudit rules``: the rule registry as text, JSON, or the Markdown table the README carries."""

from __future__ import annotations

import json

from tabulate import tabulate

from symaudit.rules import RULES


def markdown_table() -> str:
    """The README's rules table; a test checks the README carries exactly this."""
    lines = ["| id | name | severity | what it finds |", "|---|---|---|---|"]
    lines += [f"| `{r.id}` | {r.name} | {r.severity.value} | {r.summary} |" for r in RULES]
    return "\n".join(lines) + "\n"


def render(fmt: str) -> str:
    if fmt == "json":
        rules = [
            {"id": r.id, "name": r.name, "severity": r.severity.value, "summary": r.summary, "doc": r.doc}
            for r in RULES
        ]
        return json.dumps({"schema": "symaudit.rules/1", "rules": rules}, indent=2) + "\n"
    if fmt == "markdown":
        return markdown_table()
    table = tabulate(
        [(r.id, r.name, r.severity.value, r.summary) for r in RULES],
        headers=("id", "name", "severity", "summary"),
    )
    docs = []
    for rule in RULES:
        docs.append(f"\n{rule.id} ({rule.severity.value})\n{'-' * len(rule.id)}\n{rule.doc}\n")
    return table + "\n" + "".join(docs)
