"""Property-based variations of the hostile inputs: random pickles built from the opcodes an
attacker would combine (in-process: the unpickler must return or refuse, nothing else), and
random sizes of the ELF and model attacks (in a bounded subprocess, a few examples each)."""

from __future__ import annotations

import struct
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symaudit.torchmodel.model import ModelError
from symaudit.torchmodel.unpickle import load_restricted
from tests.hostile import elves, payloads
from tests.hostile.bounded import assert_held, run_bounded

_GLOBALS = [
    b"cos\nsystem\n",
    b"cbuiltins\neval\n",
    b"ccollections\nOrderedDict\n",
    b"ctorch._utils\n_rebuild_tensor_v2\n",
    b"c__torch__\nM\n",
    b"ctorch.jit._pickle\nbuild_intlist\n",
]
_OPS = st.one_of(
    st.sampled_from(
        [
            b"(",
            b"N",
            b"\x88",
            b"\x89",
            b")",
            b"]",
            b"}",
            b"t",
            b"\x85",
            b"\x86",
            b"\x87",
            b"l",
            b"d",
            b"a",
            b"e",
            b"s",
            b"u",
            b"R",
            b"\x81",
            b"b",
            b"Q",
            b"0",
            b"1",
            b"2",
            b"\x94",
            b"\x8f",
            b"\x90",
        ]
    ),
    st.sampled_from(_GLOBALS),
    st.integers(0, 255).map(lambda n: b"K" + bytes([n])),
    st.integers(0, 0xFFFFFFFF).map(lambda n: b"r" + struct.pack("<I", n)),  # LONG_BINPUT
    st.integers(0, 0xFFFFFFFF).map(lambda n: b"j" + struct.pack("<I", n)),  # LONG_BINGET
    st.integers(0, 255).map(lambda n: b"q" + bytes([n])),  # BINPUT
    st.integers(0, 255).map(lambda n: b"h" + bytes([n])),  # BINGET
    st.text(max_size=8).map(lambda s: b"X" + struct.pack("<I", len(s.encode())) + s.encode()),
    st.tuples(st.sampled_from([b"\x85", b"]", b"(", b"\x8f"]), st.integers(1, 3000)).map(
        lambda t: t[0] * t[1]
    ),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_OPS, max_size=60))
def test_any_pickle_of_hostile_opcodes_is_loaded_or_refused(ops: list[bytes]) -> None:
    try:
        load_restricted(b"\x80\x02" + b"".join(ops) + b".")
    except ModelError:
        pass


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    kind=st.sampled_from(["names", "needed", "verneed", "notes"]),
    count=st.integers(1, 70_000),
    size=st.integers(1, 1 << 20),
)
def test_elf_tables_of_any_size_stay_bounded(tmp_path: Path, kind: str, count: int, size: int) -> None:
    if kind == "names":
        library = elves.shared_long_name(min(count, 4000), size, distinct=count % 2 == 0)
    elif kind == "needed":
        library = elves.many_needed(count, min(size, 20_000))
    elif kind == "verneed":
        library = elves.verneed_square(min(count, 65_535), max(1, min(size, 65_535)))
    else:
        library = elves.overlapping_notes(min(count, 200), max(12, min(size, 1 << 20)))
    package = payloads.write(
        tmp_path / f"{kind}.apk", payloads.apk(payloads.with_library({"lib/arm64-v8a/libx.so": library}))
    )
    assert_held(run_bounded("apk", str(package), "--format", "json"))


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(depth=st.integers(200, 2_000_000), kind=st.sampled_from(["key", "list"]))
def test_model_pickles_nested_to_any_depth_stay_bounded(tmp_path: Path, depth: int, kind: str) -> None:
    pickle = payloads.deep_key_pickle(depth) if kind == "key" else payloads.deep_list_pickle(depth)
    package = payloads.write(
        tmp_path / "deep.apk",
        payloads.apk({"assets/m.ptl": payloads.lite_model_with("/bytecode.pkl", pickle)}),
    )
    assert_held(run_bounded("apk", str(package)), exits=(1,))
