"""What LIEF, an independent ELF parser (C++, not pyelftools), says a library's dynamic section
and dynamic symbols hold, classified the way ``symaudit/elf/model.py`` classifies them."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import lief

EXPORT_BINDINGS = {1, 2}  # GLOBAL, WEAK (bionic ignores GNU_UNIQUE definitions)
IMPORT_BINDINGS = {1, 2}
EXPORT_VISIBILITIES = {0, 3}  # DEFAULT, PROTECTED

lief.logging.disable()  # "no section header" on the stripped fixture is expected, not news


@dataclass(frozen=True)
class LiefView:
    soname: str | None
    needed: tuple[str, ...]
    exports: Counter[str]
    imports: Counter[str]


def lief_view(data: bytes) -> LiefView:
    binary = lief.ELF.parse(list(data))
    assert binary is not None, "LIEF could not parse the library"
    soname_tag = lief.ELF.DynamicEntry.TAG.SONAME
    soname = binary.get(soname_tag).name if binary.has(soname_tag) else None
    exports: Counter[str] = Counter()
    imports: Counter[str] = Counter()
    for symbol in binary.dynamic_symbols:
        binding = int(symbol.binding)
        if symbol.shndx == 0:  # SHN_UNDEF
            if symbol.name and binding in IMPORT_BINDINGS:
                imports[symbol.name] += 1
        elif binding in EXPORT_BINDINGS and int(symbol.visibility) in EXPORT_VISIBILITIES:
            exports[symbol.name] += 1
    return LiefView(soname, tuple(binary.libraries), exports, imports)
