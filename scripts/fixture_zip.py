"""Zips written the same way every time, shared by the fixture builders.

Member order as given, the DOS timestamp 1981-01-01 00:00, no extra fields but the alignment
padding of stored members (as ``zipalign -P 16`` pads), deflate at level 9 through zlib.
``build_fixtures.py`` and ``build_platform_fixtures.py`` both import it; neither imports the other's
zip code, so the scripts have no import cycle.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

_DOS_DATE = (1981 - 1980) << 9 | 1 << 5 | 1  # 1981-01-01
_DOS_TIME = 0
PAGE_ALIGN = 16384


@dataclass(frozen=True)
class Member:
    name: str
    data: bytes
    deflate: bool = True
    align: int = 0
    """Stored members only: pad the local extra field so the data starts on this multiple."""


def write_zip(members: Iterable[Member]) -> bytes:
    """A zip written the same way every time: member order as given, fixed timestamps, no extra
    fields except zipalign-style zero padding in the local header of aligned stored members."""
    out = io.BytesIO()
    central = io.BytesIO()
    count = 0
    for member in members:
        count += 1
        name = member.name.encode()
        crc = zlib.crc32(member.data)
        if member.deflate:
            compressor = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
            payload = compressor.compress(member.data) + compressor.flush()
            method = 8
        else:
            payload = member.data
            method = 0
        offset = out.tell()
        extra = b""
        if member.align and not member.deflate:
            extra = b"\0" * (-(offset + 30 + len(name)) % member.align)
        out.write(
            struct.pack(
                "<4sHHHHHIIIHH",
                b"PK\x03\x04",
                20,
                0,
                method,
                _DOS_TIME,
                _DOS_DATE,
                crc,
                len(payload),
                len(member.data),
                len(name),
                len(extra),
            )
        )
        out.write(name + extra + payload)
        central.write(
            struct.pack(
                "<4sHHHHHHIIIHHHHHII",
                b"PK\x01\x02",
                20,
                20,
                0,
                method,
                _DOS_TIME,
                _DOS_DATE,
                crc,
                len(payload),
                len(member.data),
                len(name),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
        )
        central.write(name)
    directory = central.getvalue()
    start = out.tell()
    out.write(directory)
    out.write(struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, count, count, len(directory), start, 0))
    return out.getvalue()


DEX = b"dex\n035\0" + bytes(104)
"""A dex header's magic and room for the rest: enough to make an APK look like one."""
