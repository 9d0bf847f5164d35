"""What a libtorch release can load, from ``symaudit/data/torch_runtime_versions.json``."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from symaudit.facts import load_data

_VERSION = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")


@dataclass(frozen=True, slots=True)
class RuntimeLimits:
    version: str
    """The runtime release the limits are for (``2.1.0``)."""
    max_bytecode_version: int | None
    max_file_format_version: int | None
    source: str


def parse_version(text: str) -> tuple[int, int, int] | None:
    """``(major, minor, patch)`` of ``2.1.0``, ``1.13.1-SNAPSHOT``, ``org.pytorch:pytorch_android:2.1.0``."""
    match = _VERSION.search(text.rsplit(":", 1)[-1])
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)


@functools.lru_cache(maxsize=1)
def _table() -> dict[str, Any]:
    table: dict[str, Any] = load_data("torch_runtime_versions.json")
    return table


def limits_for(version: str) -> RuntimeLimits | None:
    """The limits of the last table row at or below ``version``; None below the first row."""
    wanted = parse_version(version)
    if wanted is None:
        return None
    chosen: dict[str, Any] | None = None
    for row in _table()["versions"]:
        since = parse_version(row["since"])
        if since is not None and since <= wanted:
            chosen = row
    if chosen is None:
        return None
    return RuntimeLimits(
        version=version,
        max_bytecode_version=chosen["max_bytecode_version"],
        max_file_format_version=chosen["max_file_format_version"],
        source=chosen["source"],
    )


@dataclass(frozen=True, slots=True)
class OperatorHistory:
    since: str
    """The first known release that registers the operator."""
    absent_in: str | None
    """The newest known release before ``since`` that lacks it (releases between were not read)."""


def operator_history(name: str) -> OperatorHistory | None:
    """When operator ``name`` arrived, if the table knows (derived from the registries of the
    pinned pytorch_android runtimes by scripts/derive_operator_table.py, or documented)."""
    entry = _table()["operators"].get(name)
    if entry is None:
        return None
    absent = entry.get("absent_in")
    return OperatorHistory(str(entry["since"]), None if absent is None else str(absent))


def operator_since(name: str) -> str | None:
    """The first libtorch release that registers operator ``name``, when the table knows it."""
    history = operator_history(name)
    return None if history is None else history.since
