"""Names decoded once and within a budget proportional to ``.dynstr``."""

from __future__ import annotations

import pytest

from symaudit.elf.reader import CorruptElfError, read_elf
from tests.hostile.elves import ElfSpec, shared_long_name, shared_object


def test_tail_merged_names_decode_to_their_own_text() -> None:
    # GNU ld merges string tails: "bar" may be the end of "foobar".
    strtab = b"\0libc.so\0foobar\0"
    library = read_elf(shared_object(ElfSpec(strtab=strtab, soname=1, needed=(1,), imports=(9, 12, 9))))
    assert library.imports.names == ("foobar", "bar", "foobar")


def test_rows_sharing_one_name_share_one_string() -> None:
    library = read_elf(shared_long_name(20, 4096, distinct=False))
    names = library.imports.names
    assert len(names) == 20 and all(name is names[0] for name in names)


def test_names_far_longer_than_their_table_make_the_library_corrupt() -> None:
    with pytest.raises(CorruptElfError, match="implausibly"):
        read_elf(shared_long_name(2000, 1 << 20, distinct=False))
