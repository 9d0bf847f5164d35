"""Build an :class:`~symaudit.elf.model.ElfLibrary` from the bytes of one shared object.

The reader follows the bionic loader rather than the section headers: the dynamic symbol and
string tables are found through ``PT_DYNAMIC`` (``DT_SYMTAB``, ``DT_STRTAB``, the symbol count
from ``DT_GNU_HASH`` or ``DT_HASH``), so a library with stripped or garbage section headers is
read exactly as the device reads it. The layout (ELF header, program headers, section headers
when they are usable) is parsed with pyelftools' layout structs (``Elf_Ehdr``, ``Elf_Shdr``) record
by record; its section objects are not used, because they would parse every hash bucket and chain
(a million constructs for a libtorch) only to name the sections. The big tables
(``.dynsym``, ``.dynstr``, versym) are read column-wise over one ``memoryview`` each and
classified a whole column at a time (``bytes.translate``, big-integer adds), never as one Python
object per symbol: that is what makes a 100,000-symbol libtorch cheaper to audit than to dump
with ``llvm-readelf`` (``scripts/bench.py`` measures it).

Every way a file can be malformed ends in :class:`CorruptElfError` with a one-line reason; the
audit turns it into a ``corrupt-library`` finding and carries on with the rest of the package.
"""

from __future__ import annotations

import functools
import operator
import os
import re
import struct
import sys
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from symaudit.elf.model import (
    DT_FLAGS,
    DT_FLAGS_1,
    DT_GNU_HASH,
    DT_HASH,
    DT_NEEDED,
    DT_NULL,
    DT_RPATH,
    DT_RUNPATH,
    DT_SONAME,
    DT_STRSZ,
    DT_STRTAB,
    DT_SYMENT,
    DT_SYMTAB,
    DT_VERDEF,
    DT_VERDEFNUM,
    DT_VERNEED,
    DT_VERNEEDNUM,
    DT_VERSYM,
    PT_DYNAMIC,
    PT_LOAD,
    PT_NOTE,
    ElfClass,
    ElfLibrary,
    ExportTable,
    HashedNames,
    ImportTable,
    Note,
    Refusal,
    Segment,
    VersionNeed,
)

ET_DYN = 3
VER_FLG_BASE = 1
VERSYM_HIDDEN = 0x8000
VERSYM_INDEX = 0x7FFF

# Sanity bounds: far above any real library, low enough that garbage cannot make us loop or
# allocate without end.
MAX_DYNAMIC_ENTRIES = 1 << 16
MAX_VERSION_ENTRIES = 1 << 16
MAX_SYMBOLS = 1 << 24
MAX_VERSION_RECORDS = 1 << 12
"""Version records (verdef, verneed and vernaux entries together) one library may hold. bionic's
libc.so has about 30; a 65,535 x 65,535 verneed chain would otherwise be walked in full."""
MAX_NEEDED = 1 << 10
"""DT_NEEDED entries: real libraries have a few dozen (libtorch: 12)."""
MAX_DYNAMIC_NAME = 4096
"""Bytes of one DT_NEEDED/DT_SONAME/DT_RUNPATH string: PATH_MAX, past which bionic's loader
cannot open the file anyway."""
NAME_BYTES_PER_TABLE_BYTE = 4
"""The names of all symbol rows, DT_NEEDED and version entries may total at most this many times
``.dynstr`` (plus :data:`NAME_BYTES_SLACK`). Each distinct offset is decoded once; in a real
table each name serves one symbol and names share only the tails a linker merges, so they total
about its size. 2,000 imports at different offsets into one 1 MiB name would decode 2 GB, and
2,000 imports of the same 1 MiB name would print 2 GB of findings."""
NAME_BYTES_SLACK = 1 << 20
MAX_NOTES = 256
"""Notes kept from all PT_NOTE segments (real libraries: 2-4: build id, Android ident)."""
MAX_NOTE_BYTES = 1 << 20
"""Bytes of note descriptors kept in all (a build id is 20 bytes, the Android ident 132)."""

_NATIVE_LITTLE = sys.byteorder == "little"

# e_type names as pyelftools spells them (for the "not a shared object" message).
_E_TYPES = {
    0: "ET_NONE",
    1: "ET_REL",
    2: "ET_EXEC",
    3: "ET_DYN",
    4: "ET_CORE",
    0xFF00: "ET_LOPROC",
    0xFFFF: "ET_HIPROC",
}
SHN_XINDEX = 0xFFFF

# Symbol classification, one byte per symbol, computed over whole columns (see _classes):
# bits 0-1 from st_info (1 GLOBAL/WEAK, 2 GNU_UNIQUE), bit 2 a DEFAULT/PROTECTED st_other,
# bit 3 a defined st_shndx, bit 4 a non-zero st_name.
_BIND_CLASS = bytes(1 if (i >> 4) in (1, 2) else 2 if (i >> 4) == 10 else 0 for i in range(256))
_VISIBLE = bytes(4 if (i & 3) in (0, 3) else 0 for i in range(256))
_DEFINED = bytes(0 if i == 0 else 8 for i in range(256))
_NAMED = bytes(0 if i == 0 else 16 for i in range(256))
# Export: defined, GLOBAL/WEAK, DEFAULT/PROTECTED. Import: undefined, GLOBAL/WEAK, named. A
# GNU_UNIQUE (or any other non-LOCAL) definition is no export: bionic's is_symbol_global_and_defined
# (linker_relocate.h) warns "unexpected ST_BIND value" and ignores it.
_IS_EXPORT = bytes(1 if (c & 3) == 1 and (c & 4) and (c & 8) else 0 for c in range(256))
_IS_IMPORT = bytes(1 if (c & 3) == 1 and not (c & 8) and (c & 16) else 0 for c in range(256))
_RUNS = re.compile(rb"\x01+")


class CorruptElfError(Exception):
    """The bytes are not a shared object the Android loader could read; ``str()`` says why.

    ``reason`` is a stable key when the message is bionic's own (``no-hash-table``, ...);
    ``earlier`` holds the refusals bionic's ElfReader meets before this point (it stops at the
    first fatal one)."""

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.earlier: tuple[Refusal, ...] = ()


ELF_HEADER_TARGET_SDK = 26
SHT_DYNAMIC = 6
"""bionic's DL_ERROR_AFTER(26, ...) in ElfReader::VerifyElfHeader (e_shentsize, e_shstrndx)."""


@dataclass(frozen=True, slots=True)
class _Layout:
    """Per-class sizes and column strides of a symbol table entry."""

    sym_size: int
    dyn_format: str
    # Positions inside one symbol entry, in units of the cast item size.
    name_word: int  # st_name as the n-th 32-bit word
    info_byte: int
    other_byte: int
    shndx_half: int  # st_shndx as the n-th 16-bit half-word


_LAYOUT = {
    ElfClass.ELF64: _Layout(24, "q", 0, 4, 5, 3),
    ElfClass.ELF32: _Layout(16, "i", 0, 12, 13, 7),
}


GIL_PIECE = 8192
"""Items per C-level call over a whole table (gathers, scans): each call holds the GIL, and a
100,000-item one held it for milliseconds while the hash worker waited to read its next chunk."""
LAZY_NAMES_ABOVE = 4096
"""Export tables at least this large are looked up through DT_GNU_HASH instead of decoded."""

_SECTION_NAME_MAX = 4096
"""Longest section name read (real ones are a few dozen bytes)."""

_HEADER_FIELDS = (
    "e_version",
    "e_entry",
    "e_phoff",
    "e_shoff",
    "e_flags",
    "e_ehsize",
    "e_phentsize",
    "e_phnum",
    "e_shentsize",
    "e_shnum",
    "e_shstrndx",
)


@functools.lru_cache(maxsize=2)
def _structs(elf_class: ElfClass) -> Any:
    """pyelftools' ELF layout structs for one class (little-endian: every Android ABI is)."""
    from elftools.elf.structs import ELFStructs  # lazy: `symaudit --help` does not need it

    structs = ELFStructs(little_endian=True, elfclass=elf_class.bits)
    structs.create_basic_structs()
    structs.create_advanced_structs(None, None, None)
    return structs


def read_elf(data: bytes | memoryview, name: str = "") -> ElfLibrary:
    """Parse one shared object. ``name`` only decorates error messages.

    Raises :class:`CorruptElfError` for anything the loader would refuse or that cannot be read.
    """
    reader = None
    try:
        reader = _Reader(data, name)
        return reader.library()
    except CorruptElfError as exc:
        if reader is not None:
            exc.earlier = tuple(reader.refusals)
        raise
    except Exception as exc:  # struct, slicing and decoding raise many types on garbage input
        if os.environ.get("SYMAUDIT_DEBUG"):
            raise
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CorruptElfError(f"unreadable ELF ({detail})") from exc


class _Reader:
    def __init__(self, data: bytes | memoryview, name: str = "") -> None:
        self.data = data
        self.name = name or "library"
        self.size = len(data)
        self.anomalies: list[str] = []
        self.refusals: list[Refusal] = []
        self._check_ident()
        self.elf_class = ElfClass.ELF64 if data[4] == 2 else ElfClass.ELF32
        self.layout = _LAYOUT[self.elf_class]
        self.header = self._header()

    # -- header ---------------------------------------------------------------------------

    def _check_ident(self) -> None:
        data = self.data
        if not data:
            raise CorruptElfError("empty file (0 bytes)")
        if data[:4] != b"\x7fELF":
            if data[:2] == b"PK":
                raise CorruptElfError("is a zip archive, not an ELF shared object")
            raise CorruptElfError("not an ELF file (bad magic)")
        if len(data) < 52:
            raise CorruptElfError(f"truncated: {len(data)} bytes is shorter than an ELF header")
        if data[4] not in (1, 2):
            raise CorruptElfError(f"bad ELF class {data[4]} in e_ident")
        if data[5] != 1:
            raise CorruptElfError("big-endian or unknown byte order; Android libraries are little-endian")
        if data[4] == 2 and len(data) < 64:
            raise CorruptElfError(f"truncated: {len(data)} bytes is shorter than an ELF64 header")

    def _header(self) -> dict[str, int]:
        """The ELF header through pyelftools' layout structs; e_type/e_machine as numbers."""
        parsed = _structs(self.elf_class).Elf_Ehdr.parse(bytes(self.data[:64]))
        header = {name: parsed[name] for name in _HEADER_FIELDS}
        header["e_type"], header["e_machine"] = struct.unpack_from("<HH", self.data, 16)
        return header

    def library(self) -> ElfLibrary:
        e_type = self.header["e_type"]
        if e_type != ET_DYN:
            raise CorruptElfError(
                f"e_type is {_E_TYPES.get(e_type, e_type)}, not ET_DYN: not a shared object"
            )
        segments = self._segments()
        self.loads = sorted((s for s in segments if s.type == PT_LOAD), key=lambda s: s.vaddr)
        if not self.loads:
            raise CorruptElfError("no PT_LOAD segment")
        dynamic = [s for s in segments if s.type == PT_DYNAMIC]
        if not dynamic:
            raise CorruptElfError("no PT_DYNAMIC segment: nothing the dynamic linker can link")
        tags = self._dynamic(dynamic[0])
        self.tags = tags
        sections = self._sections(dynamic[0])
        self._prelink_checks(tags)
        strtab = self._string_table(tags)
        self.strtab = strtab
        self._strings: dict[int, str] = {}
        self.name_bytes = 0
        self.name_budget = NAME_BYTES_PER_TABLE_BYTE * len(strtab) + NAME_BYTES_SLACK

        if len(tags.get(DT_NEEDED, ())) > MAX_NEEDED:
            raise CorruptElfError(
                f"{len(tags[DT_NEEDED])} DT_NEEDED entries: more than the {MAX_NEEDED} a real library could have"
            )

        def names_of(tag: int) -> tuple[str, ...]:
            return tuple(self._dynamic_name(strtab, value, tag) for value in tags.get(tag, ()))

        soname = names_of(DT_SONAME)
        needed = names_of(DT_NEEDED)
        runpath = tuple(p for value in names_of(DT_RUNPATH) for p in value.split(":") if p)
        rpath = tuple(p for value in names_of(DT_RPATH) for p in value.split(":") if p)

        exports, imports, has_versym, defined, needs = self._symbols(tags, strtab, sections)
        notes = self._notes(segments, sections)
        comment = self._comment(sections)
        return ElfLibrary(
            elf_class=self.elf_class,
            machine=self._machine_number(),
            elf_type=ET_DYN,
            soname=soname[0] if soname else None,
            needed=needed,
            runpath=runpath,
            rpath=rpath,
            flags=_first(tags, DT_FLAGS),
            flags_1=_first(tags, DT_FLAGS_1),
            dynamic_tags=frozenset(tags),
            segments=segments,
            notes=notes,
            exports=exports,
            imports=imports,
            has_versym=has_versym,
            versions_defined=defined,
            version_needs=needs,
            comment=comment,
            section_headers=sections is not None,
            anomalies=tuple(self.anomalies),
            refusals=tuple(self.refusals),
        )

    def _prelink_checks(self, tags: dict[int, list[int]]) -> None:
        """soinfo::prelink_image's refusals, in its order, in its words (linker.cpp)."""
        name = self.name
        if DT_SYMENT in tags and tags[DT_SYMENT][0] != self.layout.sym_size:
            raise CorruptElfError(f'invalid DT_SYMENT: {tags[DT_SYMENT][0]} in "{name}"', "bad-dt-syment")
        if DT_HASH not in tags and DT_GNU_HASH not in tags:
            raise CorruptElfError(
                f'empty/missing DT_HASH/DT_GNU_HASH in "{name}" (new hash type from the future?)', "no-hash-table"
            )
        if DT_STRTAB not in tags:
            raise CorruptElfError(f'empty/missing DT_STRTAB in "{name}"', "no-dt-strtab")
        if DT_SYMTAB not in tags:
            raise CorruptElfError(f'empty/missing DT_SYMTAB in "{name}"', "no-dt-symtab")

    def _machine_number(self) -> int:
        offset = 18
        return int.from_bytes(self.data[offset : offset + 2], "little")

    def _segments(self) -> tuple[Segment, ...]:
        header = self.header
        phoff, phnum, phentsize = header["e_phoff"], header["e_phnum"], header["e_phentsize"]
        if phnum == 0:
            raise CorruptElfError("no program headers")
        expected = 56 if self.elf_class is ElfClass.ELF64 else 32
        if phentsize != expected:
            raise CorruptElfError(f"e_phentsize is {phentsize}, expected {expected}")
        end = phoff + phnum * phentsize
        if end > self.size:
            raise CorruptElfError(
                f"truncated: program headers end at offset {end} but the file has {self.size} bytes"
            )
        # Raw values, not pyelftools' names: processor-specific p_type values vary by machine.
        result = []
        raw = self.data
        for index in range(phnum):
            at = phoff + index * phentsize
            if self.elf_class is ElfClass.ELF64:
                kind, flags, offset, vaddr, _paddr, filesz, memsz, align = struct.unpack_from(
                    "<IIQQQQQQ", raw, at
                )
            else:
                kind, offset, vaddr, _paddr, filesz, memsz, flags, align = struct.unpack_from(
                    "<IIIIIIII", raw, at
                )
            result.append(Segment(kind, flags, offset, vaddr, filesz, memsz, align))
        return tuple(result)

    # -- addresses --------------------------------------------------------------------------

    def _offset(self, vaddr: int, what: str) -> int:
        """File offset of a virtual address, through the PT_LOAD that maps it from the file."""
        for load in self.loads:
            if load.vaddr <= vaddr < load.vaddr + load.filesz:
                return load.offset + (vaddr - load.vaddr)
        raise CorruptElfError(f"{what} address {vaddr:#x} is not inside any PT_LOAD segment")

    def _bytes(self, offset: int, length: int, what: str) -> memoryview:
        if offset < 0 or length < 0 or offset + length > self.size:
            raise CorruptElfError(
                f"truncated: {what} needs {length} bytes at offset {offset} but the file has {self.size}"
            )
        return memoryview(self.data)[offset : offset + length]

    # -- dynamic array ----------------------------------------------------------------------

    def _dynamic(self, segment: Segment) -> dict[int, list[int]]:
        entry = 16 if self.elf_class is ElfClass.ELF64 else 8
        count = min(segment.filesz // entry, MAX_DYNAMIC_ENTRIES)
        if count == 0:
            raise CorruptElfError("PT_DYNAMIC is empty")
        raw = self._bytes(segment.offset, count * entry, "PT_DYNAMIC")
        fmt = "<qQ" if self.elf_class is ElfClass.ELF64 else "<iI"
        tags: dict[int, list[int]] = {}
        for tag, value in struct.iter_unpack(fmt, raw):
            if tag == DT_NULL:
                break
            tags.setdefault(tag & 0xFFFFFFFFFFFFFFFF if tag < 0 else tag, []).append(value)
        return tags

    def _string_table(self, tags: dict[int, list[int]]) -> _StrTab:
        """``.dynstr`` (:meth:`_prelink_checks` has refused a library without DT_STRTAB)."""
        offset = self._offset(tags[DT_STRTAB][0], "DT_STRTAB")
        size = _first(tags, DT_STRSZ)
        if size == 0:
            raise CorruptElfError("DT_STRSZ is missing or zero")
        view = self._bytes(offset, size, ".dynstr (DT_STRTAB/DT_STRSZ)")
        # The same bytes one earlier: before[i] is the byte preceding offset i (see starts_strings).
        before = memoryview(self.data)[offset - 1 : offset - 1 + size] if offset > 0 else None
        return _StrTab(view, before)

    def _dynamic_name(self, strtab: _StrTab, offset: int, tag: int) -> str:
        name = self._string(strtab, offset, f"DT tag {tag:#x}")
        if len(name) > MAX_DYNAMIC_NAME:
            what = {
                DT_NEEDED: "DT_NEEDED",
                DT_SONAME: "DT_SONAME",
                DT_RUNPATH: "DT_RUNPATH",
                DT_RPATH: "DT_RPATH",
            }
            raise CorruptElfError(
                f"a {what.get(tag, f'DT tag {tag:#x}')} string of {len(name)} bytes, longer than the "
                f"{MAX_DYNAMIC_NAME} bytes a path may have"
            )
        return name

    def _string(self, strtab: _StrTab, offset: int, what: str) -> str:
        """The string at ``offset``, decoded once however many entries point at it."""
        cached = self._strings.get(offset)
        if cached is not None:
            return cached
        if offset >= len(strtab):
            raise CorruptElfError(f"{what}: string offset {offset} is past the end of .dynstr")
        end = strtab.find(b"\0", offset)
        if end < 0:
            raise CorruptElfError(f"{what}: string at {offset} is not NUL-terminated")
        self._spend_name_bytes(end - offset)
        name = self._strings[offset] = strtab[offset:end].decode("utf-8", "replace")
        return name

    def _spend_name_bytes(self, size: int) -> None:
        self.name_bytes += size
        if self.name_bytes > self.name_budget:
            raise CorruptElfError(
                f"names decoded from .dynstr total over {self.name_bytes} bytes, more than "
                f"{NAME_BYTES_PER_TABLE_BYTE}x the {len(self.strtab)}-byte table: entries overlap "
                "implausibly"
            )

    # -- section headers (optional) ---------------------------------------------------------

    def _sections(self, dynamic: Segment) -> dict[str, tuple[int, int, int, int]] | None:
        """name -> (type, offset, size, entsize) of usable section headers, or None.

        Records what bionic's ElfReader refuses about them (VerifyElfHeader, ReadSectionHeaders,
        ReadDynamicSection, in that order); the audit decides, from the app's targetSdk, whether
        the library loads. The tables themselves are read through PT_DYNAMIC either way.
        """
        header = self.header
        shoff, shnum, shentsize = header["e_shoff"], header["e_shnum"], header["e_shentsize"]
        expected = 64 if self.elf_class is ElfClass.ELF64 else 40
        name = self.name
        if shentsize != expected:
            self.refusals.append(
                Refusal(
                    "e-shentsize",
                    f'"{name}" has unsupported e_shentsize: 0x{shentsize:x} (expected 0x{expected:x})',
                    ELF_HEADER_TARGET_SDK,
                )
            )
        if header["e_shstrndx"] == 0:
            self.refusals.append(Refusal("e-shstrndx", f'"{name}" has invalid e_shstrndx', ELF_HEADER_TARGET_SDK))
        if shnum == 0:
            self.refusals.append(Refusal("no-section-headers", f'"{name}" has no section headers'))
            return None
        # ElfReader::CheckFileRange over shnum * sizeof(Shdr), whatever e_shentsize says.
        size = shnum * expected
        align = 8 if self.elf_class is ElfClass.ELF64 else 4
        if not (0 < shoff and shoff + size <= self.size and shoff % align == 0):
            self.refusals.append(
                Refusal("section-headers-out-of-range", f'"{name}" has invalid shdr offset/size: {shoff}/{size}')
            )
        problem = None
        if shentsize != expected:
            problem = f"e_shentsize is {shentsize}, expected {expected}"
        elif shoff == 0 or shoff + shnum * shentsize > self.size:
            problem = f"section headers at offset {shoff} run past the end of the file"
        if problem is None:
            try:
                table, dynamic_shdr = self._section_table(shoff, shnum, shentsize)
            except Exception as exc:  # garbage headers: the loader ignores them, so do we
                problem = f"section headers unreadable ({exc})"
            else:
                self._check_dynamic_section(dynamic_shdr, dynamic)
                return table
        self.anomalies.append(f"{problem}; tables were read through PT_DYNAMIC")
        return None

    def _check_dynamic_section(self, dynamic_shdr: tuple[int, int] | None, dynamic: Segment) -> None:
        """ElfReader::ReadDynamicSection: the first SHT_DYNAMIC header must match PT_DYNAMIC."""
        if any(r.target_sdk is None for r in self.refusals):
            return  # bionic stopped before reading it
        name = self.name
        if dynamic_shdr is None:
            self.refusals.append(Refusal("no-dynamic-section-header", f'"{name}" .dynamic section header was not found'))
            return
        offset, size = dynamic_shdr
        if offset != dynamic.offset:
            self.refusals.append(
                Refusal(
                    "dynamic-section-offset",
                    f'"{name}" .dynamic section has invalid offset: 0x{offset:x}, expected to match PT_DYNAMIC '
                    f"offset: 0x{dynamic.offset:x}",
                    ELF_HEADER_TARGET_SDK,
                )
            )
        if size != dynamic.filesz:
            self.refusals.append(
                Refusal(
                    "dynamic-section-size",
                    f'"{name}" .dynamic section has invalid size: 0x{size:x} (expected to match PT_DYNAMIC filesz '
                    f"0x{dynamic.filesz:x})",
                    ELF_HEADER_TARGET_SDK,
                )
            )

    def _section_table(
        self, shoff: int, shnum: int, shentsize: int
    ) -> tuple[dict[str, tuple[int, int, int, int]], tuple[int, int] | None]:
        data = self.data
        if self.elf_class is ElfClass.ELF64:
            fmt = "<IIQQQQIIQQ"  # name type flags addr offset size link info addralign entsize
        else:
            fmt = "<IIIIIIIIII"
        # pyelftools' Elf_Shdr lays the records out; sh_type is taken as a number from the raw
        # bytes (pyelftools names the known ones). No section objects: those would parse whole
        # hash tables just to exist.
        shdr = _structs(self.elf_class).Elf_Shdr
        headers = []
        for index in range(shnum):
            at = shoff + index * shentsize
            record = shdr.parse(bytes(data[at : at + shentsize]))
            headers.append(
                (
                    record["sh_name"],
                    struct.unpack_from("<I", data, at + 4)[0],
                    record["sh_flags"],
                    record["sh_addr"],
                    record["sh_offset"],
                    record["sh_size"],
                    record["sh_link"],
                    record["sh_info"],
                    record["sh_addralign"],
                    record["sh_entsize"],
                )
            )
        strndx = self.header["e_shstrndx"]
        if strndx == SHN_XINDEX:
            strndx = headers[0][6]
        if strndx < shnum:
            names_at = headers[strndx][4]
        else:  # outside the table: where the header would be, if it is inside the file
            at = shoff + strndx * shentsize
            if at + shentsize > self.size:
                raise CorruptElfError(f"e_shstrndx {strndx} is past the end of the file")
            names_at = struct.unpack_from(fmt, data, at)[4]
        dynamic_shdr = next(((h[4], h[5]) for h in headers if h[1] == SHT_DYNAMIC), None)
        result: dict[str, tuple[int, int, int, int]] = {}
        for name, kind, _flags, _addr, offset, size, _link, _info, _align, entsize in headers:
            at = names_at + name
            window = bytes(data[at : at + _SECTION_NAME_MAX]) if at < self.size else b""
            end = window.find(b"\0")
            text = window[:end].decode("utf-8", "replace") if end >= 0 else ""
            result.setdefault(text, (kind, offset, size, entsize))
        return result, dynamic_shdr

    # -- symbols ----------------------------------------------------------------------------

    def _symbol_count(
        self, tags: dict[int, list[int]], sections: dict[str, tuple[int, int, int, int]] | None
    ) -> int:
        if DT_HASH in tags:
            offset = self._offset(tags[DT_HASH][0], "DT_HASH")
            nbucket, nchain = struct.unpack("<II", self._bytes(offset, 8, "DT_HASH header"))
            return int(nchain)
        if DT_GNU_HASH in tags:
            return self._gnu_hash_count(self._offset(tags[DT_GNU_HASH][0], "DT_GNU_HASH"))
        if sections is not None and ".dynsym" in sections:
            _, _, size, _ = sections[".dynsym"]
            return size // self.layout.sym_size
        raise CorruptElfError("no DT_HASH or DT_GNU_HASH: the loader cannot look up symbols")

    def _gnu_hash_count(self, offset: int) -> int:
        nbuckets, symoffset, bloom_size, _ = struct.unpack(
            "<IIII", self._bytes(offset, 16, "DT_GNU_HASH header")
        )
        word = 8 if self.elf_class is ElfClass.ELF64 else 4
        buckets_at = offset + 16 + bloom_size * word
        buckets = self._bytes(buckets_at, nbuckets * 4, "DT_GNU_HASH buckets").cast("I")
        last = max(buckets, default=0)
        if last < symoffset:
            return int(symoffset)
        chains_at = buckets_at + nbuckets * 4
        position = last - symoffset
        # Walk the last chain to its end marker (low bit set).
        while True:
            if position > MAX_SYMBOLS:
                raise CorruptElfError("DT_GNU_HASH chain does not terminate")
            (value,) = struct.unpack("<I", self._bytes(chains_at + position * 4, 4, "DT_GNU_HASH chain"))
            if value & 1:
                self._check_gnu_hash_end(symoffset + position, value)
                return int(symoffset + position + 1)
            position += 1

    def _check_gnu_hash_end(self, index: int, chain_value: int) -> None:
        """A chain word is its symbol's GNU hash with bit 0 as the end marker. Without a real end
        marker the walk runs on into whatever follows the chains and stops at any odd word, which
        would silently turn the bytes after .dynsym into symbols; the hash exposes that."""
        at = self._offset(self.tags[DT_SYMTAB][0], "DT_SYMTAB") + index * self.layout.sym_size
        (st_name,) = struct.unpack("<I", self._bytes(at, 4, f".dynsym entry {index}"))
        strtab = self.strtab
        end = strtab.find(b"\0", st_name) if st_name < len(strtab) else -1
        digest = 5381
        for byte in strtab[st_name:end] if end >= 0 else b"":
            digest = (digest * 33 + byte) & 0xFFFFFFFF
        if end < 0 or (digest ^ chain_value) & ~1:
            raise CorruptElfError(
                f"DT_GNU_HASH chain does not terminate: the end marker at symbol {index} is not its hash"
            )

    def _symbols(
        self,
        tags: dict[int, list[int]],
        strtab: _StrTab,
        sections: dict[str, tuple[int, int, int, int]] | None,
    ) -> tuple[ExportTable, ImportTable, bool, frozenset[str], tuple[VersionNeed, ...]]:
        # DT_SYMTAB is there and DT_SYMENT, if given, is the class's size: _prelink_checks says so.
        layout = self.layout
        count = self._symbol_count(tags, sections)
        if count > MAX_SYMBOLS:
            raise CorruptElfError(f"symbol count {count} is implausible")
        offset = self._offset(tags[DT_SYMTAB][0], "DT_SYMTAB")
        table = self._bytes(offset, count * layout.sym_size, f".dynsym ({count} symbols)")
        if not _NATIVE_LITTLE:  # pragma: no cover - every supported host is little-endian
            table = memoryview(bytes(table))
        size = layout.sym_size
        name_column = table.cast("I")[layout.name_word :: size // 4]
        info_column = table[layout.info_byte :: size]
        other_column = table[layout.other_byte :: size]
        shndx_column = table.cast("H")[layout.shndx_half :: size // 2]

        # Export: defined, GLOBAL(1)/WEAK(2) (not GNU_UNIQUE(10)), DEFAULT(0)/PROTECTED(3) visibility.
        # Import: undefined, GLOBAL/WEAK, with a name. Index 0 is the null symbol.
        info = bytes(info_column)
        other = bytes(other_column)
        classes = _classes(info, other, shndx_column.tobytes(), name_column.tobytes(), count)
        # Rows as runs of consecutive positions: a linker puts undefined symbols before the
        # hashed (defined) ones, so a whole table is a handful of slices.
        export_runs = [match.span() for match in _RUNS.finditer(classes.translate(_IS_EXPORT))]
        import_runs = [match.span() for match in _RUNS.finditer(classes.translate(_IS_IMPORT))]
        del classes

        decode = _Names(strtab, self._spend_name_bytes)
        hashed = self._hashed_names(tags, strtab, name_column, export_runs, count)
        export_names: tuple[str, ...] | HashedNames = (
            hashed if hashed is not None else decode.many(_gather_list(name_column, export_runs))
        )
        import_names = decode.many(_gather_list(name_column, import_runs))
        export_info = _gather_bytes(info, export_runs)
        export_other = _gather_bytes(other, export_runs)
        import_info = _gather_bytes(info, import_runs)
        import_other = _gather_bytes(other, import_runs)
        del info, other

        versions = self._versions(tags, strtab, count)
        if versions is None:
            exports = ExportTable(export_names, export_info, export_other)
            imports = ImportTable(import_names, import_info, import_other)
            return exports, imports, False, frozenset(), ()
        versym, defs, needs_by_index, needs = versions
        export_versions: Sequence[str | None] = ()
        export_hidden = b""
        if defs:  # without verdefs every export is unversioned
            values = _gather_list(versym, export_runs)
            names_by_value = {v: defs.get(v & VERSYM_INDEX) for v in set(values) if v & VERSYM_INDEX > 1}
            export_versions = list(map(names_by_value.get, values))
            export_hidden = bytes(1 if v & VERSYM_HIDDEN else 0 for v in values)
        import_rows = [row for start, end in import_runs for row in range(start, end)]
        import_versions: list[str | None] = []
        import_files: list[str | None] = []
        for row in import_rows:
            index = versym[row] & VERSYM_INDEX
            need = needs_by_index.get(index) if index > 1 else None
            if need is None and index > 1 and index in defs:
                # A reference may carry a verdef index (rare, self-reference); keep the name.
                import_versions.append(defs[index])
                import_files.append(None)
            else:
                import_versions.append(need[1] if need else None)
                import_files.append(need[0] if need else None)
        any_export = any(v is not None for v in export_versions) if defs else False
        any_import = any(v is not None for v in import_versions)
        exports = ExportTable(
            export_names,
            export_info,
            export_other,
            tuple(export_versions) if any_export else None,
            export_hidden if any_export else None,
        )
        imports = ImportTable(
            import_names,
            import_info,
            import_other,
            tuple(import_versions) if any_import else None,
            None,
            tuple(import_files) if any_import else None,
        )
        defined = frozenset(name for index, name in defs.items() if index > 1)
        return exports, imports, True, defined, needs

    def _hashed_names(
        self,
        tags: dict[int, list[int]],
        strtab: _StrTab,
        name_column: memoryview,
        export_runs: list[tuple[int, int]],
        count: int,
    ) -> HashedNames | None:
        """Large export tables of libraries with DT_GNU_HASH stay undecoded: lookups go through
        the library's hash table, as in bionic, and names are decoded only if iterated."""
        text = strtab.text
        exported = sum(end - start for start, end in export_runs)
        if exported < LAZY_NAMES_ABOVE or DT_GNU_HASH not in tags or text is None or not text.endswith("\0"):
            return None
        offsets = array("I", b"".join(name_column[start:end].tobytes() for start, end in export_runs))
        try:
            disjoint = strtab.starts_strings(offsets)
        except IndexError:
            return None  # an offset past the table: the eager path reports it
        if not disjoint:
            ends = name_ends(strtab.find_nul, offsets, len(text))
            if ends is None:
                return None
            self._spend_name_bytes(sum(end - offset for offset, end in ends.items()))
        at = self._offset(tags[DT_GNU_HASH][0], "DT_GNU_HASH")
        nbuckets, symoffset, bloom_size, _ = struct.unpack("<IIII", self._bytes(at, 16, "DT_GNU_HASH header"))
        word = 8 if self.elf_class is ElfClass.ELF64 else 4
        buckets_at = at + 16 + bloom_size * word
        buckets = array("I", self._bytes(buckets_at, nbuckets * 4, "DT_GNU_HASH buckets").tobytes())
        hashed = max(count - symoffset, 0)
        chains = array(
            "I", self._bytes(buckets_at + nbuckets * 4, hashed * 4, "DT_GNU_HASH chains").tobytes()
        )
        return HashedNames(text, offsets, export_runs, buckets, chains, symoffset, disjoint)

    # -- versions ---------------------------------------------------------------------------

    def _versions(
        self, tags: dict[int, list[int]], strtab: _StrTab, count: int
    ) -> tuple[memoryview, dict[int, str], dict[int, tuple[str, str]], tuple[VersionNeed, ...]] | None:
        if DT_VERSYM not in tags:
            return None
        offset = self._offset(tags[DT_VERSYM][0], "DT_VERSYM")
        versym = self._bytes(offset, count * 2, f"versym ({count} entries)").cast("H")
        defs: dict[int, str] = {}
        records = _RecordBudget()
        if DT_VERDEF in tags:
            position = self._offset(tags[DT_VERDEF][0], "DT_VERDEF")
            for _ in range(min(_first(tags, DT_VERDEFNUM) or MAX_VERSION_ENTRIES, MAX_VERSION_ENTRIES)):
                records.visit(position, "verdef")
                _ver, flags, ndx, _cnt, _hash, aux, nxt = struct.unpack(
                    "<HHHHIII", self._bytes(position, 20, "verdef entry")
                )
                (name_offset, _next_aux) = struct.unpack(
                    "<II", self._bytes(position + aux, 8, "verdaux entry")
                )
                name = self._string(strtab, name_offset, "verdef")
                if not flags & VER_FLG_BASE:
                    defs[ndx & VERSYM_INDEX] = name
                if nxt == 0:
                    break
                position += nxt
        needs_by_index: dict[int, tuple[str, str]] = {}
        needs: list[VersionNeed] = []
        if DT_VERNEED in tags:
            position = self._offset(tags[DT_VERNEED][0], "DT_VERNEED")
            for _ in range(min(_first(tags, DT_VERNEEDNUM) or MAX_VERSION_ENTRIES, MAX_VERSION_ENTRIES)):
                records.visit(position, "verneed")
                _ver, cnt, file_offset, aux, nxt = struct.unpack(
                    "<HHIII", self._bytes(position, 16, "verneed entry")
                )
                file = self._string(strtab, file_offset, "verneed file")
                names: list[str] = []
                aux_position = position + aux
                for _ in range(min(cnt, MAX_VERSION_ENTRIES)):
                    records.visit(aux_position, "vernaux")
                    _hash, _flags, other, name_offset, next_aux = struct.unpack(
                        "<IHHII", self._bytes(aux_position, 16, "vernaux entry")
                    )
                    name = self._string(strtab, name_offset, "vernaux")
                    needs_by_index[other & VERSYM_INDEX] = (file, name)
                    names.append(name)
                    if next_aux == 0:
                        break
                    aux_position += next_aux
                needs.append(VersionNeed(file, tuple(names)))
                if nxt == 0:
                    break
                position += nxt
        return versym, defs, needs_by_index, tuple(needs)

    # -- notes and comment ------------------------------------------------------------------

    def _notes(
        self, segments: tuple[Segment, ...], sections: dict[str, tuple[int, int, int, int]] | None
    ) -> tuple[Note, ...]:
        areas = [(s.offset, s.filesz) for s in segments if s.type == PT_NOTE]
        if not areas and sections is not None:
            areas = [(offset, size) for kind, offset, size, _ in sections.values() if kind == 7]  # SHT_NOTE
        notes = _NoteReader(self.anomalies)
        for offset, size in dict.fromkeys(areas):  # the same segment twice is read once
            try:
                area = self._bytes(offset, size, "PT_NOTE")
            except CorruptElfError as exc:
                self.anomalies.append(str(exc))
                continue
            if not notes.read(area, offset):
                break
        return tuple(notes.notes)

    def _comment(self, sections: dict[str, tuple[int, int, int, int]] | None) -> tuple[str, ...]:
        if sections is None or ".comment" not in sections:
            return ()
        _, offset, size, _ = sections[".comment"]
        if offset + size > self.size or size > 1 << 20:
            self.anomalies.append(".comment section runs past the end of the file")
            return ()
        raw = bytes(self.data[offset : offset + size])
        return tuple(part.decode("utf-8", "replace") for part in raw.split(b"\0") if part)


def _classes(info: bytes, other: bytes, shndx: bytes, name: bytes, count: int) -> bytes:
    """One class byte per symbol (bits as in ``_BIND_CLASS`` and friends), a column at a time.

    Each column becomes a byte string of flags with ``translate``; the flags occupy distinct
    bits, so adding the byte strings as little-endian integers ORs them without a carry.
    """

    def flags(column: bytes, table: bytes) -> int:
        return int.from_bytes(column.translate(table), "little")

    total = flags(info, _BIND_CLASS) + flags(other, _VISIBLE)
    total += flags(shndx[0::2], _DEFINED) | flags(shndx[1::2], _DEFINED)
    named = 0
    for byte in range(4):
        named |= flags(name[byte::4], _NAMED)
    return (total + named).to_bytes(count, "little")


def _gather_bytes(column: bytes, runs: list[tuple[int, int]]) -> bytes:
    return b"".join([column[start:end] for start, end in runs])


def _gather_list(column: memoryview, runs: list[tuple[int, int]]) -> list[int]:
    if len(runs) == 1:
        start, end = runs[0]
        return column[start:end].tolist()
    result: list[int] = []
    for start, end in runs:
        result.extend(column[start:end].tolist())
    return result


class _StrTab:
    """``.dynstr``, decoded once to a ``str`` when it is ASCII (always, for real libraries),
    straight from the file's bytes: no second copy of a table that is megabytes in a libtorch.
    Answers the few ``bytes`` operations the reader needs (``len``, ``find``, slices)."""

    def __init__(self, view: memoryview, before: memoryview | None = None) -> None:
        self.size = len(view)
        self._before = before
        try:
            self.text: str | None = str(view, "ascii")
            self.raw: bytes | None = None
        except UnicodeDecodeError:
            self.text = None
            self.raw = bytes(view)

    def __len__(self) -> int:
        return self.size

    def starts_strings(self, offsets: Sequence[int]) -> bool:
        """Whether every offset is the start of a string of the table (0, or just after a NUL):
        then distinct offsets name disjoint strings, which together are no longer than the table.
        C-level gathers of the byte before each offset, read from the file's own bytes one
        position earlier (no copy of the table); False may also mean "not proven" (offset 0,
        preceded by a byte of whatever comes before the table): the caller then measures.
        Raises IndexError when an offset is past the table."""
        before = self._before
        if before is None:
            if offsets and max(offsets) >= self.size:
                raise IndexError("string table offset out of range")
            return self.text is not None and names_start_strings(self.text, offsets)
        if len(offsets) < 2:
            return not offsets or before[offsets[0]] == 0
        # Gathered in pieces: between them the hash worker gets the GIL (containers.digests).
        for start in range(0, len(offsets), GIL_PIECE):
            piece = offsets[start : start + GIL_PIECE]
            if len(piece) == 1:
                if before[piece[0]]:
                    return False
            elif any(operator.itemgetter(*piece)(before)):
                return False
        return True

    def find_nul(self, start: int, stop: int) -> int:
        if self.text is not None:
            return self.text.find("\0", start, stop)
        assert self.raw is not None
        return self.raw.find(b"\0", start, stop)

    def find(self, sub: bytes, start: int) -> int:
        if self.text is not None:
            return self.text.find(sub.decode("ascii"), start)
        assert self.raw is not None
        return self.raw.find(sub, start)

    def __getitem__(self, where: slice) -> bytes:
        if self.text is not None:
            return self.text[where].encode("ascii")
        assert self.raw is not None
        return self.raw[where]


class _Names:
    """Decode many ``.dynstr`` offsets at once.

    The common case (an ASCII string table) slices the decoded ``str``; anything else falls back
    to per-name UTF-8 decoding.
    """

    def __init__(self, strtab: _StrTab, spend: Callable[[int], None]) -> None:
        self.strtab = strtab
        self.text = strtab.text
        self.spend = spend

    def many(self, offsets: list[int]) -> tuple[str, ...]:
        """Each distinct offset is decoded once; the bytes of every row's name are charged to
        ``spend``. Overlapping offsets are charged before anything is built; rows repeating
        one name after (they share one string, but every row reaches findings and reports:
        2,000 imports of one 1 MiB name would print 2 GB)."""
        strtab = self.strtab
        limit = len(strtab)
        if offsets and max(offsets) >= limit:
            bad = next(offset for offset in offsets if offset >= limit)
            raise CorruptElfError(f".dynsym: name offset {bad} is past the end of .dynstr ({limit} bytes)")
        text = self.text
        names: dict[int, str]
        if text is not None and text.endswith("\0") and strtab.starts_strings(offsets):
            # The usual table: names are disjoint and NUL-terminated before the end, so the
            # distinct ones are no longer than the table together.
            find = text.find
            names = {offset: text[offset : find("\0", offset)] for offset in set(offsets)}
            charged = 0
        else:
            ends = name_ends(strtab.find_nul, offsets, limit)
            if ends is None:
                bad = max(offsets)
                raise CorruptElfError(f".dynsym: name at {bad} is not NUL-terminated")
            charged = sum(end - offset for offset, end in ends.items())
            self.spend(charged)
            if text is not None:
                names = {offset: text[offset:end] for offset, end in ends.items()}
            else:
                names = {
                    offset: strtab[offset:end].decode("utf-8", "replace") for offset, end in ends.items()
                }
        rows = tuple(map(names.__getitem__, offsets))
        self.spend(sum(map(len, rows)) - charged)
        return rows


def names_start_strings(text: str, offsets: Sequence[int]) -> bool:
    """Whether every offset is the start of a string of the table (0, or just after a NUL):
    then distinct offsets name disjoint strings, which together are no longer than the table.
    One C-level gather, no Python loop: a 100,000-name table costs a few milliseconds."""
    if len(offsets) < 2:
        return True
    before = operator.itemgetter(*list(offsets))("\0" + text)  # text[offset - 1], NUL for offset 0
    return not "".join(before).strip("\0")


def name_ends(
    find_nul: Callable[[int, int], int], offsets: Sequence[int], limit: int
) -> dict[int, int] | None:
    """Where the NUL-terminated name at each distinct offset ends (None if one has no NUL).

    Offsets are visited from the highest down and each search stops at the previous offset:
    a name that runs past it ends where that one does. The table is scanned once in all,
    however many names overlap (2,000 offsets into one 1 MiB name scan 1 MiB, not 2 GB)."""
    ends: dict[int, int] = {}
    bound, bound_end = limit, -1
    for offset in sorted(set(offsets), reverse=True):
        end = find_nul(offset, bound)
        if end < 0:
            end = bound_end
            if end < 0:
                return None
        ends[offset] = end
        bound, bound_end = offset, end
    return ends


class _RecordBudget:
    """Version records walked so far: at most :data:`MAX_VERSION_RECORDS`, none twice (a
    ``vn_next``/``vna_next`` that leads back is a cycle, not more versions)."""

    def __init__(self) -> None:
        self.seen: set[int] = set()

    def visit(self, position: int, what: str) -> None:
        if position in self.seen:
            raise CorruptElfError(f"{what} entries form a cycle (offset {position} is reached twice)")
        self.seen.add(position)
        if len(self.seen) > MAX_VERSION_RECORDS:
            raise CorruptElfError(
                f"more than {MAX_VERSION_RECORDS} version records: far more than a real library has"
            )


class _NoteReader:
    """Notes of all PT_NOTE segments, each read from its own segment's bytes, each note once
    (overlapping segments share notes), within :data:`MAX_NOTES` and :data:`MAX_NOTE_BYTES`."""

    def __init__(self, anomalies: list[str]) -> None:
        self.anomalies = anomalies
        self.notes: list[Note] = []
        self.seen: set[int] = set()
        self.kept_bytes = 0

    def read(self, area: memoryview, base: int) -> bool:
        """Parses one segment; False once a bound is reached (the rest is ignored, as an anomaly)."""
        position = 0
        size = len(area)
        while position + 12 <= size:
            namesz, descsz, kind = struct.unpack_from("<III", area, position)
            name_at = position + 12
            desc_at = name_at + _align4(namesz)
            end = desc_at + _align4(descsz)
            if desc_at + descsz > size:
                self.anomalies.append("a note runs past the end of its PT_NOTE segment")
                break
            if base + position not in self.seen:
                self.seen.add(base + position)
                self.kept_bytes += descsz + namesz
                if len(self.notes) >= MAX_NOTES or self.kept_bytes > MAX_NOTE_BYTES:
                    self.anomalies.append(
                        f"more than {MAX_NOTES} notes or {MAX_NOTE_BYTES} bytes of notes: the rest are ignored"
                    )
                    return False
                name = bytes(area[name_at : name_at + namesz]).rstrip(b"\0").decode("utf-8", "replace")
                self.notes.append(Note(name, kind, bytes(area[desc_at : desc_at + descsz])))
            position = end
        return True


def _align4(value: int) -> int:
    return (value + 3) & ~3


def _first(tags: dict[int, list[int]], tag: int) -> int:
    values = tags.get(tag)
    return int(values[0]) if values else 0
