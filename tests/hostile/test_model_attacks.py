"""Hostile models: pickles that crash, exhaust or execute in ``pickle.load``, and sources that
exhaust ``ast.parse``. Each one is ``model-unreadable`` (or read within bounds), never a crash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.hostile import payloads
from tests.hostile.bounded import assert_held, run_bounded


def _unreadable_reason(stdout: str, path: str) -> str:
    report = json.loads(stdout)
    (model,) = [m for m in report["models"] if m["path"] == path]
    assert model["error"], model
    rules = {(f["rule"], f["path"]) for f in report["findings"]}
    assert ("model-unreadable", path) in rules
    return str(model["error"])


def test_tiny_apk_whose_model_key_is_nested_a_million_deep_is_unreadable_not_a_crash(tmp_path: Path) -> None:
    # The red team's 785-byte APK: hashing the key killed the process with SIGSEGV.
    package = payloads.write(
        tmp_path / "deep.apk",
        payloads.apk(
            {"assets/model.ptl": payloads.lite_model_with("/bytecode.pkl", payloads.deep_key_pickle())}
        ),
    )
    assert package.stat().st_size < 4096
    outcome = assert_held(run_bounded("apk", str(package), "--format", "json"), exits=(1,))
    assert "nested more than" in _unreadable_reason(outcome.stdout, "assets/model.ptl")


@pytest.mark.parametrize(
    ("member", "pickle", "reason"),
    [
        ("/bytecode.pkl", payloads.huge_memo_pickle(), "bytecode.pkl"),
        ("/bytecode.pkl", payloads.deep_list_pickle(), "nested more than"),
        ("/bytecode.pkl", payloads.huge_int_pickle(), "wider than 64 bits"),
        ("/constants.pkl", payloads.deep_key_pickle(200), "dict key of type tuple"),
        ("/data.pkl", payloads.global_call("builtins", "eval", "1"), "refuses to import builtins.eval"),
    ],
    ids=["memo-0x40000000", "lists-1e6-deep", "int-2040-bits", "tuple-key", "eval-in-data.pkl"],
)
def test_hostile_pickles_in_a_lite_model_are_unreadable_within_bounds(
    tmp_path: Path, member: str, pickle: bytes, reason: str
) -> None:
    model = payloads.write(tmp_path / "evil.ptl", payloads.lite_model_with(member, pickle))
    outcome = assert_held(run_bounded("model", str(model), "--format", "json"), exits=(1,))
    assert reason in _unreadable_reason(outcome.stdout, str(model))


def test_a_pickle_at_the_opcode_budget_builds_at_most_its_bound(tmp_path: Path) -> None:
    # The worst a bytecode.pkl can do inside the bounds: 4 million empty dicts (~400 MiB).
    import symaudit.torchmodel.unpickle as unpickle

    pickle = payloads.PROTO2 + b"}" * (unpickle.MAX_PICKLE_OPS - 2) + b"."
    model = payloads.write(tmp_path / "wide.ptl", payloads.lite_model_with("/bytecode.pkl", pickle))
    outcome = assert_held(run_bounded("model", str(model), "--format", "json"), exits=(1,))
    assert "not a tuple" in _unreadable_reason(outcome.stdout, str(model))
    assert outcome.peak_bytes < 512 << 20, outcome.describe()


def test_script_model_whose_data_pkl_calls_os_system_is_unreadable_and_nothing_runs(tmp_path: Path) -> None:
    # A full TorchScript model has no bytecode.pkl: its data.pkl was never unpickled at all.
    marker = tmp_path / "pwned"
    model = payloads.write(
        tmp_path / "evil.pt",
        payloads.script_model_with("/data.pkl", payloads.global_call("os", "system", f"touch {marker}")),
    )
    outcome = assert_held(run_bounded("model", str(model), "--format", "json"), exits=(1,))
    assert "refuses to import os.system" in _unreadable_reason(outcome.stdout, str(model))
    assert not marker.exists()


def test_150_model_assets_of_16_mib_are_read_one_at_a_time(tmp_path: Path) -> None:
    # 2.5 GB when every asset was held at once; one at a time it is one model's 16 MiB.
    package = payloads.write(tmp_path / "assets.apk", payloads.many_model_assets_apk())
    outcome = assert_held(run_bounded("apk", str(package), "--format", "json"))
    report = json.loads(outcome.stdout)
    assert len(report["models"]) == 150
    assert all(model["error"] is None and model["operators"] for model in report["models"])
    assert outcome.peak_bytes < 256 << 20, outcome.describe()


def test_64_mb_of_model_sources_is_scanned_within_bounds(tmp_path: Path) -> None:
    # ast.parse of all of it took 10 GB and 79 s; past the parse budget the sources are scanned.
    model = payloads.write(tmp_path / "code.pt", payloads.code_bomb_model())
    assert model.stat().st_size < 16 << 20
    outcome = assert_held(run_bounded("model", str(model), "--format", "json"), exits=(0,))
    (entry,) = json.loads(outcome.stdout)["models"]
    assert {"aten::add", "aten::mul"} <= set(entry["operator_names"])
    assert outcome.seconds < 30, outcome.describe()


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (payloads.flatbuffer_model(3000, 3000), "fields to read"),
        (payloads.flatbuffer_model(1, 1, count=1 << 30), "past the end"),
        (payloads.flatbuffer_model(1, 1)[:60], "past the end"),
    ],
    ids=["shared-children-9e6-operators", "vector-count-2^30", "truncated"],
)
def test_hostile_flatbuffer_models_are_unreadable_within_bounds(tmp_path: Path, payload: bytes, reason: str) -> None:
    assert len(payload) < 64 << 10
    model = payloads.write(tmp_path / "evil.ptl", payload)
    outcome = assert_held(run_bounded("model", str(model), "--format", "json"), exits=(1,))
    assert reason in _unreadable_reason(outcome.stdout, str(model))


def test_a_hand_written_flatbuffer_model_is_read() -> None:
    from symaudit.torchmodel.reader import read_model

    model = read_model(payloads.flatbuffer_model(3, 2))
    assert model.bytecode_version == 9 and [op.qualified for op in model.operators] == ["aten::add"]
