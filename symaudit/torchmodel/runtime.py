"""Which operators a packaged libtorch runtime registers, read from its read-only data.

libtorch registers every operator with its schema string, a C string literal in ``.rodata``:
the generated aten registrations leave the namespace to ``TORCH_LIBRARY(aten, m)``
(``add.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor``), the JIT's own and
other namespaces spell it (``aten::add.int(int a, int b) -> int``, ``quantized::add(...)``,
``prim::...``). Seen on libtorch_cpu.so of the torch 2.13.0 wheel (scripts/check_real_libtorch.py);
REFERENCE.md §8.5 saw the same form in 1.13.1 and 2.1.0. A selective (lite) build keeps only the
literals of the operators it was built with, so the set read here is what the runtime can run.

Finding the literals: every schema has ``) ->`` (once seen without the space after it) between arguments and returns, so the scan
looks for that (a fast byte search over the non-writable PT_LOAD segments), walks back to the
start of the C string and parses ``[ns::]name[.overload](``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from symaudit.elf.model import PF_W, PT_LOAD, ElfLibrary
from symaudit.facts import torch_runtime_libraries
from symaudit.torchmodel.model import Operator

RUNTIME_NAMES = frozenset(torch_runtime_libraries())
"""Libraries known to carry the operator registry (REFERENCE.md §7.3)."""
_DISPATCHER_EXPORT = "_ZN3c1010Dispatcher"
"""Mangled prefix of ``c10::Dispatcher`` members: a library exporting one holds a registry."""
_ARROW = re.compile(rb"\)[ \t]*->")
_HEAD = re.compile(rb"(?:([A-Za-z_][A-Za-z0-9_]*)::)?([A-Za-z_][A-Za-z0-9_]*)(?:\.([A-Za-z0-9_]+))?\(")
_MAX_SCHEMA = 4096
"""Longest schema string looked for; the longest in libtorch 2.13 is about 1 KB."""


@dataclass(frozen=True, slots=True)
class RuntimeOperators:
    qualified: frozenset[str]
    """``aten::add.Tensor``, ``aten::linear`` (default overload: no dot)."""
    names: frozenset[str]
    """``aten::add``: every name with at least one overload."""

    def __len__(self) -> int:
        return len(self.qualified)

    def has(self, operator: Operator) -> bool:
        if operator.overload is None:
            return operator.name in self.names
        return operator.qualified in self.qualified

    @classmethod
    def of(cls, operators: Iterable[Operator]) -> RuntimeOperators:
        ops = list(operators)
        return cls(frozenset(op.qualified for op in ops), frozenset(op.name for op in ops))

    def union(self, other: RuntimeOperators) -> RuntimeOperators:
        return RuntimeOperators(self.qualified | other.qualified, self.names | other.names)


def may_be_runtime(name: str, library: ElfLibrary) -> bool:
    """Worth scanning: a known runtime file name, or an export of the c10 dispatcher."""
    if name in RUNTIME_NAMES:
        return True
    return library.exports.any_startswith((_DISPATCHER_EXPORT,))


def registered_operators(data: bytes | memoryview, library: ElfLibrary) -> RuntimeOperators:
    """Every operator whose schema literal lies in a non-writable loaded segment of ``data``.

    Segments are merged into disjoint file ranges first and scanned in place: each byte is
    scanned once, however many (overlapping) PT_LOAD headers a hostile file repeats."""
    found: set[Operator] = set()
    view = memoryview(data)
    ranges: list[tuple[int, int]] = []
    for segment in library.segments:
        if segment.type != PT_LOAD or segment.flags & PF_W:
            continue
        start = max(0, min(segment.offset, len(view)))
        end = max(start, min(segment.offset + segment.filesz, len(view)))
        if end > start:
            ranges.append((start, end))
    merged: list[list[int]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    for start, end in merged:
        found.update(_schemas(view[start:end]))
    return RuntimeOperators.of(found)


def schema_operators(area: bytes) -> RuntimeOperators:
    """The operators of the schema literals anywhere in ``area`` (used on whole files in tests)."""
    return RuntimeOperators.of(_schemas(area))


def _schemas(area: bytes | memoryview) -> Iterable[Operator]:
    seen_starts: set[int] = set()
    for match in _ARROW.finditer(area):
        arrow = match.start()
        window = max(0, arrow - _MAX_SCHEMA)
        nul = bytes(area[window:arrow]).rfind(b"\0")
        start = window + nul + 1 if nul >= 0 else 0
        if start == 0 and arrow >= _MAX_SCHEMA:
            continue  # no string start within reach: not a schema literal
        if start in seen_starts:
            continue
        seen_starts.add(start)
        head = _HEAD.match(area, start, arrow + 1)
        if head is None:
            continue
        namespace = head.group(1) or b"aten"
        overload = head.group(3) or b""
        yield Operator(f"{namespace.decode()}::{head.group(2).decode()}", overload.decode())
