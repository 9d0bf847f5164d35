"""Malicious pickles: rejected before anything they name is imported or called."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from symaudit.torchmodel.model import ModelError
from symaudit.torchmodel.reader import read_model
from symaudit.torchmodel.unpickle import PickleBroken, PickleRejected, load_restricted
from tests.symaudit_cli import run
from tests.torchmodel.helpers import MODELS, replaced


def _global_call(module: str, name: str, argument: str) -> bytes:
    # PROTO 2, GLOBAL module name, (argument,), REDUCE, STOP: what pickle.dumps of a __reduce__ makes.
    arg = pickle.dumps(argument, protocol=2)[2:-1]
    return b"\x80\x02c" + f"{module}\n{name}\n".encode() + arg + b"\x85R."


@pytest.mark.parametrize(
    ("module", "name"), [("os", "system"), ("builtins", "eval"), ("posix", "system"), ("subprocess", "call")]
)
def test_pickle_naming_a_dangerous_global_is_rejected_and_never_called(
    tmp_path: Path, module: str, name: str
) -> None:
    marker = tmp_path / "pwned"
    argument = f"open({str(marker)!r}, 'w')" if name == "eval" else f"touch {marker}"
    with pytest.raises(PickleRejected, match=f"{module}.{name}"):
        load_restricted(_global_call(module, name, argument))
    assert not marker.exists()


def test_stack_global_and_reduce_of_an_allowed_name_only_reach_stand_ins() -> None:
    payload = pickle.dumps(
        __import__("collections").OrderedDict([("a", 1)]), protocol=4
    )  # STACK_GLOBAL collections OrderedDict + REDUCE
    assert load_restricted(payload) == {"a": 1}


def test_reduce_without_a_global_is_a_broken_pickle() -> None:
    with pytest.raises(PickleBroken):
        load_restricted(b"\x80\x02X\x01\x00\x00\x00a)R.")  # REDUCE on a str


def test_malicious_bytecode_makes_the_model_unreadable_with_the_reason(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = replaced(
        (MODELS / "plain.ptl").read_bytes(), "/bytecode.pkl", _global_call("os", "system", f"touch {marker}")
    )
    with pytest.raises(ModelError, match="refuses to import os.system"):
        read_model(evil)
    path = tmp_path / "evil.ptl"
    path.write_bytes(evil)
    result = run("model", str(path))
    assert result.returncode == 1, result.stderr
    assert "model-unreadable" in result.stdout and "os.system" in result.stdout
    assert not marker.exists()


def test_build_cannot_change_an_allowed_stand_in_for_later_loads() -> None:
    # GLOBAL torch.FloatStorage, {"__doc__": "pwn"}, BUILD: pickle would update the stand-in's
    # __dict__ (a module-level function shared by every later load).
    state = b"}X\x07\x00\x00\x00__doc__X\x03\x00\x00\x00pwns"
    with pytest.raises(PickleBroken):
        load_restricted(b"\x80\x02ctorch\nFloatStorage\n" + state + b"b.")
    # slot state: setattr(stand_in, "__kwdefaults__", {"_n": "pwnd"}) would relabel every storage
    slots = b"N}X\x0e\x00\x00\x00__kwdefaults__}X\x02\x00\x00\x00_nX\x04\x00\x00\x00pwndss\x86"
    with pytest.raises(PickleBroken):
        load_restricted(b"\x80\x02ctorch\nFloatStorage\n" + slots + b"b.")
    value = load_restricted(b"\x80\x02ctorch\nFloatStorage\n)R.")
    assert repr(value) == "<FloatStorage>"


def test_a_pickle_of_millions_of_tiny_objects_is_refused_before_it_is_built() -> None:
    # 64 MB of EMPTY_LIST compresses to ~60 KB in a .ptl, and would cost ~5 GB as list objects.
    import symaudit.torchmodel.unpickle as unpickle

    payload = b"\x80\x02" + b"]" * (unpickle.MAX_PICKLE_OPS + 1) + b"."
    with pytest.raises(PickleBroken, match="opcodes"):
        load_restricted(payload)


@pytest.mark.parametrize(
    "payload",
    [
        b"\x80\x04\x8e" + (2**62).to_bytes(8, "little") + b"x.",  # BYTEARRAY8 of 4 EiB
        b"\x80\x04\x8d" + (2**33).to_bytes(8, "little") + b"x.",  # BINUNICODE8 of 8 GiB
        b"\x80\x05\x97.",  # NEXT_BUFFER without out-of-band buffers
        b"\x80\x02Q.",  # BINPERSID on an empty stack
        b"\x80\x02(\x85.",  # MARK then TUPLE1
        b"",
    ],
)
def test_huge_lengths_and_bad_stacks_are_clear_errors(payload: bytes) -> None:
    with pytest.raises(PickleBroken):
        load_restricted(payload)


def test_scripted_module_objects_and_tensors_of_a_real_data_pkl_are_rebuilt() -> None:
    import zipfile

    from symaudit.torchmodel.unpickle import TorchObject

    with zipfile.ZipFile(MODELS / "plain.pt") as model:
        value = load_restricted(model.read("plain/data.pkl"))
    assert isinstance(value, TorchObject) and value.qualified_name == "__torch__.Plain"


def test_a_container_changed_after_it_was_nested_is_refused() -> None:
    # L = []; memo[0] = L; (L,); then L.append(None): the tuple's recorded depth would be wrong.
    with pytest.raises(PickleBroken, match="changed after"):
        load_restricted(b"\x80\x02]q\x00\x85h\x00Na.")


def test_a_memo_index_costs_one_entry_whatever_its_value() -> None:
    assert load_restricted(b"\x80\x02Nr\xff\xff\xff\x7fj\xff\xff\xff\x7f.") is None


@pytest.mark.parametrize("key", [b"N\x85", b")", b"]"], ids=["tuple", "empty-tuple", "list"])
def test_dict_keys_other_than_torchscript_key_types_are_refused(key: bytes) -> None:
    with pytest.raises(PickleBroken, match="dict key"):
        load_restricted(b"\x80\x02}" + key + b"Ns.")


def test_nesting_is_bounded_at_max_depth() -> None:
    import symaudit.torchmodel.unpickle as unpickle

    def nested(depth: int) -> bytes:
        return b"\x80\x02N" + b"\x85" * depth + b"."

    value = load_restricted(nested(unpickle.MAX_DEPTH))
    for _ in range(unpickle.MAX_DEPTH):
        assert isinstance(value, tuple)
        (value,) = value
    assert value is None
    with pytest.raises(PickleBroken, match="nested more than"):
        load_restricted(nested(unpickle.MAX_DEPTH + 1))
