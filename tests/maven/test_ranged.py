"""Members of a zip by HTTP range requests, against real servers on 127.0.0.1 (pytest-httpserver):
one honouring Range, one ignoring it, and ones lying about the zip."""

from __future__ import annotations

import hashlib
import io
import re
import struct
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
from werkzeug import Request, Response

from symaudit.http import Http
from symaudit.maven.ranged import ZipRangeError, central_directory, read_members


def _noise(seed: str, size: int) -> bytes:
    """Incompressible bytes, the same every run."""
    out = bytearray()
    while len(out) < size:
        out += hashlib.sha256(f"{seed}{len(out)}".encode()).digest()
    return bytes(out[:size])


def _zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("classes.jar", _noise("classes", 300_000))
        for abi in ("arm64-v8a", "x86"):
            archive.writestr(f"jni/{abi}/libfoo.so", abi.encode() * 5000 + _noise(abi, 100_000))
            archive.writestr(
                f"jni/{abi}/libbar.so", b"\x7fELF" + _noise(abi + "bar", 50_000), zipfile.ZIP_STORED
            )
        archive.writestr("headers/a.h", _noise("h", 80_000))
    return out.getvalue()


def _serve(
    httpserver: Any, data: bytes, ranges: bool, tamper: Callable[[int, bytes], bytes] | None = None
) -> list[int]:
    sent: list[int] = []

    def handle(request: Request) -> Response:
        match = re.fullmatch(r"bytes=(\d*)-(\d*)", request.headers.get("Range", ""))
        if not ranges or match is None:
            sent.append(len(data))
            return Response(data)
        if match.group(1):
            start, end = int(match.group(1)), min(int(match.group(2) or len(data) - 1), len(data) - 1)
        else:
            start, end = max(0, len(data) - int(match.group(2))), len(data) - 1
        part = data[start : end + 1]
        if tamper is not None:
            part = tamper(start, part)
        sent.append(len(part))
        return Response(part, status=206, headers={"Content-Range": f"bytes {start}-{end}/{len(data)}"})

    httpserver.expect_request("/a.aar").respond_with_handler(handle)
    return sent


def _arm64(name: str) -> bool:
    return name.startswith("jni/arm64-v8a/")


def test_members_are_read_by_range_and_match_the_zip(httpserver: Any) -> None:
    data = _zip()
    sent = _serve(httpserver, data, ranges=True)
    http = Http()
    remote = central_directory(http, httpserver.url_for("/a.aar"))
    assert remote is not None and remote.total == len(data)
    got = read_members(http, remote, _arm64)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        expected = {n: archive.read(n) for n in archive.namelist() if _arm64(n)}
    assert got == expected and len(got) == 2
    assert sum(sent) < len(data) // 2  # classes.jar and the x86 libraries were never sent


def test_a_server_ignoring_range_gives_none(httpserver: Any) -> None:
    _serve(httpserver, _zip(), ranges=False)
    assert central_directory(Http(), httpserver.url_for("/a.aar")) is None


def test_a_member_failing_its_crc_is_refused(httpserver: Any) -> None:
    data = _zip()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.getinfo("jni/arm64-v8a/libbar.so")  # stored: a flipped byte stays a valid body
    at = info.header_offset + 30 + len(info.filename) + 10

    def flip(start: int, part: bytes) -> bytes:
        if start <= at < start + len(part):
            i = at - start
            return part[:i] + bytes([part[i] ^ 1]) + part[i + 1 :]
        return part

    _serve(httpserver, data, ranges=True, tamper=flip)
    http = Http()
    remote = central_directory(http, httpserver.url_for("/a.aar"))
    assert remote is not None
    with pytest.raises(ZipRangeError, match="CRC-32"):
        read_members(http, remote, _arm64)


@pytest.mark.parametrize("field,value", [(24, 0x7FFFFFF0), (20, 0x7FFFFFF0), (42, 0x7FFFFFF0)])
def test_central_directory_sizes_and_offsets_are_not_trusted(httpserver: Any, field: int, value: int) -> None:
    """A central directory claiming a huge uncompressed (24) or compressed (20) size, or an offset
    past the directory (42), is refused before any member is requested."""
    data = bytearray(_zip())
    (cd_offset,) = struct.unpack_from("<I", data, len(data) - 22 + 16)
    struct.pack_into("<I", data, cd_offset + field, value)
    sent = _serve(httpserver, bytes(data), ranges=True)
    http = Http()
    with pytest.raises(ZipRangeError):
        remote = central_directory(http, httpserver.url_for("/a.aar"))
        assert remote is not None
        read_members(http, remote, lambda name: True)
    assert len(sent) == 1  # only the tail was asked for


@pytest.mark.parametrize("tail", [b"", b"PK\x05\x06", b"PK\x05\x06" + b"\0" * 17, b"PK\x05\x06\xff\xff"])
def test_a_file_that_is_not_a_zip_is_refused(httpserver: Any, tail: bytes) -> None:
    """Noise, or an end-of-directory signature in its last bytes without room for the record."""
    _serve(httpserver, _noise("x", 100_000) + tail, ranges=True)
    with pytest.raises(ZipRangeError, match="no end of central directory"):
        central_directory(Http(), httpserver.url_for("/a.aar"))
