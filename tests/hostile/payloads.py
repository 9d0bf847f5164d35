"""Hostile pickles, models and packages, each a few KB on disk (the largest input is 9 MB)."""

from __future__ import annotations

import io
import pickle
import random
import struct
import zipfile
import zlib
from pathlib import Path

from tests.containers.builders import DEFLATED, STORED, Member, raw_zip
from tests.hostile import elves
from tests.torchmodel.helpers import MODELS, replaced

# -- pickles ---------------------------------------------------------------------------------

PROTO2 = b"\x80\x02"


def deep_key_pickle(depth: int = 1_000_000) -> bytes:
    """A dict whose key is a tuple nested ``depth`` deep: hashing it recurses in C."""
    return PROTO2 + b"}" + b"N" + b"\x85" * depth + b"N" + b"s."  # EMPTY_DICT NONE TUPLE1* NONE SETITEM


def deep_list_pickle(depth: int = 1_000_000) -> bytes:
    """Lists nested ``depth`` deep (EMPTY_LIST x depth, APPEND x depth-1)."""
    return PROTO2 + b"]" * depth + b"a" * (depth - 1) + b"."


def huge_memo_pickle(index: int = 0x40000000) -> bytes:
    """``LONG_BINPUT`` of a huge index: the C unpickler sizes its memo array by it."""
    return PROTO2 + b"N" + b"r" + struct.pack("<I", index) + b"."


def global_call(module: str, name: str, argument: str) -> bytes:
    arg = pickle.dumps(argument, protocol=2)[2:-1]
    return PROTO2 + b"c" + f"{module}\n{name}\n".encode() + arg + b"\x85R."


def huge_int_pickle(digits: int = 5000) -> bytes:
    """``LONG1`` of 255 bytes: far wider than TorchScript's 64-bit int."""
    return PROTO2 + b"\x8a\xff" + b"\x7f" * 255 + b"."


# -- models ----------------------------------------------------------------------------------


def lite_model_with(member: str, data: bytes) -> bytes:
    return replaced((MODELS / "plain.ptl").read_bytes(), member, data)


def script_model_with(member: str, data: bytes) -> bytes:
    return replaced((MODELS / "plain.pt").read_bytes(), member, data)


def padded_model(pad: int) -> bytes:
    """A valid lite model of ``pad`` bytes and more: an extra file stored uncompressed."""
    members: dict[str, bytes] = {}
    with zipfile.ZipFile(io.BytesIO((MODELS / "plain.ptl").read_bytes())) as source:
        for name in source.namelist():
            members[name] = source.read(name)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as model:
        for name, data in members.items():
            model.writestr(name, data)
        model.writestr("plain/extra/padding.bin", bytes(pad))
    return out.getvalue()


def code_bomb_model(total: int = 60 << 20, files: int = 8) -> bytes:
    """A TorchScript model whose code/ holds ``total`` bytes of calls in ``files`` files (just
    under the 64 MiB all sources may take)."""
    line = b"    x = torch.add(x, torch.mul(x, x))\n"
    body = b"def forward(self, x):\n" + line * (total // files // len(line))
    members: dict[str, bytes] = {}
    with zipfile.ZipFile(io.BytesIO((MODELS / "plain.pt").read_bytes())) as source:
        for name in source.namelist():
            members[name] = source.read(name)
    for index in range(files):
        members[f"plain/code/__torch__/bomb{index}.py"] = body
    return apk(members)


# -- packages --------------------------------------------------------------------------------


def apk(members: dict[str, bytes], method: int = DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=method) as package:
        for name, data in members.items():
            package.writestr(name, data)
    return out.getvalue()


def with_library(members: dict[str, bytes]) -> dict[str, bytes]:
    """``members`` plus one ordinary library, so the audit has something to load."""
    return {"lib/arm64-v8a/libok.so": elves.plain(), **members}


def _repeat_deflated(head: bytes, block: bytes, count: int) -> tuple[bytes, int, int]:
    """``head`` then ``count`` copies of ``block`` as raw deflate, with CRC-32 and size. After
    a full flush the compressor starts afresh, so the compressed block repeats byte for byte."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = compressor.compress(head) + compressor.flush(zlib.Z_FULL_FLUSH)
    repeated = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    crc = zlib.crc32(head)
    for _ in range(count):
        crc = zlib.crc32(block, crc)
    return first + repeated * count + compressor.flush(), crc, len(head) + len(block) * count


def big_library_apk(mebibytes: int = 1000) -> bytes:
    """A ~9 MB APK whose library inflates to ``mebibytes`` MiB (about 110x, under the zip-bomb
    ratio): a real ELF head, then blocks of 7,000 bytes of noise and zeros."""
    head = elves.plain()
    block = random.Random(13).randbytes(7000) + bytes((1 << 20) - 7000)
    raw, crc, size = _repeat_deflated(head, block, mebibytes)
    return raw_zip(
        [
            Member("lib/arm64-v8a/libok.so", elves.plain()),
            Member("lib/arm64-v8a/libhuge.so", b"", DEFLATED, raw=raw, size=size, crc=crc),
        ]
    )


def zip_bomb_apk(mebibytes: int = 3000) -> bytes:
    """A ~3 MB APK whose one library claims, and inflates to, ``mebibytes`` MiB of zeros
    (the CRC is not computed: the read must stop long before it would be checked)."""
    raw, _, size = _repeat_deflated(b"", bytes(1 << 20), mebibytes)
    return raw_zip([Member("lib/arm64-v8a/libbomb.so", b"", DEFLATED, raw=raw, size=size, crc=0)])


def many_model_assets_apk(count: int = 150, size: int = 16 << 20) -> bytes:
    """``count`` models of ``size`` bytes each, deflated to a few KB apiece."""
    model = padded_model(size - 8192)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    raw = compressor.compress(model) + compressor.flush()
    crc = zlib.crc32(model)
    members = [Member("lib/arm64-v8a/libok.so", elves.plain())]
    members += [
        Member(f"assets/model{index:03d}.ptl", b"", DEFLATED, raw=raw, size=len(model), crc=crc)
        for index in range(count)
    ]
    return raw_zip(members)


def duplicate_names_apk() -> bytes:
    return raw_zip(
        [
            Member("lib/arm64-v8a/libdup.so", elves.plain()),
            Member("lib/arm64-v8a/libdup.so", elves.plain(elves.EM_S390)),
        ]
    )


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


__all__ = ["DEFLATED", "STORED", "write"]


def flatbuffer_model(ivalues: int = 1, operators: int = 1, count: int | None = None) -> bytes:
    """A flatbuffer lite model written by hand after mobile_bytecode.fbs: ``ivalues`` entries that
    all point to one Function, whose ``operators`` entries all point to one Operator
    (``aten::add``). Small file, ``ivalues * operators`` operator reads. ``count`` overrides the
    length written for the ivalues vector (a count past the end of the file)."""

    def vtable(*fields: int) -> bytes:
        return struct.pack(f"<HH{len(fields)}H", 4 + 2 * len(fields), 4 + 4 * len(fields), *fields)

    def pad(data: bytearray) -> None:
        data.extend(b"\0" * (-len(data) % 4))

    out = bytearray(struct.pack("<I", 0) + b"PTMF")
    module_vtable = len(out)
    out += vtable(4, 0, 0, 0, 8)  # bytecode_version, extra_files, methods, state_obj, ivalues
    pad(out)
    module = len(out)
    struct.pack_into("<I", out, 0, module)
    out += struct.pack("<iII", module - module_vtable, 9, 0)  # ivalues offset patched below
    vector = len(out)
    struct.pack_into("<I", out, module + 8, vector - (module + 8))
    out += struct.pack("<I", ivalues if count is None else count) + b"\0" * 4 * ivalues
    ivalue_vtable = len(out)
    out += vtable(4, 8)
    pad(out)
    ivalue = len(out)
    for index in range(ivalues):
        at = vector + 4 + 4 * index
        struct.pack_into("<I", out, at, ivalue - at)
    out += struct.pack("<iBxxxI", ivalue - ivalue_vtable, 16, 0)
    function_vtable = len(out)
    out += vtable(0, 0, 4)  # qn, instructions, operators
    pad(out)
    function = len(out)
    struct.pack_into("<I", out, ivalue + 8, function - (ivalue + 8))
    out += struct.pack("<iI", function - function_vtable, 0)
    operator_vector = len(out)
    struct.pack_into("<I", out, function + 4, operator_vector - (function + 4))
    out += struct.pack("<I", operators) + b"\0" * 4 * operators
    operator_vtable = len(out)
    out += vtable(4)
    pad(out)
    operator = len(out)
    for index in range(operators):
        at = operator_vector + 4 + 4 * index
        struct.pack_into("<I", out, at, operator - at)
    out += struct.pack("<iI", operator - operator_vtable, 4)  # the name right after the table
    out += struct.pack("<I", 9) + b"aten::add\0"
    pad(out)
    return bytes(out)
