from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from symaudit.torchmodel.model import ModelError, ModelKind, Operator, OperatorSource
from symaudit.torchmodel.reader import code_operators, is_model_bytes, read_model
from tests.torchmodel.helpers import MODELS, SDPA, replaced


def test_lite_model_lists_bytecode_operators_with_overloads() -> None:
    model = read_model((MODELS / "plain.ptl").read_bytes())
    assert model.kind is ModelKind.LITE
    assert model.operator_source is OperatorSource.BYTECODE
    assert model.bytecode_version == 8
    assert model.file_format_version == 3
    assert {op.qualified for op in model.operators} == {"aten::add.Scalar", "aten::linear", "aten::relu"}


def test_backported_lite_model_reports_its_older_bytecode_version() -> None:
    assert read_model((MODELS / "plain_v5.ptl").read_bytes()).bytecode_version == 5


def test_full_torchscript_model_operators_come_from_code() -> None:
    model = read_model((MODELS / "sdpa.pt").read_bytes())
    assert model.kind is ModelKind.TORCHSCRIPT and model.bytecode_version is None
    assert Operator(SDPA) in model.operators and Operator("aten::linear") in model.operators


def test_code_scan_maps_torch_and_ops_namespaces() -> None:
    source = "def f(x):\n  a = torch.relu(x)\n  b = ops.prim.NumToTensor(1)\n  return torch.ops.quantized.add(a, b)\n"
    names = {op.name for op in code_operators([source])}
    assert names == {"aten::relu", "prim::NumToTensor", "quantized::add"}


def test_code_that_is_not_python_falls_back_to_a_scan() -> None:
    names = {op.name for op in code_operators(["def (:\n torch.scaled_dot_product_attention(q, k, v)"])}
    assert names == {SDPA}


def test_truncated_model_is_unreadable() -> None:
    data = (MODELS / "sdpa.ptl").read_bytes()
    with pytest.raises(ModelError, match="corrupt or truncated zip"):
        read_model(data[: len(data) // 2])


def test_model_without_version_record_is_unreadable() -> None:
    data = replaced((MODELS / "plain.ptl").read_bytes(), "/version", b"three\n")
    with pytest.raises(ModelError, match="not a version number"):
        read_model(data)


def test_asset_sniffing_tells_models_from_other_zips() -> None:
    from tests.torchmodel.helpers import archive

    assert is_model_bytes((MODELS / "sdpa.pt").read_bytes())
    assert not is_model_bytes(archive({"words.txt": b"a b c"}))
    assert not is_model_bytes(b"plain text")


def test_a_local_header_offset_past_seek_range_is_a_model_error() -> None:
    # Found by the mutation test below: one byte of plain.ptl's central directory makes a zip64
    # local header offset that zipfile cannot seek to (OverflowError, not an OSError).
    blob = bytearray((MODELS / "plain.ptl").read_bytes())
    blob[4318] = 129
    with pytest.raises(ModelError, match="offset outside the file"):
        read_model(bytes(blob))


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_mutated_models_raise_only_model_errors(data: st.DataObject) -> None:
    blob = bytearray((MODELS / "plain.ptl").read_bytes())
    for _ in range(data.draw(st.integers(1, 8))):
        position = data.draw(st.integers(0, len(blob) - 1))
        blob[position] = data.draw(st.integers(0, 255))
    try:
        read_model(bytes(blob))
    except ModelError:
        pass
