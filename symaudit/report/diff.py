"""Text and JSON (``symaudit.diff/1``) renderings of a :class:`~symaudit.symbol_diff.DiffResult`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from symaudit.demangle import readable
from symaudit.symbol_diff import SCHEMA, DiffResult, Side, TableDiff


def _side(side: Side) -> dict[str, Any]:
    return {
        "label": side.label,
        "abi": side.abi,
        "library": side.library,
        "sha256": side.sha256,
        "exports": len(side.exports),
        "imports": len(side.imports),
    }


def _names(names: tuple[str, ...], demangled: Mapping[str, str | None]) -> list[dict[str, Any]]:
    return [{"symbol": n, "demangled": demangled.get(n)} for n in names]


def _table(table: TableDiff) -> dict[str, Any]:
    return {
        "added": _names(table.added, table.demangled),
        "removed": _names(table.removed, table.demangled),
        "changed": [
            {
                "name": c.name,
                "removed": _names(c.removed, table.demangled),
                "added": _names(c.added, table.demangled),
            }
            for c in table.changed
        ],
        "reversioned": [{"symbol": n, "old": old, "new": new} for n, old, new in table.reversioned],
        "unchanged": table.unchanged,
    }


def render_json(result: DiffResult) -> str:
    data = {
        "schema": SCHEMA,
        "a": _side(result.a),
        "b": _side(result.b),
        "exports": _table(result.exports),
        "imports": _table(result.imports),
        "summary": {
            kind: {
                "added": len(t.added),
                "removed": len(t.removed),
                "changed": len(t.changed),
                "reversioned": len(t.reversioned),
                "unchanged": t.unchanged,
            }
            for kind, t in (("exports", result.exports), ("imports", result.imports))
        },
    }
    # Indented for a human-sized diff; compact beyond that, where the indenting encoder (pure
    # Python) would cost more than the whole comparison of two 100k-symbol builds.
    changes = sum(
        len(t.added) + len(t.removed) + len(t.changed) + len(t.reversioned)
        for t in (result.exports, result.imports)
    )
    if changes > COMPACT_ABOVE:
        return json.dumps(data, separators=(",", ":")) + "\n"
    return json.dumps(data, indent=2) + "\n"


COMPACT_ABOVE = 2000


def _text_table(title: str, table: TableDiff, limit: int) -> list[str]:
    lines = [
        f"{title}: {len(table.changed)} signature change(s), {len(table.removed)} removed, "
        f"{len(table.added)} added, {table.unchanged} unchanged"
    ]
    for change in table.changed:
        lines.append(f"  ~ {change.name}")
        lines.extend(f"      - {readable(n)}" for n in change.removed)
        lines.extend(f"      + {readable(n)}" for n in change.added)
    for sign, names in (("-", table.removed), ("+", table.added)):
        for name in names[:limit]:
            lines.append(f"  {sign} {readable(name)}")
        if len(names) > limit:
            lines.append(f"  {sign} ... and {len(names) - limit} more (--format json lists all)")
    for name, old, new in table.reversioned[:limit]:
        lines.append(f"  ! {readable(name)}: version {old} -> {new}")
    return lines


def render_text(result: DiffResult, limit: int = 50) -> str:
    lines = [f"--- {result.a.label}", f"+++ {result.b.label}", ""]
    lines += _text_table("exports", result.exports, limit)
    lines.append("")
    lines += _text_table("imports", result.imports, limit)
    return "\n".join(lines) + "\n"
