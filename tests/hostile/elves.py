"""Hostile shared objects, written field by field: each one takes a real loader structure (dynamic
array, symbol and version tables, notes) to a size no real library has, in a file of a few KB
once deflated. Independent of the reader under test: only ``struct`` and the ELF gABI layout."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

EM_AARCH64 = 183
EM_S390 = 22
ET_DYN = 3
PT_LOAD, PT_DYNAMIC, PT_NOTE = 1, 2, 4
DT_NULL, DT_NEEDED, DT_HASH, DT_STRTAB, DT_SYMTAB, DT_STRSZ, DT_SYMENT, DT_SONAME = 0, 1, 4, 5, 6, 10, 11, 14
DT_VERSYM, DT_VERNEED, DT_VERNEEDNUM = 0x6FFFFFF0, 0x6FFFFFFE, 0x6FFFFFFF
STB_GLOBAL_FUNC = (1 << 4) | 2


@dataclass
class ElfSpec:
    strtab: bytes = b"\0libhostile.so\0libc.so\0"
    soname: int = 1
    needed: Sequence[int] = (15,)
    """``.dynstr`` offsets of DT_NEEDED entries."""
    imports: Sequence[int] = ()
    """``.dynstr`` offsets of undefined GLOBAL FUNC symbols."""
    versym: Sequence[int] | None = None
    verneed: bytes | None = None
    """Raw version-need records (``Elf64_Verneed``/``Elf64_Vernaux``), placed as DT_VERNEED."""
    verneed_count: int = 0
    notes: bytes = b""
    note_headers: Sequence[tuple[int, int]] = field(default_factory=list)
    """PT_NOTE headers as (offset into ``notes``, size)."""
    machine: int = EM_AARCH64
    pad_to: int = 0
    """Zeros after the tables, up to this total size (outside every segment but PT_LOAD)."""


def shared_object(spec: ElfSpec) -> bytes:
    """An ET_DYN whose one PT_LOAD maps the whole file at address 0 (vaddr == offset)."""
    phnum = 2 + len(spec.note_headers)
    tables_at = 64 + phnum * 56
    layout: dict[str, int] = {}
    body = bytearray()

    def place(name: str, data: bytes, align: int = 8) -> None:
        while (tables_at + len(body)) % align:
            body.append(0)
        layout[name] = tables_at + len(body)
        body.extend(data)

    place("dynstr", spec.strtab, 1)
    symbols = [struct.pack("<IBBHQQ", 0, 0, 0, 0, 0, 0)]
    symbols += [struct.pack("<IBBHQQ", name, STB_GLOBAL_FUNC, 0, 0, 0, 0) for name in spec.imports]
    place("dynsym", b"".join(symbols))
    place("hash", struct.pack("<II", 1, len(symbols)) + b"\0" * 4 * (1 + len(symbols)))
    if spec.versym is not None:
        place("versym", struct.pack(f"<{len(spec.versym)}H", *spec.versym), 2)
    if spec.verneed is not None:
        place("verneed", spec.verneed)
    if spec.notes:
        place("notes", spec.notes, 4)
    entries = [(DT_NEEDED, offset) for offset in spec.needed]
    entries += [
        (DT_SONAME, spec.soname),
        (DT_STRTAB, layout["dynstr"]),
        (DT_STRSZ, len(spec.strtab)),
        (DT_SYMTAB, layout["dynsym"]),
        (DT_SYMENT, 24),
        (DT_HASH, layout["hash"]),
    ]
    if spec.versym is not None:
        entries.append((DT_VERSYM, layout["versym"]))
    if spec.verneed is not None:
        entries += [(DT_VERNEED, layout["verneed"]), (DT_VERNEEDNUM, spec.verneed_count)]
    entries.append((DT_NULL, 0))
    place("dynamic", b"".join(struct.pack("<qQ", tag, value) for tag, value in entries))
    size = max(tables_at + len(body), spec.pad_to)
    headers = [
        struct.pack("<IIQQQQQQ", PT_LOAD, 5, 0, 0, 0, size, size, 0x4000),
        struct.pack(
            "<IIQQQQQQ",
            PT_DYNAMIC,
            6,
            layout["dynamic"],
            layout["dynamic"],
            0,
            16 * len(entries),
            16 * len(entries),
            8,
        ),
    ]
    for offset, length in spec.note_headers:
        at = layout["notes"] + offset
        headers.append(struct.pack("<IIQQQQQQ", PT_NOTE, 4, at, at, 0, length, length, 4))
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    header = ident + struct.pack(
        "<HHIQQQIHHHHHH", ET_DYN, spec.machine, 1, 0, 64, 0, 0, 64, 56, phnum, 64, 0, 0
    )
    image = header + b"".join(headers) + bytes(body)
    return image + bytes(size - len(image))


def shared_long_name(count: int, name_size: int, distinct: bool) -> bytes:
    """``count`` imports naming one ``name_size``-byte string: all at its start (shared), or each
    one byte further into it (distinct offsets, overlapping text)."""
    strtab = b"\0libc.so\0" + b"A" * name_size + b"\0"
    start = 9
    offsets = [start + (i if distinct else 0) for i in range(count)]
    return shared_object(ElfSpec(strtab=strtab, soname=1, needed=(1,), imports=offsets))


def many_needed(count: int, name_size: int) -> bytes:
    """``count`` DT_NEEDED entries, all naming one ``name_size``-byte library."""
    strtab = b"\0libx.so\0lib" + b"n" * name_size + b".so\0"
    return shared_object(ElfSpec(strtab=strtab, soname=1, needed=[9] * count))


def verneed_square(files: int, versions: int) -> bytes:
    """``files`` version-need records that all share one chain of ``versions`` vernaux entries:
    a walk that follows every record reads files x versions entries from a file of 16 x
    (files + versions) bytes."""
    strtab = b"\0libc.so\0LIBC\0"
    aux_at = 16 * files
    records = bytearray()
    for index in range(files):
        at = 16 * index
        nxt = 16 if index + 1 < files else 0
        records += struct.pack("<HHIII", 1, versions, 1, aux_at - at, nxt)
    for index in range(versions):
        nxt = 16 if index + 1 < versions else 0
        records += struct.pack("<IHHII", 0x0A, 0, 2 + index % 0x7FF0, 9, nxt)
    return shared_object(
        ElfSpec(
            strtab=strtab,
            soname=1,
            needed=(1,),
            imports=(9,),
            versym=(0, 2),
            verneed=bytes(records),
            verneed_count=files,
        )
    )


def overlapping_notes(segments: int, area: int) -> bytes:
    """``segments`` PT_NOTE headers over one ``area``-byte run of empty notes, each shifted by
    one note (12 bytes) from the previous: every segment holds nearly every note again."""
    notes = struct.pack("<III", 0, 0, 1) * (area // 12)
    headers = [(12 * index, area - 12 * index) for index in range(min(segments, area // 12))]
    return shared_object(ElfSpec(notes=notes, note_headers=headers))


def plain(machine: int = EM_AARCH64) -> bytes:
    return shared_object(ElfSpec(machine=machine))
