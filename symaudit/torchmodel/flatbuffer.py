"""Read a flatbuffer lite model (``_save_for_lite_interpreter(..., _use_flatbuffer=True)``,
bytecode version 9) without torch or the flatbuffers package.

The layout is PyTorch's ``torch/csrc/jit/serialization/mobile_bytecode.fbs`` (file identifier
``PTMF``, root table ``Module``); only what a model check needs is read, through the generic
flatbuffer encoding (little-endian; a table starts with the signed offset back to its vtable of
16-bit field offsets; an offset field holds an unsigned offset from itself to a vector, string or
table; a vector or string starts with its 32-bit length; a union is a type byte field followed by
an offset field):

* ``Module``: 0 ``bytecode_version:uint``, 1 ``extra_files:[ExtraFile]``, 4 ``ivalues:[IValue]``,
  10 ``operator_version:uint`` (what the serializer writes as the produced file-format version);
* ``IValue``: 0/1 the ``IValueUnion`` type and value; type 16 is a ``Function``;
* ``Function``: 0 ``qn:string``, 2 ``operators:[Operator]``; ``Operator``: 0 ``name``, 1 ``overload_name``;
* ``ExtraFile``: 0 ``name:string``.

The operators of every ``Function`` among the ivalues are the ones the mobile loader resolves.
Every offset is checked against the file size and every count against the bytes left, and the
reads are bounded (:data:`MAX_READS`), so a hostile file costs at most a bounded amount of work;
the file is read in place (weights are never loaded).
"""

from __future__ import annotations

import struct
from typing import IO

from symaudit.torchmodel.model import ModelError, ModelKind, Operator, OperatorSource, TorchModel

FILE_IDENTIFIER = b"PTMF"
MAX_READS = 1 << 22
"""Field reads per model (about 0.7 s per million): an ivalue costs about five, an operator
about ten, so a real model (thousands of ivalues) needs far fewer; a file built to make its
entries share children (a million functions x a million operators in a few MB) stops here."""
MAX_STRING = 4096
"""Longest operator, overload or extra-file name read."""
_FUNCTION = 16
"""``IValueUnion`` member number of ``Function`` (NONE is 0, then the members in schema order)."""


class _Buffer:
    def __init__(self, fp: IO[bytes], size: int) -> None:
        self.fp = fp
        self.size = size
        self.reads = 0

    def read(self, offset: int, length: int) -> bytes:
        self.reads += 1
        if self.reads > MAX_READS:
            raise ModelError(f"flatbuffer lite model: more than {MAX_READS} fields to read")
        if offset < 0 or length < 0 or offset + length > self.size:
            raise ModelError(
                f"corrupt flatbuffer lite model (offset {offset} past the end, {self.size} bytes)"
            )
        self.fp.seek(offset)
        data = self.fp.read(length)
        if len(data) != length:
            raise ModelError("truncated flatbuffer lite model")
        return data

    def u32(self, offset: int) -> int:
        value: int = struct.unpack("<I", self.read(offset, 4))[0]
        return value

    def field(self, table: int, index: int) -> int | None:
        """The position of field ``index`` of the table at ``table``, or None when absent."""
        vtable = table - struct.unpack("<i", self.read(table, 4))[0]
        vsize = struct.unpack("<H", self.read(vtable, 2))[0]
        slot = 4 + 2 * index
        if slot + 2 > vsize:
            return None
        at = struct.unpack("<H", self.read(vtable + slot, 2))[0]
        return None if at == 0 else table + at

    def target(self, table: int, index: int) -> int | None:
        """Where the offset field ``index`` points (a table, vector or string)."""
        at = self.field(table, index)
        return None if at is None else at + self.u32(at)

    def scalar(self, table: int, index: int, fmt: str, default: int) -> int:
        at = self.field(table, index)
        if at is None:
            return default
        value: int = struct.unpack(fmt, self.read(at, struct.calcsize(fmt)))[0]
        return value

    def vector(self, at: int | None, width: int = 4) -> range:
        """The element positions of the vector at ``at`` (none when absent)."""
        if at is None:
            return range(0)
        count = self.u32(at)
        if count > (self.size - at - 4) // width:
            raise ModelError(f"corrupt flatbuffer lite model (a vector of {count} items past the end)")
        return range(at + 4, at + 4 + count * width, width)

    def tables(self, at: int | None) -> list[int]:
        return [element + self.u32(element) for element in self.vector(at)]

    def string(self, at: int | None) -> str:
        if at is None:
            return ""
        length = self.u32(at)
        if length > MAX_STRING:
            raise ModelError(f"flatbuffer lite model: a name of {length} bytes (more than {MAX_STRING})")
        return self.read(at + 4, length).decode("utf-8", "replace")


def is_flatbuffer(head: bytes) -> bool:
    return head[4:8] == FILE_IDENTIFIER


def read_flatbuffer(fp: IO[bytes], size: int) -> TorchModel:
    buffer = _Buffer(fp, size)
    module = buffer.u32(0)
    bytecode_version = buffer.scalar(module, 0, "<I", 0)
    operator_version = buffer.scalar(module, 10, "<I", 0)
    operators: set[Operator] = set()
    for ivalue in buffer.tables(buffer.target(module, 4)):
        if buffer.scalar(ivalue, 0, "<B", 0) != _FUNCTION:
            continue
        function = buffer.target(ivalue, 1)
        if function is None:
            continue
        for operator in buffer.tables(buffer.target(function, 2)):
            name = buffer.string(buffer.target(operator, 0))
            if not name:
                raise ModelError("corrupt flatbuffer lite model (an operator without a name)")
            operators.add(Operator(name, buffer.string(buffer.target(operator, 1))))
    extra = tuple(sorted(buffer.string(buffer.target(f, 0)) for f in buffer.tables(buffer.target(module, 1))))
    return TorchModel(
        kind=ModelKind.LITE,
        root="",
        file_format_version=operator_version,
        bytecode_version=bytecode_version,
        operators=tuple(sorted(operators)),
        operator_source=OperatorSource.BYTECODE,
        extra_files=extra,
        flatbuffer=True,
    )
