from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from symaudit.cli import cli
from symaudit.report.rules import markdown_table
from symaudit.rules import RULES

README = Path(__file__).resolve().parents[1] / "README.md"
HEADINGS = ("## What it finds", "## Why it matters", "## Example", "## Fix")


def test_every_rule_has_a_kebab_id_a_camel_name_and_every_doc_heading() -> None:
    ids = [rule.id for rule in RULES]
    assert len(ids) == len(set(ids))
    for rule in RULES:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", rule.id), rule.id
        assert re.fullmatch(r"(?:[A-Z][a-z0-9]*)+", rule.name), rule.name
        positions = [rule.doc.find(heading) for heading in HEADINGS]
        assert all(p >= 0 for p in positions), f"{rule.id} lacks a doc heading"
        assert positions == sorted(positions), f"{rule.id}: doc headings out of order"


def test_readme_rules_table_is_the_generated_one() -> None:
    text = README.read_text(encoding="utf-8")
    start = text.index("<!-- rules-table:start")
    start = text.index("\n", start) + 1
    end = text.index("<!-- rules-table:end -->")
    assert text[start:end] == markdown_table()


def test_rules_command_lists_every_rule_with_its_doc() -> None:
    result = CliRunner().invoke(cli, ["rules"], standalone_mode=False)
    assert result.exit_code == 0, result.output
    for rule in RULES:
        assert rule.id in result.output and rule.name in result.output
        assert rule.doc.splitlines()[1] in result.output
