"""Zips built byte by byte, so tests control what zipfile would not write: alignment padding in
the local header only (as zipalign does), flags, methods and sizes that lie."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

STORED = zipfile.ZIP_STORED
DEFLATED = zipfile.ZIP_DEFLATED


def elf(tag: str, size: int = 256) -> bytes:
    """Bytes that start like an ELF file and are unique per ``tag``: containers never parse them,
    and a test can find them in the raw zip to check an offset independently."""
    body = f"\x7fELF<{tag}>".encode()
    return (body * (size // len(body) + 1))[:size]


@dataclass
class Member:
    name: str
    data: bytes
    method: int = STORED
    local_extra: bytes = b""
    central_extra: bytes = b""
    flags: int = 0
    raw: bytes | None = None
    """Already-compressed payload (a streamed zip bomb); ``data`` then only gives the CRC/size."""
    size: int | None = None
    crc: int | None = None


def _payload(member: Member) -> bytes:
    if member.raw is not None:
        return member.raw
    if member.method == DEFLATED:
        compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
        return compressor.compress(member.data) + compressor.flush()
    return member.data


def raw_zip(members: Iterable[Member], align: int = 0) -> bytes:
    """A zip whose local headers may differ from the central ones. With ``align``, stored
    members get local-only padding so their data starts on a multiple of ``align``."""
    out = io.BytesIO()
    central = io.BytesIO()
    count = 0
    for member in members:
        count += 1
        name = member.name.encode()
        payload = _payload(member)
        crc = member.crc if member.crc is not None else zlib.crc32(member.data)
        size = member.size if member.size is not None else len(member.data)
        offset = out.tell()
        local_extra = member.local_extra
        if align and member.method == STORED:
            start = offset + 30 + len(name) + len(local_extra)
            local_extra += b"\0" * (-start % align)
        out.write(
            struct.pack(
                "<4sHHHHHIIIHH",
                b"PK\x03\x04",
                20,
                member.flags,
                member.method,
                0,
                0x21,
                crc,
                len(payload),
                size,
                len(name),
                len(local_extra),
            )
        )
        out.write(name + local_extra + payload)
        central.write(
            struct.pack(
                "<4sHHHHHHIIIHHHHHII",
                b"PK\x01\x02",
                20,
                20,
                member.flags,
                member.method,
                0,
                0x21,
                crc,
                len(payload),
                size,
                len(name),
                len(member.central_extra),
                0,
                0,
                0,
                0,
                offset,
            )
        )
        central.write(name + member.central_extra)
    directory = central.getvalue()
    start = out.tell()
    out.write(directory)
    out.write(struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, count, count, len(directory), start, 0))
    return out.getvalue()


def zip_bytes(members: dict[str, bytes], method: int = DEFLATED) -> bytes:
    """An ordinary zip, written by zipfile itself."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def zeros_deflated(mebibytes: int) -> tuple[bytes, int]:
    """``mebibytes`` MiB of zeros as a raw deflate stream, and their CRC-32, in a fraction of a
    second: after a full flush the compressor's output for the same 1 MiB block repeats."""
    block = bytes(1 << 20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(mebibytes):
        crc = zlib.crc32(block, crc)
    return chunk * mebibytes + compressor.flush(), crc


def central_entries(data: bytes) -> dict[str, tuple[int, int]]:
    """Each member's central entry position and local header offset, walked by hand from the
    end-of-central-directory record, independently of zipfile."""
    end = data.rindex(b"PK\x05\x06")
    count, _, position = struct.unpack_from("<HII", data, end + 10)
    entries = {}
    for _ in range(count):
        name_length, extra_length, comment_length = struct.unpack_from("<HHH", data, position + 28)
        (offset,) = struct.unpack_from("<I", data, position + 42)
        entries[data[position + 46 : position + 46 + name_length].decode()] = (position, offset)
        position += 46 + name_length + extra_length + comment_length
    return entries


def set_flag(data: bytes, name: str, flag: int) -> bytes:
    """``data`` with ``flag`` set in both the local and the central header of ``name``."""
    patched = bytearray(data)
    central, local = central_entries(data)[name]
    for flags_at in (local + 6, central + 8):
        struct.pack_into("<H", patched, flags_at, struct.unpack_from("<H", data, flags_at)[0] | flag)
    return bytes(patched)
