"""The commands users run, end to end on the committed fixture packages, in a real subprocess."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.symaudit_cli import run, run_json

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ROOT / "fixtures" / "packages"
ABIS = ["arm64-v8a", "armeabi-v7a", "x86", "x86_64"]
TORCH_LOAD_OLD = (
    "_ZN5torch3jit4loadERKNSt6__ndk112basic_stringIcNS1_11char_traitsIcEENS1_9allocatorIcEEEE"
    "N3c108optionalINSA_6DeviceEEE"
)



def problems(report: dict) -> list[dict]:
    """Findings other than infos (``ndk-not-found`` is an info on every machine without an NDK)."""
    return [f for f in report["findings"] if f["severity"] != "info"]


def rules_of(report: dict) -> list[tuple[str, str, str, str | None]]:
    return sorted((f["rule"], f["abi"], f["library"], f["symbol"] or f["needed"]) for f in problems(report))


def test_wenet_built_against_old_headers_exits_1_naming_torch_jit_load() -> None:
    result = run("apk", str(PACKAGES / "wenet-new-runtime.apk"))
    assert result.returncode == 1, result.stderr
    out = result.stdout
    assert "torch::jit::load(std::string const&, c10::optional<c10::Device>)" in out
    assert "libwenet.so" in out and "arm64-v8a" in out
    assert "libwenet.so -> libpytorch_jni.so" in out  # the libraries searched, in lookup order
    assert out.rstrip().splitlines()[-1].startswith("FAIL:")
    _, report = run_json("apk", str(PACKAGES / "wenet-new-runtime.apk"))
    assert rules_of(report) == [("unresolved-symbol", abi, "libwenet.so", TORCH_LOAD_OLD) for abi in ABIS]
    finding = problems(report)[0]
    assert finding["demangled"].startswith("torch::jit::load(std::__ndk1::basic_string<char")
    assert finding["searched"][:2] == ["libwenet.so", "libpytorch_jni.so"]
    assert "libpytorch_jni.so" in finding["searched"] and "libc++_shared.so" in finding["searched"]


@pytest.mark.parametrize("name", ["clean.apk", "clean-old.apk", "clean.aab", "clean.apks", "compressed.apk"])
def test_coherent_packages_exit_0_with_every_library_parsed(name: str) -> None:
    result = run("apk", str(PACKAGES / name))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.rstrip().splitlines()[-1].startswith("OK:")
    code, report = run_json("apk", str(PACKAGES / name))
    assert code == 0 and problems(report) == []
    assert sorted({lib["abi"] for lib in report["libraries"]}) == ABIS
    assert all(lib["error"] is None and len(lib["sha256"]) == 64 for lib in report["libraries"])


def test_missing_fbjni_reports_missing_library_and_no_symbol_noise() -> None:
    code, report = run_json("apk", str(PACKAGES / "missing-fbjni.apk"))
    assert code == 1
    assert {f["rule"] for f in problems(report)} == {"missing-library"}
    assert {f["needed"] for f in problems(report)} == {"libfbjni.so"}
    assert {f["abi"] for f in problems(report)} == set(ABIS)
    assert all('library "libfbjni.so" not found' in f["message"] for f in problems(report))


def test_32_bit_library_in_arm64_folder_is_wrong_arch() -> None:
    code, report = run_json("apk", str(PACKAGES / "wrong-arch.apk"))
    assert code == 1
    wrong = [f for f in report["findings"] if f["rule"] == "wrong-arch"]
    assert [(f["abi"], f["library"]) for f in wrong] == [("arm64-v8a", "libfbjni.so")]
    assert "is 32-bit instead of 64-bit" in wrong[0]["message"]
    # libraries that need the refused one fail with it, and get no symbol findings
    assert "libwenet.so" in wrong[0]["affected"]
    assert not [f for f in report["findings"] if f["rule"] == "unresolved-symbol" and f["abi"] == "arm64-v8a"]


def test_one_abi_missing_a_library_is_a_warning_for_that_abi() -> None:
    result = run("apk", str(PACKAGES / "abi-incomplete.apk"))
    assert result.returncode == 0, result.stdout  # a warning does not fail by default
    code, report = run_json("apk", str(PACKAGES / "abi-incomplete.apk"))
    assert rules_of(report) == [("abi-incomplete", "x86", "libwenet.so", None)]
    assert run("apk", str(PACKAGES / "abi-incomplete.apk"), "--fail-on", "warning").returncode == 1


def test_truncated_library_is_a_finding_and_the_rest_is_audited() -> None:
    code, report = run_json("apk", str(PACKAGES / "truncated-so.apk"))
    assert code == 1
    corrupt = [f for f in report["findings"] if f["rule"] == "corrupt-library"]
    assert [(f["abi"], f["library"]) for f in corrupt] == [("arm64-v8a", "libfbjni.so")]
    assert "libwenet.so" in corrupt[0]["affected"]
    broken = [lib for lib in report["libraries"] if lib["error"]]
    assert [(lib["abi"], lib["name"]) for lib in broken] == [("arm64-v8a", "libfbjni.so")]
    # the other ABIs were still audited and are clean
    assert {f["abi"] for f in problems(report)} == {"arm64-v8a"}
    assert len([lib for lib in report["libraries"] if lib["error"] is None]) == 15


def test_old_libcxx_kept_by_pickfirst_leaves_verbose_abort_unresolved() -> None:
    code, report = run_json("apk", str(PACKAGES / "cxx-drift.apk"))
    assert code == 1
    symbols = {f["symbol"] for f in report["findings"] if f["rule"] == "unresolved-symbol"}
    assert "_ZNSt6__ndk122__libcpp_verbose_abortEPKcz" in symbols


def test_aar_and_folder_and_loose_files() -> None:
    code, report = run_json("aar", str(PACKAGES / "pytorch_android-new.aar"))
    assert code == 0 and report["input"]["kind"] == "aar"
    assert {lib["name"] for lib in report["libraries"]} == {
        "libpytorch_jni.so",
        "libfbjni.so",
        "libc++_shared.so",
    }
    code, report = run_json("libs", str(PACKAGES / "clean-folder"))
    assert code == 0 and report["input"]["kind"] == "folder" and len(report["libraries"]) == 16
    loose = [str(PACKAGES / "clean-folder" / "arm64-v8a" / n) for n in ("libwenet.so", "libfbjni.so")]
    code, report = run_json("libs", *loose)
    assert code == 1  # libpytorch_jni.so and libc++_shared.so are not given
    assert {f["needed"] for f in problems(report)} == {"libpytorch_jni.so", "libc++_shared.so"}
    assert {lib["abi"] for lib in report["libraries"]} == {"arm64-v8a"}  # from the ELF machine


def test_abi_filter_ignore_and_output_file(tmp_path: Path) -> None:
    apk = str(PACKAGES / "wenet-new-runtime.apk")
    code, report = run_json("apk", apk, "--abi", "x86")
    assert {lib["abi"] for lib in report["libraries"]} == {"x86"}
    assert [f["abi"] for f in problems(report)] == ["x86"]
    result = run("apk", apk, "--ignore", "unresolved-symbol:libwenet.so:_ZN5torch*")
    assert result.returncode == 0, result.stdout
    out = tmp_path / "report.json"
    result = run("apk", apk, "--format", "json", "--output", str(out))
    assert result.returncode == 1 and result.stdout == ""
    assert "FAIL:" in result.stderr and str(out) in result.stderr
    assert json.loads(out.read_text())["summary"]["errors"] == 4
    assert run("apk", apk, "--fail-on", "never").returncode == 0


def test_unknown_ignore_rule_is_a_usage_error() -> None:
    result = run("apk", str(PACKAGES / "clean.apk"), "--ignore", "no-such-rule")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "no-such-rule" in result.stderr and "Traceback" not in result.stderr


def test_version() -> None:
    from symaudit import __version__

    result = run("--version")
    assert result.returncode == 0 and __version__ in result.stdout


def test_a_library_an_aar_leaves_to_other_dependencies_is_a_warning() -> None:
    # fbjni's prefab AAR ships libfbjni.so but not the libc++_shared.so it needs.
    code, report = run_json("aar", str(PACKAGES / "fbjni-prefab.aar"))
    missing = [f for f in problems(report) if f["rule"] == "missing-library"]
    assert missing and {f["needed"] for f in missing} == {"libc++_shared.so"}
    assert {f["severity"] for f in missing} == {"warning"}
    assert all("not in this AAR" in f["message"] for f in missing)
    assert code == 0
    assert run("aar", str(PACKAGES / "fbjni-prefab.aar"), "--fail-on", "warning").returncode == 1
