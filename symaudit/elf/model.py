"""The immutable per-library model: what the Android loader sees in one shared object.

Built once by :mod:`symaudit.elf.reader` and never changed. Symbol tables are kept compact
(parallel tuples/bytes, not one object per symbol) because a libtorch runtime exports tens of
thousands of names; :class:`Symbol` objects are made only when somebody asks for one.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field


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


@dataclass(frozen=True, slots=True, eq=False)
class SymbolTable:
    """Symbols of one kind (exports or imports) of one library, stored column-wise.

    ``names`` is in ``.dynsym`` order; ``info`` and ``other`` hold the raw ``st_info`` and
    ``st_other`` byte of each symbol. ``versions``/``hidden``/``version_files`` are ``None``
    when the library has no versym table (or no symbol of this table is versioned).
    """

    names: tuple[str, ...] = ()
    info: bytes = b""
    other: bytes = b""
    versions: tuple[str | None, ...] | None = None
    hidden: bytes | None = None
    version_files: tuple[str | None, ...] | None = None
    _index: dict[str, int] | None = field(init=False, repr=False, compare=False, default=None)
    _repeated: dict[str, tuple[int, ...]] | None = field(init=False, repr=False, compare=False, default=None)
    _prefixes: dict[tuple[str, ...], bool] | None = field(init=False, repr=False, compare=False, default=None)
    _set: frozenset[str] | None = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        count = len(self.names)
        if len(self.info) != count or len(self.other) != count:
            raise ValueError("SymbolTable columns differ in length")
        for column in (self.versions, self.hidden, self.version_files):
            if column is not None and len(column) != count:
                raise ValueError("SymbolTable columns differ in length")

    def _lookup(self) -> dict[str, int]:
        """name -> position of its first occurrence, built on the first lookup: most tables of
        an audit are never searched (only providers' exports are), and for a 100,000-name
        table the dict costs as much time and memory as the names themselves."""
        index = self._index
        if index is None:
            # dict(zip(...)) keeps the last occurrence, so walk the names backwards.
            count = len(self.names)
            index = dict(zip(reversed(self.names), range(count - 1, -1, -1), strict=True))
            object.__setattr__(self, "_index", index)
        return index

    def __len__(self) -> int:
        return len(self.names)

    def any_startswith(self, prefixes: tuple[str, ...]) -> bool:
        """Whether some name starts with one of ``prefixes`` (answered once per prefix set).

        Several analyses ask this of 100,000-name tables; the answer is kept per prefix set.
        """
        cache = self._prefixes
        if cache is None:
            cache = {}
            object.__setattr__(self, "_prefixes", cache)
        answer = cache.get(prefixes)
        if answer is None:
            answer = any(name.startswith(prefixes) for name in self.names)
            cache[prefixes] = answer
        return answer

    def __contains__(self, name: object) -> bool:
        # A frozenset answers membership and builds five times faster than the position index.
        names = self._set
        if names is None:
            names = frozenset(self.names)
            object.__setattr__(self, "_set", names)
        return name in names

    def __iter__(self) -> Iterator[Symbol]:
        for position in range(len(self.names)):
            yield self._symbol(position)

    def get(self, name: str) -> Symbol | None:
        position = self._lookup().get(name)
        return None if position is None else self._symbol(position)

    def all_named(self, name: str) -> tuple[Symbol, ...]:
        """Every entry with this name (a versioned library may define ``f@V1`` and ``f@@V2``)."""
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
        result = {name: tuple(positions) for name, positions in repeated.items()}
        object.__setattr__(self, "_repeated", result)
        return result

    @property
    def name_set(self) -> frozenset[str]:
        if self._set is None:
            object.__setattr__(self, "_set", frozenset(self.names))
        assert self._set is not None
        return self._set

    @property
    def versioned(self) -> bool:
        return self.versions is not None

    def _symbol(self, position: int) -> Symbol:
        info = self.info[position]
        return Symbol(
            name=self.names[position],
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


@dataclass(frozen=True, slots=True, eq=False)
class ExportTable(SymbolTable):
    """Defined GLOBAL/WEAK dynamic symbols: what this library can give to others."""

    _defined = True


@dataclass(frozen=True, slots=True, eq=False)
class ImportTable(SymbolTable):
    """Undefined GLOBAL/WEAK dynamic symbols with a name: what this library needs from others."""

    _defined = False

    @property
    def weak_mask(self) -> bytes:
        """One byte per import: 1 where the reference is weak (may stay unresolved)."""
        return bytes(1 if (i >> 4) == Binding.WEAK else 0 for i in self.info)


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

    @property
    def bits(self) -> int:
        return self.elf_class.bits

    @property
    def load_segments(self) -> tuple[Segment, ...]:
        return tuple(s for s in self.segments if s.type == PT_LOAD)
