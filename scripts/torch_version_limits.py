"""The file-format and bytecode versions each PyTorch release reads and writes, from its sources.

Every row of ``symaudit/data/torch_runtime_versions.json`` that carries a ``tag`` names the
release tag and the path of the header the numbers come from (``caffe2/serialize/versions.h``,
where all six constants live from v1.8.0 on), the sha256 of that header's bytes, and an excerpt:
the lines that define the constants in the branch the preprocessor takes (v1.11 and v1.12 wrap
some in ``#if ENABLE_UPGRADERS``, which the same header ``#define``s ``true``).

The limits a row states:

* file format: ``kMinSupportedFileFormatVersion`` .. ``kMaxSupportedFileFormatVersion``
  (what ``PyTorchStreamReader`` accepts), ``kProducedFileFormatVersion`` (what it writes);
* bytecode: ``kMinSupportedBytecodeVersion`` .. ``kMaxSupportedBytecodeVersion`` (what the mobile
  loader accepts); before v1.10 there is no max constant and the loader checks against
  ``kProducedBytecodeVersion`` (the header's own comment: "kMinSupportedBytecodeVersion <=
  model_version <= kProducedBytecodeVersion (in loader)").

Modes:

* ``--check`` (default): every committed row's numbers follow from its excerpt (no network);
* ``--checkout DIR``: also reads ``git -C DIR show TAG:PATH`` for each row and demands the
  recorded sha256 and the same numbers (a local clone of pytorch/pytorch with its tags);
* ``--wheel WHEEL ...``: reads the header from a torch wheel (PyPI ships it under
  ``torch/include/``, copied from the tag's sources at build time) and prints the row it gives.

Exit 0 when consistent, 1 with one line per problem on stderr.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "symaudit" / "data" / "torch_runtime_versions.json"
HEADER = "caffe2/serialize/versions.h"
WHEEL_MEMBER = "torch/include/" + HEADER
CONSTANTS = (
    "kMinSupportedFileFormatVersion",
    "kMaxSupportedFileFormatVersion",
    "kProducedFileFormatVersion",
    "kMinSupportedBytecodeVersion",
    "kMaxSupportedBytecodeVersion",
    "kProducedBytecodeVersion",
)
_DEFINE = re.compile(r"^\s*constexpr\s+uint64_t\s+(\w+)\s*=\s*(0x[0-9A-Fa-f]+|\d+)L?\s*;")
_MACRO = re.compile(r"^\s*#\s*define\s+(\w+)\s+(true|false|1|0)\s*$")
_IF = re.compile(r"^\s*#\s*(if|ifdef|ifndef)\s+(\w+)\s*$")


class HeaderError(Exception):
    pass


def active_lines(text: str) -> list[str]:
    """The lines of ``text`` the preprocessor keeps, for the simple ``#if MACRO``/``#else``/
    ``#endif`` nesting versions.h uses with macros ``#define``d true/false in the header."""
    macros: dict[str, bool] = {}
    stack: list[tuple[bool, bool]] = []  # (this branch taken, parent active)
    kept: list[str] = []
    for line in text.splitlines():
        active = all(taken for taken, _ in stack)
        directive = line.strip()
        if match := _IF.match(line):
            kind, name = match.groups()
            if kind == "if" and name not in macros:
                raise HeaderError(f"#if {name}: macro not defined in the header")
            value = macros.get(name, False) if kind == "if" else (name in macros) == (kind == "ifdef")
            stack.append((value, active))
            continue
        if directive.startswith("#else"):
            if not stack:
                raise HeaderError("#else without #if")
            taken, parent = stack.pop()
            stack.append((not taken, parent))
            continue
        if directive.startswith("#endif"):
            if not stack:
                raise HeaderError("#endif without #if")
            stack.pop()
            continue
        if not active:
            continue
        if match := _MACRO.match(line):
            macros[match.group(1)] = match.group(2) in ("true", "1")
        kept.append(line)
    if stack:
        raise HeaderError("unterminated #if")
    return kept


def excerpt(text: str) -> list[str]:
    """The active ``#define`` and ``constexpr uint64_t k...Version`` lines, stripped."""
    lines = []
    for line in active_lines(text):
        match = _DEFINE.match(line)
        if (match and match.group(1) in CONSTANTS) or _MACRO.match(line):
            lines.append(line.strip())
    return lines


def constants(lines: Iterable[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for line in lines:
        match = _DEFINE.match(line)
        if match and match.group(1) in CONSTANTS:
            if match.group(1) in found:
                raise HeaderError(f"{match.group(1)} defined twice in the active branch")
            found[match.group(1)] = int(match.group(2), 0)
    return found


def limits(values: dict[str, int]) -> dict[str, int | str]:
    needed = (
        "kMinSupportedFileFormatVersion",
        "kMaxSupportedFileFormatVersion",
        "kProducedFileFormatVersion",
    )
    needed += ("kMinSupportedBytecodeVersion", "kProducedBytecodeVersion")
    missing = [name for name in needed if name not in values]
    if missing:
        raise HeaderError(f"missing {', '.join(missing)}")
    max_name = (
        "kMaxSupportedBytecodeVersion"
        if "kMaxSupportedBytecodeVersion" in values
        else "kProducedBytecodeVersion"
    )
    return {
        "min_file_format_version": values["kMinSupportedFileFormatVersion"],
        "max_file_format_version": values["kMaxSupportedFileFormatVersion"],
        "produced_file_format_version": values["kProducedFileFormatVersion"],
        "min_bytecode_version": values["kMinSupportedBytecodeVersion"],
        "max_bytecode_version": values[max_name],
        "max_bytecode_constant": max_name,
        "produced_bytecode_version": values["kProducedBytecodeVersion"],
    }


FIELDS = (
    "min_file_format_version",
    "max_file_format_version",
    "produced_file_format_version",
    "min_bytecode_version",
    "max_bytecode_version",
    "max_bytecode_constant",
    "produced_bytecode_version",
)


def check_row(row: dict[str, Any]) -> list[str]:
    where = f"row {row.get('since')}"
    if "tag" not in row:
        return [] if row.get("measured") else [f"{where}: neither a tag nor a measurement"]
    problems = []
    if row.get("path") != HEADER:
        problems.append(f"{where}: path is {row.get('path')!r}, not {HEADER}")
    try:
        derived = limits(constants(row["excerpt"]))
    except (HeaderError, KeyError) as exc:
        return [f"{where}: excerpt: {exc}"]
    for field in FIELDS:
        if row.get(field) != derived[field]:
            problems.append(f"{where}: {field} is {row.get(field)!r}, the excerpt says {derived[field]!r}")
    if "inferred" in json.dumps(row).lower():
        problems.append(f"{where}: says 'inferred'")
    return problems


def row_from_header(version: str, text: bytes, read_from: str) -> dict[str, Any]:
    lines = excerpt(text.decode("utf-8"))
    return {
        "since": version,
        "tag": f"v{version}",
        "path": HEADER,
        "header_sha256": hashlib.sha256(text).hexdigest(),
        "read_from": read_from,
        **limits(constants(lines)),
        "excerpt": lines,
    }


def from_wheel(wheel: Path) -> dict[str, Any]:
    version = wheel.name.split("-")[1].split("+")[0]
    with zipfile.ZipFile(wheel) as archive:
        text = archive.read(WHEEL_MEMBER)
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    return row_from_header(version, text, f"PyPI wheel {wheel.name} (sha256 {digest}), member {WHEEL_MEMBER}")


def check_checkout(rows: Sequence[dict[str, Any]], checkout: Path) -> list[str]:
    problems = []
    for row in rows:
        if "tag" not in row:
            continue
        done = subprocess.run(
            ["git", "-C", str(checkout), "show", f"{row['tag']}:{row['path']}"],
            capture_output=True,
            check=False,
        )
        if done.returncode != 0:
            problems.append(f"{row['tag']}: {row['path']} not readable in {checkout}")
            continue
        fresh = row_from_header(row["since"], done.stdout, "")
        if fresh["header_sha256"] != row["header_sha256"]:
            problems.append(
                f"{row['tag']}: {row['path']} has sha256 {fresh['header_sha256']}, recorded {row['header_sha256']}"
            )
        for field in (*FIELDS, "excerpt"):
            if fresh[field] != row.get(field):
                problems.append(f"{row['tag']}: {field} differs from the checkout")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--table", type=Path, default=TABLE)
    parser.add_argument("--checkout", type=Path, help="a pytorch/pytorch clone with its release tags")
    parser.add_argument("--wheel", type=Path, nargs="+", help="print the rows these torch wheels give")
    args = parser.parse_args(argv)
    if args.wheel:
        print(json.dumps([from_wheel(w) for w in args.wheel], indent=2))
        return 0
    rows = json.loads(args.table.read_text(encoding="utf-8"))["versions"]
    problems = [p for row in rows for p in check_row(row)]
    if args.checkout:
        problems += check_checkout(rows, args.checkout)
    for problem in problems:
        print(f"torch_version_limits: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
