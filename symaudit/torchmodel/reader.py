"""Read a TorchScript (``.pt``) or lite (``.ptl``) model without torch (REFERENCE.md §8).

A saved module is a zip whose members share one top folder. The file-format version is the
decimal text of ``.data/version`` (from format 6) or ``version``; a lite model adds
``bytecode.pkl``, a tuple ``(bytecode_version, method, ...)`` whose methods list the operators the
mobile runtime must have registered. A full TorchScript model has no bytecode: its operators are
the ``torch.<op>(`` and ``ops.<ns>.<op>(`` calls of the ``code/`` sources, which the JIT
compiles when the model is loaded. Nothing in the archive is executed: pickles go through
:mod:`symaudit.torchmodel.unpickle`, sources through :mod:`ast`.
"""

from __future__ import annotations

import ast
import io
import re
from collections.abc import Iterable, Sequence
from typing import IO

from symaudit.containers.archive import NotAZip, ZipArchive
from symaudit.errors import InputError
from symaudit.torchmodel.flatbuffer import is_flatbuffer, read_flatbuffer
from symaudit.torchmodel.model import ModelError, ModelKind, Operator, OperatorSource, TorchModel
from symaudit.torchmodel.unpickle import load_restricted

MAX_PICKLE_BYTES = 64 << 20
"""``bytecode.pkl`` of a large speech model is a few MB; anything past this is not a model."""
MAX_CODE_BYTES = 64 << 20
"""All ``code/`` sources together."""
MAX_AST_FILE_BYTES = 512 << 10
"""Largest ``code/`` file given to :func:`ast.parse`. The parser needs about 250 bytes of memory
and half a microsecond per source byte (4 MiB: 1 GB, 7 s); TorchScript writes one file per
module class, tens of KB each. Larger files are scanned with the call pattern instead."""
MAX_AST_TOTAL_BYTES = 4 << 20
"""Source bytes parsed with :func:`ast.parse` per model; the rest is scanned (linear, no tree)."""
_MAX_VERSION_BYTES = 64
_ZIP_MAGIC = b"PK\x03\x04"


def looks_like_model(names: Iterable[str]) -> bool:
    """Whether zip member names have the TorchScript layout (one top folder holding
    ``data.pkl`` or ``bytecode.pkl`` and a version record)."""
    return _root(list(names)) is not None


def _root(names: Sequence[str]) -> str | None:
    tops = {name.split("/", 1)[0] for name in names if "/" in name}
    if len(tops) != 1:
        return None
    (top,) = tops
    present = set(names)
    has_pickle = f"{top}/data.pkl" in present or f"{top}/bytecode.pkl" in present
    has_version = f"{top}/version" in present or f"{top}/.data/version" in present
    return top if has_pickle and has_version else None


def _as_file(data: bytes | IO[bytes]) -> tuple[IO[bytes], bytes, int]:
    """The model as a file at offset 0, its first 8 bytes and its size."""
    fp: IO[bytes] = io.BytesIO(data) if isinstance(data, (bytes, bytearray, memoryview)) else data
    fp.seek(0)
    head = fp.read(8)
    size = fp.seek(0, io.SEEK_END)
    fp.seek(0)
    return fp, head, size


def is_model_bytes(data: bytes | IO[bytes]) -> bool:
    """A cheap test for package assets: a zip with the TorchScript layout, or a flatbuffer model.
    A file is left open, at offset 0."""
    fp, head, size = _as_file(data)
    if is_flatbuffer(head):
        return True
    if not head.startswith(_ZIP_MAGIC):
        return False
    try:
        archive = ZipArchive("model", fp, size)
    except NotAZip:
        return False
    try:
        return looks_like_model(info.filename for info in archive.infos())
    finally:
        fp.seek(0)  # not archive.close(): the caller's file stays open


def read_model(data: bytes | IO[bytes]) -> TorchModel:
    """The model's versions and operators; raises :class:`ModelError` with the reason. A file
    is read in place (a large model spilled to disk is never loaded whole)."""
    fp, head, size = _as_file(data)
    if is_flatbuffer(head):
        return read_flatbuffer(fp, size)
    try:
        archive = ZipArchive("model", fp, size)
    except NotAZip as exc:
        if head.startswith(_ZIP_MAGIC):
            raise ModelError(f"corrupt or truncated zip archive ({exc})") from None
        raise ModelError("not a zip archive (a TorchScript model is one)") from None
    return _read(archive)


def _member(archive: ZipArchive, name: str, limit: int) -> bytes:
    try:
        return archive.read(archive.info(name), limit)
    except InputError as exc:  # MemberError too: the reason, without the "model: " label
        raise ModelError(str(exc).removeprefix("model: ")) from None


def _read(archive: ZipArchive) -> TorchModel:
    names = [info.filename for info in archive.infos()]
    root = _root(names)
    if root is None:
        raise ModelError(
            "a zip, but not a TorchScript archive (no top folder with data.pkl or bytecode.pkl "
            "and a version record)"
        )
    present = set(names)
    version_name = f"{root}/.data/version" if f"{root}/.data/version" in present else f"{root}/version"
    file_format = _version_number(_member(archive, version_name, _MAX_VERSION_BYTES), version_name)
    extra = tuple(
        sorted(
            name[len(root) + 7 :]
            for name in names
            if name.startswith(f"{root}/extra/") and not name.endswith("/")
        )
    )
    for pickle_name in (f"{root}/data.pkl", f"{root}/constants.pkl"):
        if pickle_name in present:
            check_pickle(_member(archive, pickle_name, MAX_PICKLE_BYTES), pickle_name[len(root) + 1 :])
    bytecode_name = f"{root}/bytecode.pkl"
    if bytecode_name in present:
        version, operators = parse_bytecode(_member(archive, bytecode_name, MAX_PICKLE_BYTES))
        return TorchModel(
            ModelKind.LITE, root, file_format, version, operators, OperatorSource.BYTECODE, extra
        )
    found: set[Operator] = set()
    total = parsed = 0
    for name in names:
        if name.startswith(f"{root}/code/") and name.endswith(".py"):
            text = _member(archive, name, MAX_CODE_BYTES - total)
            total += len(text)
            parse = len(text) <= MAX_AST_FILE_BYTES and parsed + len(text) <= MAX_AST_TOTAL_BYTES
            parsed += len(text) if parse else 0
            found.update(_calls(text.decode("utf-8", errors="replace"), parse))
            del text  # one source at a time
    return TorchModel(
        ModelKind.TORCHSCRIPT, root, file_format, None, tuple(sorted(found)), OperatorSource.CODE, extra
    )


def _version_number(data: bytes, name: str) -> int:
    text = data.decode("ascii", errors="replace").strip()
    if not text.isdigit() or not text.isascii():
        raise ModelError(f"{name}: not a version number ({text[:20]!r})")
    return int(text)


def check_pickle(data: bytes, name: str) -> None:
    """Loads a pickle the model holds (``data.pkl``, ``constants.pkl``) through the restricted
    unpickler and drops the value: symaudit needs nothing from it, but torch loads it with the
    model, so a pickle torch would refuse (or one that imports ``os.system``) makes the model
    unreadable here too."""
    try:
        load_restricted(data)
    except ModelError as exc:
        raise ModelError(f"{name} {exc}") from None


def parse_bytecode(data: bytes) -> tuple[int, tuple[Operator, ...]]:
    """``(bytecode_version, operators)`` of a ``bytecode.pkl`` (REFERENCE.md §8.2)."""
    try:
        value = load_restricted(data)
    except ModelError as exc:
        raise ModelError(f"bytecode.pkl {exc}") from None
    if not isinstance(value, tuple) or not value or type(value[0]) is not int:
        raise ModelError("bytecode.pkl: not a tuple starting with the bytecode version")
    version = value[0]
    operators: set[Operator] = set()
    for method in value[1:]:
        operators.update(_method_operators(method))
    return version, tuple(sorted(operators))


def _method_operators(method: object) -> Iterable[Operator]:
    # (qualified_name, (("instructions", ...), ("operators", ((name, overload[, num_args]), ...)), ...)[, schema])
    if not isinstance(method, tuple) or len(method) < 2 or not isinstance(method[1], tuple):
        raise ModelError("bytecode.pkl: a method is not a (name, table, ...) tuple")
    for entry in method[1]:
        if not (isinstance(entry, tuple) and len(entry) == 2 and entry[0] == "operators"):
            continue
        if not isinstance(entry[1], tuple):
            raise ModelError("bytecode.pkl: an operators table is not a tuple")
        for op in entry[1]:
            if not (
                isinstance(op, tuple) and len(op) >= 2 and isinstance(op[0], str) and isinstance(op[1], str)
            ):
                raise ModelError("bytecode.pkl: an operator is not a (name, overload, ...) tuple")
            yield Operator(op[0], op[1])


_CALL = re.compile(r"(?<![\w.])(?:torch\.(?:ops\.(\w+)\.)?|ops\.(\w+)\.)(\w+)\s*\(")


def code_operators(sources: Iterable[str]) -> tuple[Operator, ...]:
    """Operators the ``code/`` sources call: ``torch.<op>(`` is ``aten::<op>``,
    ``ops.<ns>.<op>(`` (also ``torch.ops.<ns>.<op>(``) is ``<ns>::<op>``. Overloads are left
    open: the JIT picks one from the argument types when it compiles the model."""
    found: set[Operator] = set()
    for source in sources:
        found.update(_calls(source))
    return tuple(sorted(found))


def _calls(source: str, parse: bool = True) -> Iterable[Operator]:
    try:
        if not parse:
            raise ValueError("too large to parse")
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        # Not Python the JIT printed (nested past the parser's limit, or over the parse
        # budget): fall back to a scan.
        # Distinct matches first: 60 MB of sources hold millions of calls of a few operators.
        for torch_namespace, namespace, name in set(_CALL.findall(source)):
            yield Operator(f"{torch_namespace or namespace or 'aten'}::{name}")
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            chain = _dotted(node.func)
            if chain is None:
                continue
            if len(chain) == 2 and chain[0] == "torch":
                yield Operator(f"aten::{chain[1]}")
            elif len(chain) == 3 and chain[0] == "ops":
                yield Operator(f"{chain[1]}::{chain[2]}")
            elif len(chain) == 4 and chain[:2] == ["torch", "ops"]:
                yield Operator(f"{chain[2]}::{chain[3]}")


def _dotted(node: ast.expr) -> list[str] | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
        if len(parts) > 4:
            return None
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return parts[::-1]
