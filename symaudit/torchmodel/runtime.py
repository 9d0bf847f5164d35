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

Tail-merged literals: the linker may store a literal as the tail of a longer one (the arm64
builds of pytorch_android 1.9.0-1.13.1 keep ``cos_(Tensor(a!) self) -> Tensor(a!)`` only inside
``acos_(...)``, ``logsumexp(...)`` inside ``special_logsumexp(...)``; their x86, x86_64 and
armeabi-v7a builds keep each literal whole). Such a literal has no string start of its own, and
a name that merely ends another (``_scaled_dot_product_attention`` holds
``scaled_dot_product_attention``) must not count. So a schema head inside a longer literal is
accepted only when code refers to that exact address: on AArch64 an ``ADRP Xn, page`` followed
(in address order, the nearest ADRP writing ``Xn``) by ``ADD Xd, Xn, #lo12`` forms it, which is
how clang materialises a string literal's address. Other machines' heads inside literals are not
accepted (their builds seen do not tail-merge).
"""

from __future__ import annotations

import array
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass

from symaudit.elf.model import PF_W, PF_X, PT_LOAD, ElfLibrary
from symaudit.facts import torch_runtime_libraries
from symaudit.torchmodel.model import Operator

RUNTIME_NAMES = frozenset(torch_runtime_libraries())
"""Libraries known to carry the operator registry (REFERENCE.md §7.3)."""
_DISPATCHER_EXPORT = "_ZN3c1010Dispatcher"
"""Mangled prefix of ``c10::Dispatcher`` members: a library exporting one holds a registry."""
_ARROW = re.compile(rb"\)[ \t]*->")
_HEAD = re.compile(rb"(?:([A-Za-z_][A-Za-z0-9_]*)::)?([A-Za-z_][A-Za-z0-9_]*)(?:\.([A-Za-z0-9_]+))?\(")
_NOT_TEXT = re.compile(rb"[^\x20-\x7e]")
"""A byte no schema literal holds: the literal is the printable run before its arrow."""
_MAX_HEAD = 256
"""Longest ``ns::name.overload`` looked for inside a longer literal (67 bytes in 1.13.1): bounds
the work per literal on a hostile file."""
_MAX_SCHEMA = 4096
"""Longest schema string looked for; the longest in libtorch 2.13 is about 1 KB."""


@dataclass(frozen=True, slots=True)
class RuntimeOperators:
    qualified: frozenset[str]
    """``aten::add.Tensor``, ``aten::linear`` (default overload: no dot)."""
    names: frozenset[str]
    """``aten::add``: every name with at least one overload."""
    without_flatbuffer: bool = False
    """The library holds the mobile loader's refusal of flatbuffer models (:data:`NO_FLATBUFFER`)."""

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
        return RuntimeOperators(
            self.qualified | other.qualified,
            self.names | other.names,
            self.without_flatbuffer or other.without_flatbuffer,
        )


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
    inner: dict[int, Operator] = {}
    view = memoryview(data)
    refuses = False
    for start, end in _merged(view, library, executable=False):
        scan = _Scan(found, inner, start)
        scan.run(view[start:end])
        refuses = refuses or any(re.search(marker, view[start:end]) for marker in NO_FLATBUFFER)
    unknown = {offset: op for offset, op in inner.items() if op not in found}
    if unknown and library.machine == EM_AARCH64:
        addresses = {_address(library, offset): offset for offset in unknown}
        addresses.pop(None, None)
        for target in _aarch64_references(view, library, frozenset(a for a in addresses if a is not None)):
            found.add(unknown[addresses[target]])
    operators = RuntimeOperators.of(found)
    return RuntimeOperators(operators.qualified, operators.names, refuses) if refuses else operators


EM_AARCH64 = 183
NO_FLATBUFFER = (re.compile(rb"Flatbuffer input file but the build hasn't enabled? flatbuffer"),)
"""The message of torch/csrc/jit/mobile/import.cpp's loader when the library was built without
flatbuffer support (``enable`` in 1.13.1, ``enabled`` in pytorch_android_lite 1.12.2, both seen
in the real builds): such a runtime loads no flatbuffer (bytecode 9) model."""


def _merged(view: memoryview, library: ElfLibrary, executable: bool) -> list[tuple[int, int]]:
    """Disjoint file ranges of the read-only (or, with ``executable``, the executable) PT_LOAD
    segments, clamped to ``view``."""
    ranges: list[tuple[int, int]] = []
    for segment in library.segments:
        if segment.type != PT_LOAD or segment.flags & PF_W:
            continue
        if executable and not segment.flags & PF_X:
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
    return [(start, end) for start, end in merged]


def _address(library: ElfLibrary, offset: int) -> int | None:
    """The virtual address of file offset ``offset`` (the first PT_LOAD holding it)."""
    for segment in library.segments:
        if segment.type == PT_LOAD and segment.offset <= offset < segment.offset + segment.filesz:
            return segment.vaddr + offset - segment.offset
    return None


def _aarch64_references(view: memoryview, library: ElfLibrary, wanted: frozenset[int]) -> Iterable[int]:
    """The addresses of ``wanted`` that an ADRP/ADD pair in an executable segment forms.

    One pass over the code in address order: each ``ADRP Xd`` records its page for ``Xd``; a
    64-bit ``ADD Xd, Xn, #imm12`` (no shift) at most :data:`_PAIR_DISTANCE` instructions after
    the ADRP that wrote ``Xn`` forms page + imm12. A farther pair is not trusted: ``Xn`` may have
    been rewritten in between (on pytorch_android 1.13.1 arm64 every tail-merged schema literal
    is formed by adjacent instructions, and every head formed by pairs 50 or more instructions
    apart is one the x86_64 build does not register)."""
    if not wanted:
        return ()
    formed: set[int] = set()
    for start, end in _merged(view, library, executable=True):
        base = _address(library, start)
        if base is None:
            continue
        words = array.array("I")
        words.frombytes(view[start : start + (end - start) // 4 * 4])
        if sys.byteorder != "little":
            words.byteswap()
        pages: dict[int, tuple[int, int]] = {}
        for index, word in enumerate(words):
            top = word >> 24
            if top == 0x91:
                written = pages.get((word >> 5) & 31)
                if written is not None and index - written[1] <= _PAIR_DISTANCE and not word & 0x00400000:
                    target = written[0] + ((word >> 10) & 0xFFF)
                    if target in wanted:
                        formed.add(target)
            elif top & 0x9F == 0x90:
                imm = ((word >> 29) & 3) | (((word >> 5) & 0x7FFFF) << 2)
                if imm & 0x100000:
                    imm -= 0x200000
                pages[word & 31] = (((base + 4 * index) & ~0xFFF) + (imm << 12), index)
    return formed


_PAIR_DISTANCE = 1
"""Instructions from an ADRP to the ADD that completes the address (see :func:`_aarch64_references`)."""


def schema_operators(area: bytes) -> RuntimeOperators:
    """The operators of the schema literals anywhere in ``area`` (used on whole files in tests)."""
    found: set[Operator] = set()
    _Scan(found, {}, 0).run(memoryview(area))
    return RuntimeOperators.of(found)


class _Scan:
    """Collects the schema literals of one area: whole ones into ``found``, heads inside a longer
    literal (possible tail-merged literals) into ``inner`` by file offset."""

    def __init__(self, found: set[Operator], inner: dict[int, Operator], base: int) -> None:
        self.found = found
        self.inner = inner
        self.base = base

    def run(self, area: memoryview) -> None:
        seen_starts: set[int] = set()
        for match in _ARROW.finditer(area):
            arrow = match.start()
            window = max(0, arrow - _MAX_SCHEMA)
            before = _NOT_TEXT.search(bytes(area[window:arrow])[::-1])
            if before is None and window > 0:
                continue  # no string start within reach: not a schema literal
            start = arrow - before.start() if before is not None else 0
            if start in seen_starts:
                continue
            seen_starts.add(start)
            paren = bytes(area[start:arrow]).find(b"(")
            if paren < 0:
                continue
            paren += start
            head = _HEAD.match(area, start, paren + 1)
            if head is not None:
                self.found.add(_operator(head))
            for inside in range(max(start + 1, paren - _MAX_HEAD), paren):
                if area[inside] in _NAME_START:
                    tail = _HEAD.match(area, inside, paren + 1)
                    if tail is not None:
                        self.inner[self.base + inside] = _operator(tail)


_NAME_START = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")


def _operator(head: re.Match[bytes]) -> Operator:
    namespace = head.group(1) or b"aten"
    overload = head.group(3) or b""
    return Operator(f"{namespace.decode()}::{head.group(2).decode()}", overload.decode())
