"""Build ElfLibrary models by hand for the pure analyses (the reader is tested on real ELF)."""

from __future__ import annotations

from collections.abc import Iterable

from symaudit.elf.model import ElfClass, ElfLibrary, ExportTable, ImportTable

GLOBAL_FUNC = 0x12
WEAK_FUNC = 0x22
WEAK_NOTYPE = 0x20


def _table(cls: type, entries: Iterable[tuple[str, int, str | None, bool, str | None]]) -> ExportTable:
    entries = list(entries)
    versioned = any(e[2] is not None for e in entries)
    return cls(
        names=tuple(e[0] for e in entries),
        info=bytes(e[1] for e in entries),
        other=bytes(len(entries)),
        versions=tuple(e[2] for e in entries) if versioned else None,
        hidden=bytes(int(e[3]) for e in entries) if versioned else None,
        version_files=tuple(e[4] for e in entries) if versioned and cls is ImportTable else None,
    )


def library(
    needed: Iterable[str] = (),
    exports: Iterable[str | tuple[str, str | None, bool]] = (),
    imports: Iterable[str | tuple[str, str | None, str | None]] = (),
    weak_imports: Iterable[str] = (),
    machine: int = 183,
    elf_class: ElfClass = ElfClass.ELF64,
    soname: str | None = None,
    versions_defined: Iterable[str] = (),
) -> ElfLibrary:
    """exports: names or (name, version, hidden); imports: names or (name, version, version_file)."""
    export_rows = [
        (e, GLOBAL_FUNC, None, False, None) if isinstance(e, str) else (e[0], GLOBAL_FUNC, e[1], e[2], None)
        for e in exports
    ]
    import_rows = [
        (i, GLOBAL_FUNC, None, False, None) if isinstance(i, str) else (i[0], GLOBAL_FUNC, i[1], False, i[2])
        for i in imports
    ]
    import_rows += [(w, WEAK_NOTYPE, None, False, None) for w in weak_imports]
    defined = frozenset(versions_defined)
    return ElfLibrary(
        elf_class=elf_class,
        machine=machine,
        elf_type=3,
        soname=soname,
        needed=tuple(needed),
        runpath=(),
        rpath=(),
        flags=0,
        flags_1=0,
        dynamic_tags=frozenset(),
        segments=(),
        notes=(),
        exports=_table(ExportTable, export_rows),
        imports=_table(ImportTable, import_rows),
        has_versym=bool(defined) or any(r[2] for r in export_rows + import_rows),
        versions_defined=defined,
        version_needs=(),
    )
