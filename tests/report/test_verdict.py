"""The verdict names who crashes and where (every device, below an API level, 16 KB pages), the
human formats group repeated findings, and what was not checked is never called OK."""

from __future__ import annotations

from pathlib import Path

import pytest

from symaudit.findings import Finding, Horizon, Severity
from symaudit.report import github, markdown, text
from symaudit.report.grouping import device_line, groups, horizon_of, verdict
from symaudit.results import AppFacts, InputRecord, LibraryRecord, Report
from symaudit.rules import RULES
from tests.symaudit_cli import run

ROOT = Path(__file__).resolve().parents[2]
WENET = str(ROOT / "fixtures" / "packages" / "wenet-new-runtime.apk")
SDPA = str(ROOT / "fixtures" / "models" / "sdpa.pt")
LOAD = "torch::jit::load(std::string const&, c10::optional<c10::Device>)"


def _records(abis: tuple[str, ...], names: list[str]) -> tuple[LibraryRecord, ...]:
    return tuple(LibraryRecord(abi, name, f"jni/{abi}/{name}", None, 1) for abi in abis for name in names)


def _react_native_like() -> Report:
    """The issue's example: one library needs API 30 (DT_RELR) on three ABIs, 48 are 4 KB aligned."""
    names = [f"lib{i:02d}.so" for i in range(47)] + ["libjscexecutor.so"]
    findings = [
        Finding("relr-before-api-28", Severity.ERROR, abi, "libjscexecutor.so", "uses DT_RELR", "relink",
                extra=(("relr_tag", "DT_RELR"), ("needs_api", 30)))
        for abi in ("arm64-v8a", "x86", "x86_64")
    ]  # fmt: skip
    findings += [
        Finding("load-align-16k", Severity.ERROR, abi, name, "aligned to 0x1000", "rebuild",
                extra=(("alignments", [4096, 4096]), ("min_alignment", 4096)))
        for abi in ("arm64-v8a", "x86_64") for name in names
    ]  # fmt: skip
    abis = ("arm64-v8a", "armeabi-v7a", "x86", "x86_64")
    app = AppFacts(min_sdk=21, min_sdk_source="AndroidManifest.xml")
    return Report(InputRecord("react-native.aar", "aar", None), _records(abis, names), tuple(findings), app=app)


def test_the_verdict_names_each_horizon_apart() -> None:
    assert verdict(_react_native_like()) == (
        "FAIL: libjscexecutor.so cannot load below API 30 (arm64-v8a, x86, x86_64); "
        "48 libraries cannot load on 16 KB-page devices (arm64-v8a, x86_64)"
    )


def test_load_failures_on_every_device_come_first_then_api_levels_then_16k_then_warnings() -> None:
    report = _react_native_like()
    extra = (
        Finding("missing-soname", Severity.WARNING, "x86", "lib00.so", "no DT_SONAME", "link with -soname"),
        Finding("missing-library", Severity.ERROR, "x86", "lib01.so", "m", "h", needed="libjsc.so"),
    )
    report = Report(report.input, report.libraries, (*extra, *report.findings), app=report.app)
    assert [g.rule for g in groups(report.findings)] == [
        "missing-library", "relr-before-api-28", "load-align-16k", "missing-soname",
    ]  # fmt: skip
    assert verdict(report).startswith("FAIL: lib01.so cannot load on any device (x86); libjscexecutor.so")
    assert verdict(report).endswith("; 1 warning(s)")


def test_horizons_come_from_the_rule_registry() -> None:
    for rule in RULES:
        if rule.horizon is Horizon.BELOW_API:
            assert (rule.below_api is None) != (rule.api_fact is None), rule.id
        if rule.horizon is Horizon.NOT_CHECKED:
            assert rule.severity is Severity.INFO and rule.not_checked, rule.id
    # A platform symbol no API level defines fails everywhere: the rule's API fact is null.
    nowhere = Finding("platform-symbol-unavailable", Severity.ERROR, "x86", "a.so", "m", "h", symbol="f",
                      extra=(("introduced", None),))  # fmt: skip
    later = Finding("platform-symbol-unavailable", Severity.ERROR, "x86", "a.so", "m", "h", symbol="f",
                    extra=(("introduced", 29),))  # fmt: skip
    assert horizon_of(nowhere) == (Horizon.EVERY_DEVICE, None)
    assert horizon_of(later) == (Horizon.BELOW_API, 29)


def test_on_device_lines_quote_bionic_and_nothing_else() -> None:
    report = _react_native_like()
    lines = text.render(report).splitlines()
    (device,) = [line for line in lines if line.strip().startswith("on device:")]
    assert device.split("on device:", 1)[1].strip() == (
        'dlopen failed: "lib00.so" program alignment (4096) cannot be smaller than system page size (16384)'
    )
    # symaudit's own words are on their own line.
    assert any(line.strip() == "why:        aligned to 0x1000" for line in lines)
    relr = Finding("relr-before-api-28", Severity.ERROR, "x86", "a.so", "m", "h")
    assert device_line(relr) is None  # bionic's words for it are not quoted: no line


def test_github_shows_at_most_ten_errors_most_important_first_and_counts_the_rest() -> None:
    findings = [
        Finding("unresolved-symbol", Severity.ERROR, "x86", "a.so", "m", "h", symbol=f"_Z1fv{i}")
        for i in range(12)
    ]
    findings.append(Finding("load-align-16k", Severity.ERROR, "x86_64", "b.so", "m", "h"))
    report = Report(InputRecord("a.apk", "apk", None), _records(("x86", "x86_64"), ["a.so", "b.so"]),
                    tuple(reversed(findings)))  # fmt: skip
    lines = github.render(report).splitlines()
    errors = [line for line in lines if line.startswith("::error ")]
    assert len(errors) == 10 and all("unresolved-symbol" in line for line in errors)
    (notice,) = [line for line in lines if line.startswith("::notice title=symaudit%3A more")]
    assert "3 more error group(s)" in notice and "job summary" in notice


def test_demo_prints_the_broken_symbol_once_with_its_four_abis() -> None:
    result = run("apk", "--offline", WENET)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert len(lines) <= 30, result.stdout
    headers = [line for line in lines if LOAD in line and line.startswith("ERROR")]
    assert headers == [f"ERROR unresolved-symbol: {LOAD}  [fails on every device]"]
    assert "  in:         libwenet.so (arm64-v8a, armeabi-v7a, x86, x86_64)" in lines
    assert sum(1 for line in lines if line.strip().startswith("hint:")) == 1
    # What follows depends on the machine (an NDK, cached reference builds): named when missing.
    assert lines[-1].startswith("FAIL: libwenet.so cannot load on any device (arm64-v8a, armeabi-v7a, x86, x86_64)")
    # Identification in plain sight: NDK release and API level, STL, 16 KB, per library.
    assert any(line.startswith("libfbjni.so, libwenet.so ") and "r21b API 21" in line for line in lines)
    github_out = run("apk", "--offline", WENET, "--format", "github", unset=("GITHUB_",)).stdout
    assert sum(1 for line in github_out.splitlines() if line.startswith("::error ")) == 1


def test_model_without_runtime_is_not_checked_and_lists_what_it_found() -> None:
    result = run("model", SDPA)
    assert result.returncode == 0  # nothing at or above --fail-on: exit codes keep their contract
    lines = result.stdout.splitlines()
    assert not any(line.startswith("OK") for line in lines)
    assert lines[-1] == f"NOT CHECKED: model {SDPA} (no libtorch runtime to check it against)"
    assert f"model {SDPA}: torchscript, file format version 3, bytecode version -, 2 operator(s) (from code)" in lines
    assert "  operators: aten::linear, aten::scaled_dot_product_attention" in lines


def test_references_unavailable_and_an_assumed_min_sdk_are_named_not_checked() -> None:
    notes = (
        Finding(
            "min-sdk-assumed", Severity.INFO, None, None, "minSdk unknown", "pass --min-sdk",
            extra=(("not_checked", "devices below API 21 (minSdk unknown: pass --min-sdk)"),),
        ),
        Finding("references-unavailable", Severity.INFO, None, None, "offline", "go online"),
    )  # fmt: skip
    report = Report(InputRecord("a.apk", "apk", None), _records(("x86",), ["a.so"]), notes)
    assert verdict(report) == (
        "OK: 1 libraries in 1 ABI(s) will load; not checked: devices below API 21 (minSdk unknown: pass "
        "--min-sdk), reference builds"
    )
    assert "**Not checked:** devices below API 21 \\(minSdk unknown: pass --min-sdk\\); reference builds" in (
        markdown.render(report)
    )
    empty = Report(InputRecord("empty", "files", None), (), notes[1:])
    assert verdict(empty) == "NOT CHECKED: reference builds"
    # Platform symbols need no NDK any more: the retired ndk-not-found names nothing as not checked,
    # and a folder without a minSdk is judged at the assumed level (the info above says so).
    retired = Finding("ndk-not-found", Severity.INFO, None, None, "no NDK", "pass --ndk")
    folder = Report(InputRecord("libs", "files", None), _records(("x86",), ["a.so"]), (retired,))
    assert verdict(folder) == "OK: 1 libraries in 1 ABI(s) will load"


@pytest.mark.parametrize("fmt", ["text", "markdown", "github"])
def test_verbose_lists_what_is_folded(fmt: str) -> None:
    report = _react_native_like()
    render = {"text": text.render, "markdown": markdown.render, "github": github.render}[fmt]
    assert "lib46.so" not in render(report) and "lib46.so" in render(report, verbose=True)


def _readme_block(command: str) -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split(f"```text\n$ {command}\n", 1)[1].split("```\n", 1)[0]
    return block.splitlines()


def _machine_independent(lines: list[str]) -> list[str]:
    """Without the not-checked notes, which depend on the machine (an NDK, cached references)."""
    kept, skipping = [], False
    for line in lines:
        if line.startswith("not checked:"):
            skipping = True
            continue
        if skipping and line.startswith("             "):
            continue
        skipping = False
        kept.append(line.split("; not checked: ", 1)[0])
    return [line for i, line in enumerate(kept) if line or (i and kept[i - 1])]


@pytest.mark.parametrize(
    "command",
    ["symaudit apk --offline fixtures/packages/wenet-new-runtime.apk", "symaudit model fixtures/models/sdpa.pt"],
)
def test_readme_examples_are_what_symaudit_prints(command: str) -> None:
    result = run(*command.split()[1:], cwd=ROOT)
    assert result.returncode in (0, 1), result.stderr
    assert _machine_independent(result.stdout.splitlines()) == _machine_independent(_readme_block(command))
