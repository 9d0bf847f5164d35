"""A pickle loader that can rebuild what a TorchScript archive's pickles hold, and nothing else.

A model comes from wherever the app got it, so its pickles are untrusted. ``pickle.load`` would
import and call whatever a ``GLOBAL``/``REDUCE`` pair names (``os.system``); the C unpickler also
sizes its memo by the largest index named (``LONG_BINPUT 0x40000000``: 336 bytes cost 16.8 GB)
and hashes dict keys as it builds them (a key nested a million tuples deep recurses in C until
the process dies with SIGSEGV). So this module never hands the bytes to :mod:`pickle`: it walks
the opcodes with :func:`pickletools.genops` and interprets the subset TorchScript's own unpickler
(``torch/csrc/jit/serialization/unpickler.cpp``) reads, within explicit bounds:

* at most :data:`MAX_PICKLE_OPS` opcodes, counted as they are read;
* the memo is a dict, so an index costs one entry whatever its value;
* every value is built at most :data:`MAX_DEPTH` containers deep; a container may be filled only
  until it is put inside another one (what torch's pickler always does), so the depth recorded
  when it is nested stays true;
* dict keys are scalars (str, int, float, bool, complex, a tensor placeholder): TorchScript's
  ``Dict`` allows no other key type, and hashing a scalar never recurses;
* integers are at most 64 bits wide, as TorchScript's ``int``;
* imports go through :data:`ALLOWED_GLOBALS` (tensor and container helpers) or name a
  ``__torch__`` class; each maps to a local stand-in that builds a placeholder or a plain
  container, never to the real function. Persistent ids (tensor storages) stay placeholders.
"""

from __future__ import annotations

import io
import pickletools
from collections.abc import Callable, Iterator
from typing import Any

from symaudit.torchmodel.model import ModelError


class PickleRejected(ModelError):
    """The pickle names a global outside the allowed set; the message says which."""


class PickleBroken(ModelError):
    """The bytes are not a pickle this loader can finish (truncated, wrong opcodes, bad nesting,
    over a bound)."""


MAX_PICKLE_OPS = 4_000_000
"""Opcodes a pickle may hold. A real ``bytecode.pkl`` has about one per 3 bytes (a few MB: under
2 million); most opcodes build an object of some 70 bytes, so without this bound the 64 MB a
member may inflate to (from a ~60 KB zip) would cost ~5 GB of lists."""
MAX_DEPTH = 256
"""Containers nested inside each other. TorchScript values are a few levels deep (a method table
is a tuple of tuples of instruction tuples: 5); module trees of real models stay under 50."""
MAX_INT_BYTES = 8
"""``LONG1`` width: TorchScript's ``int`` is 64 bits."""


class Placeholder:
    """Something the model would rebuild with torch (a tensor, a storage): kept as a label only."""

    __slots__ = ("label",)

    def __init__(self, label: str) -> None:
        self.label = label

    def __repr__(self) -> str:
        return f"<{self.label}>"


class TorchObject:
    """An instance of a ``__torch__`` class (a scripted module): its class name and its state."""

    __slots__ = ("_depth", "_sealed", "qualified_name", "state")

    def __init__(self, qualified_name: str) -> None:
        self.qualified_name = qualified_name
        self.state: object = None
        self._depth = 0
        self._sealed = False

    def __repr__(self) -> str:
        return f"<{self.qualified_name}>"


_KEY_TYPES = (str, int, float, complex, Placeholder)
"""bool is an int. TorchScript's ``Dict`` keys are str, int, float, complex or Tensor."""


def _check_key(key: object) -> None:
    if not isinstance(key, _KEY_TYPES):
        raise PickleBroken(
            f"a dict key of type {type(key).__name__}: TorchScript dict keys are str, int, float, "
            "complex or Tensor"
        )


def _tensor(*_args: object) -> Placeholder:
    return Placeholder("tensor")


def _passthrough(value: object, *_args: object) -> object:
    return value


def _ordered_dict(*args: object) -> PickledDict:
    if not args:
        return PickledDict()
    if len(args) == 1 and isinstance(args[0], (list, tuple)):
        result = PickledDict()
        for pair in args[0]:
            if not (isinstance(pair, (list, tuple)) and len(pair) == 2):
                raise PickleBroken("OrderedDict takes a list of (key, value) pairs")
            _check_key(pair[0])
            result[pair[0]] = pair[1]
        return result
    raise PickleBroken("OrderedDict takes at most one list of pairs here")


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
"""What TorchScript's pickler may name, mapped to harmless stand-ins (never the real functions).
Besides these, any class of the ``__torch__`` namespace (scripted modules) may be named: it
becomes a :class:`TorchObject`."""


class _StandIn:
    """What an import yields: callable (``REDUCE``), and for a ``__torch__`` class also
    instantiable (``NEWOBJ``); it has no settable attribute, so nothing the pickle does can change
    a stand-in shared by later loads."""

    __slots__ = ("_call", "_class")
    _call: Callable[..., object] | None
    _class: str | None

    def __init__(self, call: Callable[..., object] | None, class_name: str | None = None) -> None:
        object.__setattr__(self, "_call", call)
        object.__setattr__(self, "_class", class_name)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot set {name!r} on a pickle stand-in")

    def call(self, args: tuple[object, ...]) -> object:
        if self._call is None:
            return TorchObject(str(self._class))
        return self._call(*args)

    def new(self) -> TorchObject:
        if self._class is None:
            raise PickleBroken("NEWOBJ on a function, not a class")
        return TorchObject(self._class)


def _find_class(module: str, name: str) -> _StandIn:
    stand_in = ALLOWED_GLOBALS.get((module, name))
    if stand_in is not None:
        return _StandIn(stand_in)
    if module == "__torch__" or module.startswith("__torch__."):
        return _StandIn(None, f"{module}.{name}")
    raise PickleRejected(
        f"refuses to import {module}.{name}: a model pickle may only name tensor and "
        "container helpers and __torch__ classes (a malicious or non-TorchScript pickle)"
    )


class PickledList(list):  # type: ignore[type-arg]
    """A list as unpickled: a plain list that also records how deep it is and whether it has
    been put inside another value (then it may no longer grow)."""

    __slots__ = ("_depth", "_sealed")

    def __init__(self, items: object = ()) -> None:
        super().__init__(items)  # type: ignore[call-overload]
        self._depth = 0
        self._sealed = False


class PickledDict(dict):  # type: ignore[type-arg]
    """A dict as unpickled; see :class:`PickledList`."""

    __slots__ = ("_depth", "_sealed")

    def __init__(self) -> None:
        super().__init__()
        self._depth = 0
        self._sealed = False


_FILLABLE = (PickledList, PickledDict, TorchObject)


def _opcodes(data: bytes) -> Iterator[tuple[str, Any]]:
    try:
        for opcode, arg, _ in pickletools.genops(io.BytesIO(data)):
            yield opcode.name, arg
    except PickleBroken:
        raise
    except Exception as exc:  # ValueError and friends on bytes that are no pickle
        detail = str(exc) or exc.__class__.__name__
        raise PickleBroken(f"not a readable pickle ({exc.__class__.__name__}: {detail[:200]})") from None


class _Machine:
    """The pickle virtual machine, for the opcodes TorchScript writes (protocol 2, plus the
    protocol 4 framing and short forms Python's pickler uses for the same values).

    ``depths`` runs beside ``stack`` and ``memo_depths`` beside ``memo``: the nesting depth of
    each value (0 for scalars). A list, dict or object records its own depth in ``_depth`` while
    it is filled; once it is put inside another value it is sealed and may not grow."""

    def __init__(self) -> None:
        self.stack: list[object] = []
        self.depths: list[int] = []
        self.marks: list[int] = []
        self.memo: dict[int, object] = {}
        self.memo_depths: dict[int, int] = {}

    # --- stack helpers -------------------------------------------------------------------
    def push(self, value: object, depth: int = 0) -> None:
        if depth > MAX_DEPTH:
            raise PickleBroken(f"values nested more than {MAX_DEPTH} deep")
        self.stack.append(value)
        self.depths.append(depth)

    def _fence(self) -> int:
        return self.marks[-1] if self.marks else 0

    def pop(self) -> tuple[object, int]:
        if len(self.stack) <= self._fence():
            raise PickleBroken("stack underflow")
        return self.stack.pop(), self.depths.pop()

    def top(self) -> tuple[object, int]:
        if len(self.stack) <= self._fence():
            raise PickleBroken("stack underflow")
        return self.stack[-1], self.depths[-1]

    def _take(self, start: int) -> tuple[list[object], int]:
        items = self.stack[start:]
        depth = max(self.depths[start:], default=0)
        del self.stack[start:]
        del self.depths[start:]
        return items, depth

    def pop_mark(self) -> tuple[list[object], int]:
        """The items since the last MARK and their greatest depth."""
        if not self.marks:
            raise PickleBroken("no MARK before a multi-item opcode")
        return self._take(self.marks.pop())

    def pop_n(self, n: int) -> tuple[list[object], int]:
        if len(self.stack) - self._fence() < n:
            raise PickleBroken("stack underflow")
        return self._take(len(self.stack) - n)

    def new_container(self, value: PickledList | PickledDict | TorchObject, depth: int) -> None:
        value._depth = depth
        self.push(value, depth)

    @staticmethod
    def seal(items: list[object]) -> None:
        """``items`` are being put inside another value: they may no longer grow."""
        for item in items:
            if isinstance(item, _FILLABLE):
                item._sealed = True

    def fill(
        self, target: PickledList | PickledDict | TorchObject, item_depth: int, items: list[object]
    ) -> None:
        """Checks that ``target`` may still grow, records its new depth, seals ``items``."""
        if target._sealed:
            raise PickleBroken(
                "a container changed after it was put inside another value (torch never writes that)"
            )
        depth = max(target._depth, item_depth + 1 if items else 0)
        if depth > MAX_DEPTH:
            raise PickleBroken(f"values nested more than {MAX_DEPTH} deep")
        target._depth = depth
        self.depths[-1] = depth
        self.seal(items)

    @staticmethod
    def depth_of(value: object, recorded: int) -> int:
        return value._depth if isinstance(value, _FILLABLE) else recorded

    # --- the machine ---------------------------------------------------------------------
    def run(self, data: bytes) -> object:
        for count, (name, arg) in enumerate(_opcodes(data)):
            if count >= MAX_PICKLE_OPS:
                # Counted as they come: at most this many values exist when the load stops.
                raise PickleBroken(f"more than {MAX_PICKLE_OPS} opcodes: too large to unpickle")
            if name == "STOP":
                value, _ = self.pop()
                return value
            handler = _HANDLERS.get(name)
            if handler is None:
                raise PickleBroken(f"opcode {name}, which TorchScript pickles do not use")
            handler(self, arg)
        raise PickleBroken("no STOP opcode (truncated)")

    def get(self, index: int) -> None:
        if index not in self.memo:
            raise PickleBroken(f"memo index {index} read before it was written")
        value = self.memo[index]
        self.push(value, self.depth_of(value, self.memo_depths[index]))

    def put(self, index: int | None) -> None:
        value, depth = self.top()
        if index is None:  # MEMOIZE
            index = len(self.memo)
        if index < 0:
            raise PickleBroken("negative memo index")
        self.memo[index] = value
        self.memo_depths[index] = depth


def _op_scalar(machine: _Machine, arg: object) -> None:
    machine.push(arg)


def _op_tuple(machine: _Machine, arg: object, n: int | None = None) -> None:
    items, depth = machine.pop_mark() if n is None else machine.pop_n(n)
    machine.seal(items)
    machine.push(tuple(items), depth + 1 if items else 0)


def _op_list(machine: _Machine, _arg: object) -> None:
    items, depth = machine.pop_mark()
    machine.seal(items)
    machine.new_container(PickledList(items), depth + 1 if items else 0)


def _op_dict(machine: _Machine, _arg: object) -> None:
    items, depth = machine.pop_mark()
    if len(items) % 2:
        raise PickleBroken("DICT with an odd number of items")
    result = PickledDict()
    for key, value in zip(items[::2], items[1::2], strict=True):
        _check_key(key)
        result[key] = value
    machine.seal(items)
    machine.new_container(result, depth + 1 if items else 0)


def _appends(machine: _Machine, items: list[object], depth: int) -> None:
    target, _ = machine.top()
    if not isinstance(target, PickledList):
        raise PickleBroken(f"APPEND to a {type(target).__name__}, not a list")
    machine.fill(target, depth, items)
    target.extend(items)


def _setitems(machine: _Machine, items: list[object], depth: int) -> None:
    target, _ = machine.top()
    if not isinstance(target, PickledDict):
        raise PickleBroken(f"SETITEM on a {type(target).__name__}, not a dict")
    if len(items) % 2:
        raise PickleBroken("SETITEMS with an odd number of items")
    for key in items[::2]:
        _check_key(key)
    machine.fill(target, depth, items)
    for key, value in zip(items[::2], items[1::2], strict=True):
        target[key] = value


def _op_append(machine: _Machine, _arg: object) -> None:
    item, depth = machine.pop()
    _appends(machine, [item], depth)


def _op_appends(machine: _Machine, _arg: object) -> None:
    items, depth = machine.pop_mark()
    _appends(machine, items, depth)


def _op_setitem(machine: _Machine, _arg: object) -> None:
    items, depth = machine.pop_n(2)
    _setitems(machine, items, depth)


def _op_setitems(machine: _Machine, _arg: object) -> None:
    items, depth = machine.pop_mark()
    _setitems(machine, items, depth)


def _op_mark(machine: _Machine, _arg: object) -> None:
    if len(machine.marks) >= MAX_DEPTH:
        raise PickleBroken(f"values nested more than {MAX_DEPTH} deep")
    machine.marks.append(len(machine.stack))


def _op_pop(machine: _Machine, _arg: object) -> None:
    machine.pop()


def _op_pop_mark(machine: _Machine, _arg: object) -> None:
    machine.pop_mark()


def _op_dup(machine: _Machine, _arg: object) -> None:
    value, depth = machine.top()
    machine.push(value, depth)


def _op_global(machine: _Machine, arg: object) -> None:
    module, _, name = str(arg).partition(" ")
    machine.push(_find_class(module, name))


def _op_stack_global(machine: _Machine, _arg: object) -> None:
    (module, name), _ = machine.pop_n(2)
    if not (isinstance(module, str) and isinstance(name, str)):
        raise PickleBroken("STACK_GLOBAL on values that are not strings")
    machine.push(_find_class(module, name))


def _op_reduce(machine: _Machine, _arg: object) -> None:
    (func, args), depth = machine.pop_n(2)
    if not isinstance(func, _StandIn):
        raise PickleBroken(f"REDUCE calls a {type(func).__name__}, not an allowed global")
    if not isinstance(args, tuple):
        raise PickleBroken("REDUCE arguments are not a tuple")
    value = func.call(args)
    if isinstance(value, _FILLABLE) and not value._sealed:
        machine.new_container(value, depth if len(args) else 0)  # a new dict or object
    else:
        machine.push(value, machine.depth_of(value, depth))


def _op_newobj(machine: _Machine, _arg: object) -> None:
    (cls, args), _ = machine.pop_n(2)
    if not isinstance(cls, _StandIn) or not isinstance(args, tuple):
        raise PickleBroken("NEWOBJ on a value that is not an allowed class")
    machine.new_container(cls.new(), 0)


def _op_build(machine: _Machine, _arg: object) -> None:
    state, depth = machine.pop()
    target, _ = machine.top()
    if isinstance(target, Placeholder):
        machine.seal([state])
        return  # a tensor's extra state (hooks, requires_grad): not needed to list operators
    if not isinstance(target, TorchObject):
        raise PickleBroken(f"BUILD on a {type(target).__name__}, not a __torch__ object")
    machine.fill(target, depth, [state])
    target.state = state


def _op_persid(machine: _Machine, _arg: object) -> None:
    pid, depth = machine.pop()
    machine.seal([pid])
    machine.push(Placeholder("storage"))


def _op_long(machine: _Machine, arg: object) -> None:
    if not isinstance(arg, int) or not -(1 << 63) <= arg < (1 << 63):
        raise PickleBroken(f"an integer wider than {MAX_INT_BYTES * 8} bits (TorchScript ints are 64-bit)")
    machine.push(arg)


def _op_get(machine: _Machine, arg: object) -> None:
    assert isinstance(arg, int)
    machine.get(arg)


def _op_put(machine: _Machine, arg: object) -> None:
    assert isinstance(arg, int)
    machine.put(arg)


def _op_memoize(machine: _Machine, _arg: object) -> None:
    machine.put(None)


def _op_nothing(machine: _Machine, _arg: object) -> None:
    pass


def _constant(value: object) -> Callable[[_Machine, object], None]:
    def push(machine: _Machine, _arg: object) -> None:
        machine.push(value)

    return push


def _empty(factory: Callable[[], PickledList | PickledDict]) -> Callable[[_Machine, object], None]:
    def push(machine: _Machine, _arg: object) -> None:
        machine.new_container(factory(), 0)

    return push


def _tuple_n(n: int) -> Callable[[_Machine, object], None]:
    def build(machine: _Machine, arg: object) -> None:
        _op_tuple(machine, arg, n)

    return build


_HANDLERS: dict[str, Callable[[_Machine, object], None]] = {
    "PROTO": _op_nothing,
    "FRAME": _op_nothing,
    "MARK": _op_mark,
    "POP": _op_pop,
    "POP_MARK": _op_pop_mark,
    "DUP": _op_dup,
    "NONE": _constant(None),
    "NEWTRUE": _constant(True),
    "NEWFALSE": _constant(False),
    "BININT": _op_scalar,
    "BININT1": _op_scalar,
    "BININT2": _op_scalar,
    "LONG1": _op_long,
    "BINFLOAT": _op_scalar,
    "BINUNICODE": _op_scalar,
    "SHORT_BINUNICODE": _op_scalar,
    "BINUNICODE8": _op_scalar,
    "BINSTRING": _op_scalar,
    "SHORT_BINSTRING": _op_scalar,
    "BINBYTES": _op_scalar,
    "SHORT_BINBYTES": _op_scalar,
    "EMPTY_TUPLE": _constant(()),
    "TUPLE": _op_tuple,
    "TUPLE1": _tuple_n(1),
    "TUPLE2": _tuple_n(2),
    "TUPLE3": _tuple_n(3),
    "EMPTY_LIST": _empty(PickledList),
    "LIST": _op_list,
    "APPEND": _op_append,
    "APPENDS": _op_appends,
    "EMPTY_DICT": _empty(PickledDict),
    "DICT": _op_dict,
    "SETITEM": _op_setitem,
    "SETITEMS": _op_setitems,
    "BINGET": _op_get,
    "LONG_BINGET": _op_get,
    "BINPUT": _op_put,
    "LONG_BINPUT": _op_put,
    "MEMOIZE": _op_memoize,
    "GLOBAL": _op_global,
    "STACK_GLOBAL": _op_stack_global,
    "REDUCE": _op_reduce,
    "NEWOBJ": _op_newobj,
    "BUILD": _op_build,
    "BINPERSID": _op_persid,
}
"""Everything else (sets, ``INST``/``OBJ``, extension codes, out-of-band buffers, the text
protocol 0 forms) is refused: TorchScript never writes it."""


def load_restricted(data: bytes) -> object:
    """The pickled value, rebuilt without importing or calling anything outside
    :data:`ALLOWED_GLOBALS` and the ``__torch__`` classes. Raises :class:`PickleRejected` or
    :class:`PickleBroken`."""
    try:
        return _Machine().run(data)
    except ModelError:
        raise
    except MemoryError:
        raise PickleBroken("too large to unpickle") from None
    except RecursionError:
        raise PickleBroken("nested too deeply") from None
    # A stand-in given the wrong arguments raises TypeError; nothing of the pickle's choosing
    # is ever called, so no other exception can carry its code.
    except Exception as exc:
        detail = str(exc) or exc.__class__.__name__
        raise PickleBroken(f"not a readable pickle ({exc.__class__.__name__}: {detail[:200]})") from None
