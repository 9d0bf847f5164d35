"""Flatbuffer lite models (bytecode version 9): read without torch, checked like pickled ones.

The fixture was saved by torch (scripts/build_model_fixtures.py --flatbuffer-models), which also
wrote what torch itself reads from it (``sdpa_flatbuffer.torch.json``): the expected values.
"""

from __future__ import annotations

import json
from pathlib import Path

from symaudit.torchmodel.check import Runtime, check_model
from symaudit.torchmodel.reader import is_model_bytes, read_model
from symaudit.torchmodel.runtime import schema_operators
from symaudit.torchmodel.versions import limits_for
from tests.symaudit_cli import run_json
from tests.torchmodel.helpers import MODELS, SDPA, WITH_SDPA, WITHOUT_SDPA

FLATBUFFER = MODELS / "sdpa_flatbuffer.ptl"
TORCH_VIEW = json.loads((MODELS / "sdpa_flatbuffer.torch.json").read_text())


def test_the_reading_is_what_torch_reads() -> None:
    data = FLATBUFFER.read_bytes()
    assert data[4:8] == b"PTMF" and is_model_bytes(data)
    model = read_model(data)
    assert model.kind.value == "lite" and model.operator_source.value == "bytecode"
    assert model.bytecode_version == TORCH_VIEW["bytecode_version"] == 9
    assert sorted(op.qualified for op in model.operators) == TORCH_VIEW["operators"]



def test_model_command_checks_a_flatbuffer_model_and_raises_no_false_error() -> None:
    code, report = run_json("model", str(FLATBUFFER))
    assert code == 0 and report["findings"] == []
    assert report["models"][0]["bytecode_version"] == 9 and report["models"][0]["error"] is None
    code, report = run_json("model", str(FLATBUFFER), "--runtime", str(WITHOUT_SDPA))
    assert code == 1
    assert [(f["rule"], f["symbol"]) for f in report["findings"]] == [("model-operator-missing", SDPA)]
    code, report = run_json("model", str(FLATBUFFER), "--runtime", str(WITH_SDPA))
    assert code == 0 and report["findings"] == []


def test_flatbuffer_bytecode_is_judged_against_the_release() -> None:
    operators = schema_operators(WITH_SDPA.read_bytes())
    model = read_model(FLATBUFFER.read_bytes())
    old = Runtime("arm64-v8a", ("libpytorch_jni_lite.so",), operators, "1.10.0", limits_for("1.10.0"))
    assert [f.rule for f in check_model("m.ptl", model, old)] == ["model-bytecode-too-new"]
    new = Runtime("arm64-v8a", ("libpytorch_jni_lite.so",), operators, "1.12.2", limits_for("1.12.2"))
    assert check_model("m.ptl", model, new) == []


def test_a_truncated_flatbuffer_is_unreadable_with_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "cut.ptl"
    path.write_bytes(FLATBUFFER.read_bytes()[:600])
    code, report = run_json("model", str(path))
    assert code == 1 and [f["rule"] for f in report["findings"]] == ["model-unreadable"]
    assert "flatbuffer" in report["models"][0]["error"]
