"""Byte-level edits of a real shared object, made independently of the reader under test.

Each edit finds its target with plain ``struct`` (header, program headers, dynamic array, section
headers) so a test can break exactly one thing the loader relies on and leave the rest intact.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

PT_NULL = 0
PT_LOAD = 1
PT_DYNAMIC = 2
PT_NOTE = 4
DT_NULL = 0
DT_HASH = 4
DT_STRTAB = 5
DT_SYMTAB = 6
DT_DEBUG = 21
DT_GNU_HASH = 0x6FFFFEF5
SHT_DYNSYM = 11
# .dynstr, .hash, .note*, .dynsym, .gnu.version_d, .gnu.version_r, .gnu.version, .gnu.hash
LOADER_SECTIONS = {3, 5, 7, 11, 0x6FFFFFFD, 0x6FFFFFFE, 0x6FFFFFFF, 0x6FFFFFF6}


@dataclass(frozen=True)
class ProgramHeader:
    at: int
    """File offset of this header."""
    type: int
    offset: int
    vaddr: int
    filesz: int


@dataclass(frozen=True)
class DynamicEntry:
    at: int
    tag: int
    value: int


class Elf:
    """Field offsets of one little-endian ELF image (32- or 64-bit)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.is64 = data[4] == 2
        self.word = "<Q" if self.is64 else "<I"
        self.sword = "<q" if self.is64 else "<i"
        self.word_size = 8 if self.is64 else 4
        if self.is64:
            self.phoff, self.shoff = struct.unpack_from("<QQ", data, 0x20)
            self.phentsize, self.phnum, self.shentsize, self.shnum = struct.unpack_from("<HHHH", data, 0x36)
        else:
            self.phoff, self.shoff = struct.unpack_from("<II", data, 0x1C)
            self.phentsize, self.phnum, self.shentsize, self.shnum = struct.unpack_from("<HHHH", data, 0x2A)

    # -- header fields ---------------------------------------------------------------------

    @property
    def e_shoff_at(self) -> int:
        return 0x28 if self.is64 else 0x20

    @property
    def e_shentsize_at(self) -> int:
        return 0x3A if self.is64 else 0x2E

    # -- program headers -------------------------------------------------------------------

    def program_headers(self) -> list[ProgramHeader]:
        result = []
        for index in range(self.phnum):
            at = self.phoff + index * self.phentsize
            if self.is64:
                kind, _flags, offset, vaddr, _paddr, filesz = struct.unpack_from("<IIQQQQ", self.data, at)
            else:
                kind, offset, vaddr, _paddr, filesz = struct.unpack_from("<IIIII", self.data, at)
            result.append(ProgramHeader(at, kind, offset, vaddr, filesz))
        return result

    def program_header(self, kind: int) -> ProgramHeader:
        return next(header for header in self.program_headers() if header.type == kind)

    def vaddr_to_offset(self, vaddr: int) -> int:
        for header in self.program_headers():
            if header.type == PT_LOAD and header.vaddr <= vaddr < header.vaddr + header.filesz:
                return header.offset + vaddr - header.vaddr
        raise ValueError(f"{vaddr:#x} is not in a PT_LOAD")

    # -- dynamic array ---------------------------------------------------------------------

    def dynamic(self) -> list[DynamicEntry]:
        segment = self.program_header(PT_DYNAMIC)
        entries = []
        step = 2 * self.word_size
        for at in range(segment.offset, segment.offset + segment.filesz, step):
            (tag,) = struct.unpack_from(self.sword, self.data, at)
            (value,) = struct.unpack_from(self.word, self.data, at + self.word_size)
            if tag == DT_NULL:
                break
            entries.append(DynamicEntry(at, tag, value))
        return entries

    def dynamic_entry(self, tag: int) -> DynamicEntry:
        return next(entry for entry in self.dynamic() if entry.tag == tag)

    # -- section headers -------------------------------------------------------------------

    def sections(self) -> list[tuple[int, int, int]]:
        """(type, offset, size) of every section header; none when they are stripped."""
        result = []
        for index in range(self.shnum):
            at = self.shoff + index * self.shentsize
            if self.is64:
                _name, kind, _flags, _addr, offset, size = struct.unpack_from("<IIQQQQ", self.data, at)
            else:
                _name, kind, _flags, _addr, offset, size = struct.unpack_from("<IIIIII", self.data, at)
            result.append((kind, offset, size))
        return result

    def section_offset(self, sh_type: int) -> tuple[int, int]:
        """(offset, size) of the first section of this type."""
        for kind, offset, size in self.sections():
            if kind == sh_type:
                return offset, size
        raise ValueError(f"no section of type {sh_type}")

    def loader_regions(self) -> list[tuple[int, int]]:
        """(offset, size) of what the reader parses: the headers after the magic, the dynamic
        array, the dynamic symbol, string, hash and version tables, and notes."""
        regions = [(4, self.phoff + self.phnum * self.phentsize - 4)]  # past the magic
        regions += [(h.offset, h.filesz) for h in self.program_headers() if h.type in (PT_DYNAMIC, PT_NOTE)]
        regions += [(offset, size) for kind, offset, size in self.sections() if kind in LOADER_SECTIONS]
        return [(offset, size) for offset, size in regions if size > 0 and offset + size <= len(self.data)]


def patched(data: bytes, at: int, fmt: str, value: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, at, value)
    return bytes(out)


def with_segment_type(data: bytes, old: int, new: int) -> bytes:
    header = Elf(data).program_header(old)
    return patched(data, header.at, "<I", new)


def with_dynamic_value(data: bytes, tag: int, value: int) -> bytes:
    elf = Elf(data)
    entry = elf.dynamic_entry(tag)
    return patched(data, entry.at + elf.word_size, elf.word, value)


def with_dynamic_tag(data: bytes, tag: int, new_tag: int) -> bytes:
    elf = Elf(data)
    return patched(data, elf.dynamic_entry(tag).at, elf.sword, new_tag)


def gnu_hash_chain_bounds(data: bytes) -> tuple[int, int]:
    """(file offset of the DT_GNU_HASH chain array, number of chain words up to .dynsym's end)."""
    elf = Elf(data)
    offset = elf.vaddr_to_offset(elf.dynamic_entry(DT_GNU_HASH).value)
    nbuckets, symoffset, bloom_size, _shift = struct.unpack_from("<IIII", data, offset)
    chains_at = offset + 16 + bloom_size * elf.word_size + nbuckets * 4
    _, dynsym_size = elf.section_offset(SHT_DYNSYM)
    count = dynsym_size // (24 if elf.is64 else 16)
    return chains_at, count - symoffset
