"""``symaudit model`` and the model check inside ``symaudit apk``, end to end in a subprocess."""

from __future__ import annotations

from pathlib import Path

import pytest

from symaudit.torchmodel.check import Runtime, check_model
from symaudit.torchmodel.reader import read_model
from symaudit.torchmodel.runtime import schema_operators
from symaudit.torchmodel.versions import limits_for
from tests.symaudit_cli import run, run_json
from tests.torchmodel.helpers import MODELS, ROOT, SDPA, WITH_SDPA, WITHOUT_SDPA, archive, replaced


@pytest.mark.parametrize("model", ["sdpa.ptl", "sdpa.pt"])
def test_sdpa_model_fails_on_a_runtime_without_the_operator(model: str) -> None:
    code, report = run_json("model", str(MODELS / model), "--runtime", str(WITHOUT_SDPA))
    assert code == 1
    missing = [f for f in report["findings"] if f["rule"] == "model-operator-missing"]
    assert [f["symbol"] for f in missing] == [SDPA]
    assert "2.0.0" in missing[0]["hint"]
    (entry,) = report["models"]
    assert entry["runtimes"][0]["libraries"] == ["libpytorch_jni.so"]
    assert "operator presence only" in entry["runtimes"][0]["version_check"]


@pytest.mark.parametrize("model", ["sdpa.ptl", "sdpa.pt"])
def test_sdpa_model_passes_on_a_runtime_that_has_it(model: str) -> None:
    code, report = run_json("model", str(MODELS / model), "--runtime", str(WITH_SDPA))
    assert code == 0 and report["findings"] == []


def test_plain_models_need_nothing_the_smaller_runtime_lacks() -> None:
    for model in ("plain.pt", "plain.ptl", "plain_v5.ptl"):
        assert run("model", str(MODELS / model), "--runtime", str(WITHOUT_SDPA)).returncode == 0


def test_model_alone_reports_its_versions() -> None:
    code, report = run_json("model", str(MODELS / "plain_v5.ptl"))
    assert code == 0
    assert report["models"][0]["bytecode_version"] == 5 and report["models"][0]["kind"] == "lite"


def test_truncated_model_is_a_model_unreadable_finding(tmp_path: Path) -> None:
    path = tmp_path / "cut.ptl"
    data = (MODELS / "sdpa.ptl").read_bytes()
    path.write_bytes(data[: len(data) - 100])
    code, report = run_json("model", str(path))
    assert code == 1
    assert [f["rule"] for f in report["findings"]] == ["model-unreadable"]


def test_missing_model_file_and_runtime_without_registry_are_usage_errors(tmp_path: Path) -> None:
    result = run("model", str(tmp_path / "nope.ptl"))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    notlib = ROOT / "fixtures" / "libs" / "arm64-v8a" / "fbjni" / "libfbjni.so"
    result = run("model", str(MODELS / "plain.ptl"), "--runtime", str(notlib))
    assert result.returncode == 2 and "no libtorch operator registry" in result.stderr


def test_maven_coordinate_runtime_offline_without_a_cached_copy_is_one_line() -> None:
    """The real-AAR cases are in tests/corpus/test_model_runtime_maven.py; here: nothing cached."""
    result = run(
        "model",
        str(MODELS / "plain.ptl"),
        "--runtime",
        "org.pytorch:pytorch_android_lite:1.10.0",
        "--offline",
    )
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith(
        "symaudit: error: org.pytorch:pytorch_android_lite:1.10.0: not in the Gradle"
    )
    result = run(
        "model", str(MODELS / "plain.ptl"), "--runtime", "org.pytorch:pytorch_android_lite", "--offline"
    )
    assert result.returncode == 2 and "needs a version (GROUP:ARTIFACT:VERSION)" in result.stderr


def test_bytecode_newer_than_the_identified_runtime_release() -> None:
    operators = schema_operators(WITH_SDPA.read_bytes())
    runtime = Runtime("arm64-v8a", ("libpytorch_jni_lite.so",), operators, "1.10.0", limits_for("1.10.0"))
    findings = check_model("m.ptl", read_model((MODELS / "plain.ptl").read_bytes()), runtime)
    assert [f.rule for f in findings] == ["model-bytecode-too-new"]
    assert check_model("m.ptl", read_model((MODELS / "plain_v5.ptl").read_bytes()), runtime) == []


def test_file_format_newer_than_the_runtime_reads() -> None:
    model = read_model(replaced((MODELS / "plain.ptl").read_bytes(), "/version", b"11\n"))
    runtime = Runtime(
        "arm64-v8a",
        ("libpytorch_jni.so",),
        schema_operators(WITH_SDPA.read_bytes()),
        "2.1.0",
        limits_for("org.pytorch:pytorch_android:2.1.0"),
    )
    assert [f.rule for f in check_model("m.ptl", model, runtime)] == ["model-format-too-new"]


def test_lite_operators_match_overloads_exactly() -> None:
    runtime = schema_operators(b"\0aten::add.str(str a, str b) ->str\0add.Tensor(Tensor self) -> Tensor\0")
    assert runtime.qualified == {"aten::add.str", "aten::add.Tensor"}
    model = read_model((MODELS / "plain.ptl").read_bytes())  # needs aten::add.Scalar
    findings = check_model("m.ptl", model, Runtime(None, ("x.so",), runtime))
    add = [f for f in findings if f.symbol == "aten::add.Scalar"]
    assert add and "other overloads" in add[0].hint


def test_apk_audits_models_among_its_assets_and_with_model_option(tmp_path: Path) -> None:
    apk = tmp_path / "app.apk"
    apk.write_bytes(
        archive(
            {
                "AndroidManifest.xml": b"",
                "lib/arm64-v8a/libpytorch_jni.so": WITHOUT_SDPA.read_bytes(),
                "assets/final.zip": (MODELS / "sdpa.pt").read_bytes(),
                "assets/words.txt": b"hello",
            }
        )
    )
    _, report = run_json("apk", str(apk), "--model", str(MODELS / "plain.ptl"))
    paths = [m["path"] for m in report["models"]]
    assert paths == [str(MODELS / "plain.ptl"), "assets/final.zip"]
    missing = [f for f in report["findings"] if f["rule"] == "model-operator-missing"]
    assert [(f["library"], f["symbol"], f["abi"]) for f in missing] == [
        ("assets/final.zip", SDPA, "arm64-v8a")
    ]
