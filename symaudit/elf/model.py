"""The immutable per-library model: what the Android loader sees in one shared object.

Built once by :mod:`symaudit.elf.reader` and never changed. Symbol tables are kept compact
(parallel tuples/bytes, not one object per symbol) because a libtorch runtime exports tens of
thousands of names; :class:`Symbol` objects are made only when somebody asks for one.
"""

from __future__ import annotations

import bisect
import enum
import functools
import itertools
import operator
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass


class ElfClass(enum.IntEnum):
    ELF32 = 1
    ELF64 = 2

    @property
    def bits(self) -> int:
        return 32 if self is ElfClass.ELF32 else 64


class Binding(enum.IntEnum):
    LOCAL = 0
    GLOBAL = 1
    WEAK = 2
    GNU_UNIQUE = 10

    @classmethod
    def of(cls, st_info: int) -> Binding | int:
        value = st_info >> 4
        try:
            return cls(value)
        except ValueError:
            return value


class SymbolType(enum.IntEnum):
    NOTYPE = 0
    OBJECT = 1
    FUNC = 2
    SECTION = 3
    FILE = 4
    COMMON = 5
    TLS = 6
    GNU_IFUNC = 10

    @classmethod
    def of(cls, st_info: int) -> SymbolType | int:
        value = st_info & 0xF
        try:
            return cls(value)
        except ValueError:
            return value


class Visibility(enum.IntEnum):
    DEFAULT = 0
    INTERNAL = 1
    HIDDEN = 2
    PROTECTED = 3


# Program header types the analyses look at (values from the ELF gABI and GNU extensions).
PT_LOAD = 1
PT_DYNAMIC = 2
PT_NOTE = 4
PT_TLS = 7
PT_GNU_STACK = 0x6474E551
PT_GNU_RELRO = 0x6474E552

PF_X = 1
PF_W = 2
PF_R = 4

# Dynamic tags (``d_tag``) and ``DT_FLAGS`` bits: the ELF gABI, plus the GNU and Android extensions
# bionic reads (REFERENCE.md 1.3). One place for the reader and the rules.
DT_NULL = 0
DT_NEEDED = 1
DT_HASH = 4
DT_STRTAB = 5
DT_SYMTAB = 6
DT_STRSZ = 10
DT_SYMENT = 11
DT_SONAME = 14
DT_RPATH = 15
DT_TEXTREL = 22
DT_RUNPATH = 29
DT_FLAGS = 30
DT_RELR = 36
DT_ANDROID_RELR = 0x6FFFE000
DT_GNU_HASH = 0x6FFFFEF5
DT_VERSYM = 0x6FFFFFF0
DT_FLAGS_1 = 0x6FFFFFFB
DT_VERDEF = 0x6FFFFFFC
DT_VERDEFNUM = 0x6FFFFFFD
DT_VERNEED = 0x6FFFFFFE
DT_VERNEEDNUM = 0x6FFFFFFF
DF_TEXTREL = 0x4


@dataclass(frozen=True, slots=True)
class Symbol:
    """One dynamic symbol, materialised on demand from a :class:`SymbolTable`."""

    name: str
    binding: Binding | int
    type: SymbolType | int
    visibility: Visibility
    defined: bool
    version: str | None = None
    """Version name: the verdef name for a definition, the vernaux name for a reference."""
    hidden: bool = False
    """Definition only: a non-default version (``name@V``, versym bit 0x8000)."""
    version_file: str | None = None
    """Reference only: the library the version is required from (verneed ``vn_file``)."""

    @property
    def weak(self) -> bool:
        return self.binding == Binding.WEAK


_POWERS = [pow(33, k, 1 << 32) for k in range(1024)]


def gnu_hash(name: bytes) -> int:
    """The DT_GNU_HASH function (h = h * 33 + c, from 5381, mod 2**32), as one sum of products
    evaluated in C: h = 5381 * 33**n + sum(c[i] * 33**(n-1-i))."""
    size = len(name)
    if size >= len(_POWERS):
        digest = 5381
        for byte in name:
            digest = (digest * 33 + byte) & 0xFFFFFFFF
        return digest
    weights = _POWERS[size - 1 :: -1] if size else []
    total: int = 5381 * _POWERS[size] + sum(map(operator.mul, name, weights))
    return total & 0xFFFFFFFF


@functools.lru_cache(maxsize=1 << 16)
def _name_hash(name: str) -> int:
    """The GNU hash of a symbol name, cached: an app's libraries import the same names in every
    ABI, and several libraries import the same runtime names."""
    return gnu_hash(name.encode("utf-8", "surrogateescape"))


class HashedNames:
    """The names of a large export table, left undecoded, with the library's own GNU hash table
    to look names up by: what the dynamic linker does, and what makes an audit of a
    100,000-symbol libtorch cheaper than decoding its names. Decodes everything only when
    someone iterates the names.

    ``offsets`` holds each export's ``st_name``; ``runs`` are the ``.dynsym`` index ranges
    ``[start, end)`` of the exports, in order (export rows are numbered through them; a linker
    writes one or a few); ``buckets``/``chains`` and ``symoffset`` are the ``DT_GNU_HASH`` table.
    """

    __slots__ = ("text", "offsets", "runs", "buckets", "chains", "symoffset", "disjoint", "_starts", "_firsts")

    def __init__(
        self,
        text: str,
        offsets: Sequence[int],
        runs: Sequence[tuple[int, int]],
        buckets: Sequence[int],
        chains: Sequence[int],
        symoffset: int,
        disjoint: bool = False,
    ) -> None:
        """``disjoint``: the reader proved every offset starts a string of ``text``."""
        self.disjoint = disjoint
        self.text = text
        self.offsets = offsets
        self.runs = tuple(runs)
        self.buckets = buckets
        self.chains = chains
        self.symoffset = symoffset
        self._starts = [start for start, _ in self.runs]
        self._firsts = list(itertools.accumulate((end - start for start, end in self.runs), initial=0))

    def row_of(self, index: int) -> int:
        """The export row of ``.dynsym`` entry ``index``; -1 when that entry is no export."""
        at = bisect.bisect_right(self._starts, index) - 1
        if at < 0 or index >= self.runs[at][1]:
            return -1
        return self._firsts[at] + index - self._starts[at]

    def __len__(self) -> int:
        return len(self.offsets)

    def name_at(self, row: int) -> str:
        at = self.offsets[row]
        return self.text[at : self.text.find("\0", at)]

    def decode(self) -> tuple[str, ...]:
        """Every name, each distinct offset decoded once (the reader bounded their total).

        When every offset starts a string, the whole table is split at its NULs in one C call
        and each string found by where it starts (four times faster than a search per name)."""
        text = self.text
        if self.disjoint and text.endswith("\0"):
            strings = text.split("\0")
            starts = itertools.accumulate(map(len, strings), lambda at, size: at + size + 1, initial=0)
            names = dict(zip(starts, strings, strict=False))  # one start more than strings
        else:
            find = text.find
            names = {offset: text[offset : find("\0", offset)] for offset in set(self.offsets)}
        return tuple(map(names.__getitem__, self.offsets))

    def rows_named(self, name: str) -> list[int]:
        """Export rows with this name, in ``.dynsym`` order (bionic's gnu_lookup)."""
        if not self.buckets:
            return []
        digest = _name_hash(name)
        index = self.buckets[digest % len(self.buckets)]
        if index < self.symoffset:
            return []
        found: list[int] = []
        text, chains, offsets = self.text, self.chains, self.offsets
        size = len(name)
        while 0 <= index - self.symoffset < len(chains):
            word = chains[index - self.symoffset]
            if (word | 1) == (digest | 1):
                row = self.row_of(index)
                if row >= 0:
                    at = offsets[row]
                    if text.startswith(name, at) and text[at + size : at + size + 1] == "\0":
                        found.append(row)
            if word & 1:
                break
            index += 1
        return found

    def contains_each(self, names: Sequence[str]) -> list[bool]:
        """For each name, whether some export has it: :meth:`rows_named` for many names at once,
        in one loop (the linker asks this for every import of a library at a time)."""
        buckets, chains, offsets, text = self.buckets, self.chains, self.offsets, self.text
        if not buckets:
            return [False] * len(names)
        symoffset, nbuckets, nchains = self.symoffset, len(buckets), len(self.chains)
        row_of = self.row_of
        (first, end), single = (self.runs[0] if self.runs else (0, 0)), len(self.runs) == 1
        found: list[bool] = []
        for name in names:
            digest = _name_hash(name)
            index = buckets[digest % nbuckets]
            digest |= 1
            wanted = name + "\0"
            hit = False
            while symoffset <= index < symoffset + nchains:
                word = chains[index - symoffset]
                if word | 1 == digest:
                    row = (index - first if first <= index < end else -1) if single else row_of(index)
                    if row >= 0 and text.startswith(wanted, offsets[row]):
                        hit = True
                        break
                if word & 1:
                    break
                index += 1
            found.append(hit)
        return found

    def any_startswith(self, prefixes: tuple[str, ...]) -> bool | None:
        """False when no string of the table starts with a prefix; None when some does (the
        caller then checks the decoded names: the string may be an import's).

        The prefixes' longest common part is searched for as a plain substring (a fast scan of
        the whole table); each place it occurs is checked for a string start with a prefix. A
        table where it occurs mid-name more than :data:`_CORE_HITS` times is searched with the
        anchored pattern instead, so the cost stays one linear scan whatever the table holds."""
        text = self.text
        if text.startswith(prefixes):
            return None
        core = _common_core(prefixes)
        if core is not None:
            placed = [(prefix, prefix.index(core)) for prefix in prefixes]
            at = _scan(text, core, 0)
            for _ in range(_CORE_HITS):
                if at < 0:
                    return False
                for prefix, shift in placed:
                    start = at - shift
                    if start > 0 and text[start - 1] == "\0" and text.startswith(prefix, start):
                        return None
                at = _scan(text, core, at + 1)
        pattern = _prefix_pattern(prefixes)
        overlap = max(map(len, prefixes)) + 1
        for start in range(0, len(text), SCAN_PIECE):
            if pattern.search(text, start, start + SCAN_PIECE + overlap):
                return None
        return False


_CORE_HITS = 256
SCAN_PIECE = 1 << 20
"""Characters per C-level search of a string table: each search holds the GIL, and one over a
9 MB table held it for milliseconds while the hash worker waited to read its next chunk."""


def _scan(text: str, part: str, start: int) -> int:
    """``text.find(part, start)``, :data:`SCAN_PIECE` characters per call."""
    overlap = len(part) - 1
    while start < len(text):
        at = text.find(part, start, start + SCAN_PIECE + overlap)
        if at >= 0:
            return at
        start += SCAN_PIECE
    return -1
"""Places of the common part checked one by one before the anchored pattern takes over."""


@functools.lru_cache(maxsize=32)
def _common_core(prefixes: tuple[str, ...]) -> str | None:
    """The longest substring of every prefix (None when shorter than 4 characters: too common
    to scan for)."""
    if not prefixes:
        return None
    shortest = min(prefixes, key=len)
    for size in range(len(shortest), 3, -1):
        for start in range(len(shortest) - size + 1):
            part = shortest[start : start + size]
            if all(part in prefix for prefix in prefixes):
                return part
    return None


@functools.lru_cache(maxsize=32)
def _prefix_pattern(prefixes: tuple[str, ...]) -> re.Pattern[str]:
    """A string of the table starting with one of ``prefixes``: a NUL, then the prefix."""
    return re.compile("\0(?:" + "|".join(re.escape(prefix) for prefix in prefixes) + ")")


class SymbolTable:
    """Symbols of one kind (exports or imports) of one library, stored column-wise.

    ``names`` is in ``.dynsym`` order; ``info`` and ``other`` hold the raw ``st_info`` and
    ``st_other`` byte of each symbol. ``versions``/``hidden``/``version_files`` are ``None``
    when the library has no versym table (or no symbol of this table is versioned). ``names``
    may be given as :class:`HashedNames`; they are then decoded only when iterated.
    Immutable by contract: the private caches are filled on first use.
    """

    __slots__ = (
        "_names",
        "_hashed",
        "info",
        "other",
        "versions",
        "hidden",
        "version_files",
        "_index",
        "_repeated",
        "_prefixes",
        "_set",
    )

    def __init__(
        self,
        names: tuple[str, ...] | HashedNames = (),
        info: bytes = b"",
        other: bytes = b"",
        versions: tuple[str | None, ...] | None = None,
        hidden: bytes | None = None,
        version_files: tuple[str | None, ...] | None = None,
    ) -> None:
        self._hashed = names if isinstance(names, HashedNames) else None
        self._names: tuple[str, ...] | None = None if isinstance(names, HashedNames) else tuple(names)
        self.info = info
        self.other = other
        self.versions = versions
        self.hidden = hidden
        self.version_files = version_files
        self._index: dict[str, int] | None = None
        self._repeated: dict[str, tuple[int, ...]] | None = None
        self._prefixes: dict[tuple[str, ...], bool] | None = None
        self._set: frozenset[str] | None = None
        count = len(names)
        if len(self.info) != count or len(self.other) != count:
            raise ValueError("SymbolTable columns differ in length")
        for column in (self.versions, self.hidden, self.version_files):
            if column is not None and len(column) != count:
                raise ValueError("SymbolTable columns differ in length")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} symbols)"

    @property
    def names(self) -> tuple[str, ...]:
        names = self._names
        if names is None:
            assert self._hashed is not None
            names = self._names = self._hashed.decode()
        return names

    def _lookup(self) -> dict[str, int]:
        """name -> position of its first occurrence, built on the first lookup: most tables of
        an audit are never searched (only providers' exports are), and for a 100,000-name
        table the dict costs as much time and memory as the names themselves."""
        index = self._index
        if index is None:
            # dict(zip(...)) keeps the last occurrence, so walk the names backwards.
            count = len(self.names)
            index = self._index = dict(zip(reversed(self.names), range(count - 1, -1, -1), strict=True))
        return index

    def __len__(self) -> int:
        return len(self.info)

    def any_startswith(self, prefixes: tuple[str, ...]) -> bool:
        """Whether some name starts with one of ``prefixes`` (answered once per prefix set).

        Several analyses ask this of 100,000-name tables; the answer is kept per prefix set.
        """
        cache = self._prefixes
        if cache is None:
            cache = self._prefixes = {}
        answer = cache.get(prefixes)
        if answer is None and self._names is None and self._hashed is not None:
            answer = self._hashed.any_startswith(prefixes)
        if answer is None:
            answer = any(map(operator.methodcaller("startswith", prefixes), self.names))
        cache[prefixes] = answer
        return answer

    def contains_each(self, names: Sequence[str]) -> list[bool]:
        """``[name in self for name in names]``, through the hash table in one loop when the names
        are left undecoded."""
        if self._names is None and self._hashed is not None:
            return self._hashed.contains_each(names)
        return list(map(self.name_set.__contains__, names))

    def __contains__(self, name: object) -> bool:
        if self._names is None and self._hashed is not None:
            return isinstance(name, str) and bool(self._hashed.rows_named(name))
        # A frozenset answers membership and builds five times faster than the position index.
        names = self._set
        if names is None:
            names = self._set = frozenset(self.names)
        return name in names

    def __iter__(self) -> Iterator[Symbol]:
        for position in range(len(self.names)):
            yield self._symbol(position)

    def get(self, name: str) -> Symbol | None:
        if self._names is None and self._hashed is not None:
            rows = self._hashed.rows_named(name)
            return self._symbol(min(rows)) if rows else None
        position = self._lookup().get(name)
        return None if position is None else self._symbol(position)

    def all_named(self, name: str) -> tuple[Symbol, ...]:
        """Every entry with this name (a versioned library may define ``f@V1`` and ``f@@V2``)."""
        if self._names is None and self._hashed is not None:
            return tuple(self._symbol(row) for row in sorted(self._hashed.rows_named(name)))
        first = self._lookup().get(name)
        if first is None:
            return ()
        repeated = self._repeated
        if repeated is None:
            repeated = self._repeated_names()
        return tuple(self._symbol(i) for i in repeated.get(name, (first,)))

    def _repeated_names(self) -> dict[str, tuple[int, ...]]:
        """Positions of every name that occurs more than once (one scan, on first need)."""
        names = self.names
        repeated: dict[str, list[int]] = {}
        if len(self._lookup()) < len(names):
            seen: set[str] = set()
            twice = {n for n in names if n in seen or seen.add(n)}  # type: ignore[func-returns-value]
            for position, name in enumerate(names):
                if name in twice:
                    repeated.setdefault(name, []).append(position)
        result = self._repeated = {name: tuple(positions) for name, positions in repeated.items()}
        return result

    @property
    def name_set(self) -> frozenset[str]:
        if self._set is None:
            self._set = frozenset(self.names)
        return self._set

    @property
    def versioned(self) -> bool:
        return self.versions is not None

    def _symbol(self, position: int) -> Symbol:
        info = self.info[position]
        hashed = self._hashed if self._names is None else None
        return Symbol(
            name=hashed.name_at(position) if hashed is not None else self.names[position],
            binding=Binding.of(info),
            type=SymbolType.of(info),
            visibility=Visibility(self.other[position] & 3),
            defined=self._defined,
            version=None if self.versions is None else self.versions[position],
            hidden=bool(self.hidden[position]) if self.hidden is not None else False,
            version_file=None if self.version_files is None else self.version_files[position],
        )

    # Subclasses say whether they hold definitions; a plain table is assumed to.
    _defined = True


class ExportTable(SymbolTable):
    """Defined GLOBAL/WEAK dynamic symbols: what this library can give to others."""

    __slots__ = ()

    _defined = True


class ImportTable(SymbolTable):
    """Undefined GLOBAL/WEAK dynamic symbols with a name: what this library needs from others."""

    __slots__ = ()

    _defined = False

    @property
    def weak_mask(self) -> bytes:
        """One byte per import: 1 where the reference is weak (may stay unresolved)."""
        return self.info.translate(_WEAK_BY_INFO)


_WEAK_BY_INFO = bytes(1 if info >> 4 == Binding.WEAK else 0 for info in range(256))
"""``st_info`` byte -> 1 when its binding is WEAK: a whole column is one ``translate``."""


@dataclass(frozen=True, slots=True)
class Refusal:
    """A structure bionic's loader refuses, in its own words (``linker_phdr.cpp``, ``linker.cpp``)."""

    reason: str
    """Stable key (``no-section-headers``, ``section-headers-out-of-range``, ``e-shentsize``, ...)."""
    message: str
    """bionic's message, with the library's file name."""
    target_sdk: int | None = None
    """Fatal only for apps targeting this API level or higher (bionic's ``DL_ERROR_AFTER``); older
    targets get a warning and the library loads. None: fatal for every app."""


@dataclass(frozen=True, slots=True)
class Segment:
    """One program header."""

    type: int
    flags: int
    offset: int
    vaddr: int
    filesz: int
    memsz: int
    align: int


@dataclass(frozen=True, slots=True)
class Note:
    """One ELF note (from PT_NOTE segments, or note sections when there are no segments)."""

    name: str
    type: int
    desc: bytes


@dataclass(frozen=True, slots=True)
class VersionNeed:
    """One verneed entry: versions this library requires from ``file`` (a DT_NEEDED soname)."""

    file: str
    versions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ElfLibrary:
    """Everything symaudit knows about one shared object, as the bionic loader would read it."""

    elf_class: ElfClass
    machine: int
    """``e_machine``: 183 AArch64, 40 ARM, 3 i386, 62 x86-64, 243 RISC-V."""
    elf_type: int
    """``e_type``: 3 (ET_DYN) for a shared object."""
    soname: str | None
    needed: tuple[str, ...]
    """DT_NEEDED in file order."""
    runpath: tuple[str, ...]
    rpath: tuple[str, ...]
    flags: int
    """DT_FLAGS (0 when absent)."""
    flags_1: int
    """DT_FLAGS_1 (0 when absent)."""
    dynamic_tags: frozenset[int]
    """Every d_tag present in the dynamic array (DT_TEXTREL, DT_RELR, DT_HASH, ...)."""
    segments: tuple[Segment, ...]
    notes: tuple[Note, ...]
    exports: ExportTable
    imports: ImportTable
    has_versym: bool
    """Whether the library has a versym table (bionic matches anything against one without)."""
    versions_defined: frozenset[str]
    """Verdef names, the BASE (file name) entry excluded."""
    version_needs: tuple[VersionNeed, ...]
    comment: tuple[str, ...] = ()
    """``.comment`` strings (toolchain banners), when section headers are present."""
    section_headers: bool = True
    """False when section headers are absent or unusable; tables were found through PT_DYNAMIC."""
    anomalies: tuple[str, ...] = ()
    """Non-fatal oddities the reader noticed (e.g. a LOCAL symbol in the global part of .dynsym)."""
    refusals: tuple[Refusal, ...] = ()
    """What bionic's ElfReader refuses in this file, in the order it checks (see :class:`Refusal`)."""

    @property
    def bits(self) -> int:
        return self.elf_class.bits

    @property
    def load_segments(self) -> tuple[Segment, ...]:
        return tuple(s for s in self.segments if s.type == PT_LOAD)
