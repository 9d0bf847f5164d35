"""Members of a remote zip (an AAR) by HTTP range requests, without downloading the whole file.

The end of central directory record is read from the file's last bytes, then the central
directory, then each wanted member's local header and data (neighbouring members in one
request). Each member is checked against the CRC-32 and size the central directory gives, and
nothing the file says is trusted beyond fixed bounds: sizes, counts and offsets must fit the file
and :data:`MAX_CENTRAL_DIRECTORY` / :data:`MAX_MEMBER`, or the file is refused (the caller then
downloads it whole and checks it against the repository's checksum). A server that ignores
``Range`` (answers 200) makes :func:`read_members` return None after reading none of the body.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from symaudit.errors import NetworkError
from symaudit.http import Http, Ranged, redact

EOCD = b"PK\x05\x06"
CENTRAL = b"PK\x01\x02"
LOCAL = b"PK\x03\x04"
TAIL = 22 + 0xFFFF
"""The end of central directory record and the longest comment it may be followed by."""
MAX_CENTRAL_DIRECTORY = 16 << 20
MAX_ENTRIES = 200_000
MAX_MEMBER = 512 << 20
"""Largest member read (uncompressed); the biggest libpytorch_jni.so is about 60 MB."""
MAX_REQUEST = 256 << 20
MERGE_GAP = 1 << 20
"""Members closer than this are fetched in one request (the bytes between are thrown away)."""
_LOCAL_SLACK = 30 + 2 * 0xFFFF + 24
"""A local header's fixed part, its longest name and extra field, and a data descriptor."""


class ZipRangeError(NetworkError):
    """The remote file is not a zip these reads can handle (zip64, multi-disk, inconsistent
    sizes or offsets, a member failing its CRC-32): fall back to a whole, checksummed download."""


@dataclass(frozen=True, slots=True)
class Entry:
    name: str
    method: int
    flags: int
    crc: int
    compressed: int
    size: int
    offset: int
    end: int = 0
    """Where the next member (or the central directory) starts: the member's bytes end there."""


@dataclass(frozen=True, slots=True)
class Remote:
    url: str
    total: int
    entries: tuple[Entry, ...]


def _fail(url: str, why: str) -> ZipRangeError:
    return ZipRangeError(f"{redact(url)}: {why}; downloading it whole instead")


def central_directory(http: Http, url: str) -> Remote | None:
    """The zip's entries, or None when the server ignores ``Range``."""
    tail = http.get_range(url, None, TAIL, TAIL)
    if tail is None:
        return None
    at = tail.body.rfind(EOCD)
    while at >= 0 and (
        at + 22 > len(tail.body)
        or at + 22 + struct.unpack_from("<H", tail.body, at + 20)[0] != len(tail.body)
    ):
        at = tail.body.rfind(EOCD, 0, at)
    if at < 0:
        raise _fail(url, "no end of central directory record")
    disk, cd_disk, here, count, size, offset = struct.unpack_from("<HHHHII", tail.body, at + 4)
    if disk or cd_disk or here != count or 0xFFFF in (count,) or 0xFFFFFFFF in (size, offset):
        raise _fail(url, "zip64 or multi-disk zip")
    record = tail.start + at
    if offset + size > record or size > MAX_CENTRAL_DIRECTORY or count > MAX_ENTRIES:
        raise _fail(url, f"central directory ({size} bytes at {offset}) out of bounds")
    if offset >= tail.start:
        data = tail.body[offset - tail.start : offset - tail.start + size]
    else:
        part = http.get_range(url, offset, offset + size - 1, size)
        if part is None:
            return None
        data = part.body
    entries = _entries(url, data, count, offset)
    return Remote(url, tail.total, entries)


def _entries(url: str, data: bytes, count: int, cd_offset: int) -> tuple[Entry, ...]:
    raw: list[Entry] = []
    at = 0
    for _ in range(count):
        if data[at : at + 4] != CENTRAL or at + 46 > len(data):
            raise _fail(url, "corrupt central directory")
        (flags, method, crc, compressed, size, name_len, extra_len, comment_len) = struct.unpack_from(
            "<4xHH4xIIIHHH", data, at + 4
        )
        (offset,) = struct.unpack_from("<I", data, at + 42)
        name = data[at + 46 : at + 46 + name_len].decode("utf-8" if flags & 0x800 else "cp437", "replace")
        at += 46 + name_len + extra_len + comment_len
        if at > len(data) or offset >= cd_offset:
            raise _fail(url, "corrupt central directory")
        raw.append(Entry(name, method, flags, crc, compressed, size, offset))
    starts = sorted({e.offset for e in raw} | {cd_offset})
    following = {s: starts[i + 1] for i, s in enumerate(starts[:-1])}
    return tuple(
        Entry(e.name, e.method, e.flags, e.crc, e.compressed, e.size, e.offset, following[e.offset])
        for e in raw
    )


def _check(url: str, entry: Entry) -> None:
    span = entry.end - entry.offset
    if entry.flags & 1:
        raise _fail(url, f"{entry.name} is encrypted")
    if entry.method not in (0, 8):
        raise _fail(url, f"{entry.name}: compression method {entry.method}")
    if entry.size > MAX_MEMBER or entry.compressed > MAX_MEMBER:
        raise _fail(url, f"{entry.name}: {entry.size} bytes is over the {MAX_MEMBER}-byte limit")
    if span < 30 + entry.compressed or span > entry.compressed + _LOCAL_SLACK:
        raise _fail(url, f"{entry.name}: sizes do not fit its place in the file")


def read_members(http: Http, remote: Remote, wanted: Callable[[str], bool]) -> dict[str, bytes] | None:
    """Name -> verified bytes of every entry ``wanted`` accepts; None when Range is ignored."""
    chosen = sorted((e for e in remote.entries if wanted(e.name)), key=lambda e: e.offset)
    for entry in chosen:
        _check(remote.url, entry)
    out: dict[str, bytes] = {}
    for group in _groups(chosen):
        first, last = group[0].offset, group[-1].end - 1
        if last - first + 1 > MAX_REQUEST:
            groups: Sequence[Sequence[Entry]] = [[e] for e in group]
        else:
            groups = [group]
        for part_entries in groups:
            start, end = part_entries[0].offset, part_entries[-1].end - 1
            part = http.get_range(remote.url, start, end, end - start + 1)
            if part is None:
                return None
            for entry in part_entries:
                out[entry.name] = _member(remote.url, part, entry)
    return out


def _groups(entries: Sequence[Entry]) -> list[list[Entry]]:
    groups: list[list[Entry]] = []
    for entry in entries:
        if groups and entry.offset - groups[-1][-1].end <= MERGE_GAP:
            groups[-1].append(entry)
        else:
            groups.append([entry])
    return groups


def _member(url: str, part: Ranged, entry: Entry) -> bytes:
    at = entry.offset - part.start
    header = part.body[at : at + 30]
    if len(header) < 30 or header[:4] != LOCAL:
        raise _fail(url, f"{entry.name}: no local header at {entry.offset}")
    name_len, extra_len = struct.unpack_from("<HH", header, 26)
    begin = at + 30 + name_len + extra_len
    raw = part.body[begin : begin + entry.compressed]
    if len(raw) != entry.compressed or begin + entry.compressed > entry.end - part.start:
        raise _fail(url, f"{entry.name}: data runs past its place in the file")
    if entry.method == 0:
        data = raw
    else:
        inflater = zlib.decompressobj(-15)
        try:
            data = inflater.decompress(raw, entry.size + 1)
        except zlib.error:
            raise _fail(url, f"{entry.name}: corrupt deflate data") from None
    if len(data) != entry.size or zlib.crc32(data) != entry.crc:
        raise _fail(url, f"{entry.name}: does not match the CRC-32 and size of the central directory")
    return data
