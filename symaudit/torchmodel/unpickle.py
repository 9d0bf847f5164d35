"""A pickle loader that can rebuild what a TorchScript archive's pickles hold, and nothing else.

A model comes from wherever the app got it, so its pickles are untrusted: ``pickle.load`` would
import and call whatever a ``GLOBAL``/``REDUCE`` pair names (``os.system``). Here every import
goes through :meth:`_Restricted.find_class`, which only knows a few names TorchScript writes, and
each of them maps to a local stand-in that builds a placeholder or a plain container, never to
the real function. Persistent ids (tensor storages) stay unresolved placeholders.
"""

from __future__ import annotations

import io
import pickle
import pickletools
from collections.abc import Callable
from typing import Any

from symaudit.torchmodel.model import ModelError


class PickleRejected(ModelError):
    """The pickle names a global outside the allowed set; the message says which."""


class PickleBroken(ModelError):
    """The bytes are not a pickle this loader can finish (truncated, wrong opcodes, bad nesting)."""


class Placeholder:
    """Something the model would rebuild with torch (a tensor, a storage): kept as a label only."""

    __slots__ = ("label",)

    def __init__(self, label: str) -> None:
        self.label = label

    def __repr__(self) -> str:
        return f"<{self.label}>"


def _tensor(*_args: object) -> Placeholder:
    return Placeholder("tensor")


def _passthrough(value: object, *_args: object) -> object:
    return value


def _ordered_dict(*args: object) -> dict[object, object]:
    if not args:
        return {}
    if len(args) == 1 and isinstance(args[0], (list, tuple)):
        return {key: value for key, value in args[0]}
    raise TypeError("OrderedDict takes at most one list of pairs here")


_TENSOR_REBUILDERS = (
    "_rebuild_tensor",
    "_rebuild_tensor_v2",
    "_rebuild_tensor_v3",
    "_rebuild_qtensor",
    "_rebuild_parameter",
    "_rebuild_parameter_with_state",
    "_rebuild_sparse_tensor",
)
_STORAGES = (
    "BFloat16Storage",
    "BoolStorage",
    "ByteStorage",
    "CharStorage",
    "ComplexDoubleStorage",
    "ComplexFloatStorage",
    "DoubleStorage",
    "FloatStorage",
    "HalfStorage",
    "IntStorage",
    "LongStorage",
    "QInt32Storage",
    "QInt8Storage",
    "QUInt8Storage",
    "ShortStorage",
    "UntypedStorage",
)

ALLOWED_GLOBALS: dict[tuple[str, str], Callable[..., object]] = {
    ("collections", "OrderedDict"): _ordered_dict,
    **{("torch._utils", name): _tensor for name in _TENSOR_REBUILDERS},
    **{("torch", name): (lambda *_a, _n=name: Placeholder(_n)) for name in _STORAGES},
    ("torch.jit._pickle", "build_intlist"): _passthrough,
    ("torch.jit._pickle", "build_doublelist"): _passthrough,
    ("torch.jit._pickle", "build_boollist"): _passthrough,
    ("torch.jit._pickle", "build_tensorlist"): _passthrough,
    ("torch.jit._pickle", "build_tensor_from_id"): _tensor,
    ("torch.jit._pickle", "restore_type_tag"): _passthrough,
}
"""What TorchScript's pickler may name, mapped to harmless stand-ins (never the real functions)."""


class _StandIn:
    """What ``find_class`` hands the pickle: callable, but with no ``__dict__`` and no settable
    attribute, so a ``BUILD`` aimed at it fails instead of changing the shared stand-in function
    (its ``__dict__`` or ``__kwdefaults__``) for every later load."""

    __slots__ = ("_call",)
    _call: Callable[..., object]

    def __init__(self, call: Callable[..., object]) -> None:
        object.__setattr__(self, "_call", call)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot set {name!r} on a pickle stand-in")

    def __call__(self, *args: object) -> object:
        return self._call(*args)


class _Restricted(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        stand_in = ALLOWED_GLOBALS.get((module, name))
        if stand_in is None:
            raise PickleRejected(
                f"refuses to import {module}.{name}: a model pickle may only name tensor and "
                "container helpers (a malicious or non-TorchScript pickle)"
            )
        return _StandIn(stand_in)

    def persistent_load(self, pid: Any) -> Placeholder:
        return Placeholder("storage")


MAX_PICKLE_OPS = 4_000_000
"""Opcodes a pickle may hold. A real ``bytecode.pkl`` has about one per 3 bytes (a few MB: under
2 million); most opcodes build an object of some 70 bytes, so without this bound the 64 MB a
member may inflate to (from a ~60 KB zip) would cost ~5 GB of lists."""


def _count_opcodes(data: bytes) -> None:
    """Walk the opcodes (pure Python, ~5 million a second, nothing built) and refuse more than
    :data:`MAX_PICKLE_OPS` before the C unpickler allocates anything."""
    count = 0
    try:
        for _ in pickletools.genops(io.BytesIO(data)):
            count += 1
            if count > MAX_PICKLE_OPS:
                raise PickleBroken(f"more than {MAX_PICKLE_OPS} opcodes: too large to unpickle")
    except PickleBroken:
        raise
    except Exception as exc:  # ValueError and friends on bytes that are no pickle
        detail = str(exc) or exc.__class__.__name__
        raise PickleBroken(f"not a readable pickle ({exc.__class__.__name__}: {detail[:200]})") from None


def load_restricted(data: bytes) -> object:
    """The pickled value, rebuilt without importing or calling anything outside
    :data:`ALLOWED_GLOBALS`. Raises :class:`PickleRejected` or :class:`PickleBroken`."""
    _count_opcodes(data)
    try:
        return _Restricted(io.BytesIO(data)).load()
    except PickleRejected:
        raise
    except MemoryError:
        raise PickleBroken("too large to unpickle") from None
    except RecursionError:
        raise PickleBroken("nested too deeply") from None
    # The unpickler raises nearly every built-in exception type on hostile bytes (UnpicklingError,
    # EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError,
    # UnicodeDecodeError, ...); none of them can come from code of the pickle's choosing, since
    # nothing but the stand-ins above is ever called.
    except Exception as exc:
        detail = str(exc) or exc.__class__.__name__
        raise PickleBroken(f"not a readable pickle ({exc.__class__.__name__}: {detail})") from None
