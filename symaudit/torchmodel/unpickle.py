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


class _Restricted(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        stand_in = ALLOWED_GLOBALS.get((module, name))
        if stand_in is None:
            raise PickleRejected(
                f"refuses to import {module}.{name}: a model pickle may only name tensor and "
                "container helpers (a malicious or non-TorchScript pickle)"
            )
        return stand_in

    def persistent_load(self, pid: Any) -> Placeholder:
        return Placeholder("storage")


def load_restricted(data: bytes) -> object:
    """The pickled value, rebuilt without importing or calling anything outside
    :data:`ALLOWED_GLOBALS`. Raises :class:`PickleRejected` or :class:`PickleBroken`."""
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
