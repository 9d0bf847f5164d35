"""Markdown and GitHub workflow-command output, and several --format/--output pairs in one run."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from symaudit.findings import Finding, Severity
from symaudit.report import github, markdown
from symaudit.report.from_json import load_report
from symaudit.results import InputRecord, LibraryRecord, Report
from tests import symaudit_cli

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ROOT / "fixtures" / "packages"
WENET = str(PACKAGES / "wenet-new-runtime.apk")


def run(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return symaudit_cli.run(*args, cwd=cwd, env=env, unset=("GITHUB_",))


def libs(abis: tuple[str, ...]) -> tuple[LibraryRecord, ...]:
    return tuple(LibraryRecord(abi, "libwenet.so", f"lib/{abi}/libwenet.so", None, 1) for abi in abis)


def test_markdown_of_a_clean_report_is_green_and_says_there_is_nothing() -> None:
    report = Report(InputRecord("app.apk", "apk", None), libs(("arm64-v8a", "x86_64")), ())
    text = markdown.render(report)
    first = text.splitlines()[0]
    assert first.startswith("### :white_check_mark:") and "OK:" in first
    assert "No findings" in text and "What fails on the device" not in text
    assert "<details><summary>Libraries: NDK, STL, 16 KB pages, reference</summary>" in text


def test_markdown_puts_the_verdict_first_then_one_table_for_identical_abis(tmp_path: Path) -> None:
    report_path = tmp_path / "r.json"
    assert run("apk", WENET, "--format", "json", "--output", str(report_path)).returncode == 1
    text = markdown.render(load_report(report_path))
    lines = text.splitlines()
    assert lines[0].startswith("### :x:")
    assert "FAIL: `libwenet.so` cannot load on any device (arm64-v8a, armeabi-v7a, x86, x86_64)" in lines[0]
    # The finding repeated in four ABIs is one row that names them.
    (row,) = [line for line in lines if "`unresolved-symbol`" in line and line.startswith("|")]
    assert "torch::jit::load(std::string const&, c10::optional<c10::Device>)" in row
    assert "| fails on every device | `libwenet.so` (arm64-v8a, armeabi-v7a, x86, x86_64) |" in row
    assert "<details>" in text and "</details>" in text
    assert "`libwenet.so` → `libpytorch_jni.so`" in text  # the searched libraries, in lookup order


def test_markdown_escapes_table_cells_and_notes_the_baseline() -> None:
    finding = Finding(
        "missing-library", Severity.ERROR, "x86", "liba.so", "not | found", "fix\nit", needed="lib|b.so"
    )
    report = Report(
        InputRecord("app.apk", "apk", None),
        libs(("x86",)),
        (finding,),
        extra=(("baseline", {"path": "b.json", "known": 3}),),
    )
    text = markdown.render(report)
    assert "`lib\\|b.so`" in text and "not \\| found" in text and "fix it" in text
    assert "3 finding(s) already recorded in the baseline `b.json`" in text


def test_github_annotations_escape_data_and_properties() -> None:
    finding = Finding(
        "unresolved-symbol", Severity.ERROR, "arm64-v8a", "libwenet.so", "100% broken\nreally", "rebuild, please",
        symbol="_ZN5torch3jit4loadEv", searched=("libwenet.so", "libc.so"),
    )  # fmt: skip
    note = Finding("platform-symbol-unchecked", Severity.INFO, "arm64-v8a", "libwenet.so", "in no table", "")
    out = github.render(Report(InputRecord("app.apk", "apk", None), libs(("arm64-v8a",)), (finding, note)))
    lines = out.splitlines()
    # One annotation per group, titled with rule, symbol and horizon; the message's own newline is
    # shown as \x0a (it cannot start a line of its own), the line breaks symaudit makes are %0A.
    assert lines[0] == (
        "::error title=symaudit unresolved-symbol%3A torch%3A%3Ajit%3A%3Aload() (fails on every device)"
        "::in libwenet.so (arm64-v8a)"
        '%0Aon device: dlopen failed: cannot locate symbol "_ZN5torch3jit4loadEv" referenced by "libwenet.so"...'
        "%0A100%25 broken\\x0areally%0Asearched: libwenet.so -> libc.so%0Afix: rebuild, please"
    )
    assert lines[1] == "::notice title=symaudit%3A not checked::imports newer than the platform table"
    assert lines[-1].startswith("FAIL:")


def test_github_format_appends_the_markdown_to_the_step_summary(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    result = run("apk", WENET, "--format", "github", env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert result.returncode == 1
    assert result.stdout.startswith("::error title=symaudit unresolved-symbol")
    text = summary.read_text()
    assert text.startswith("earlier step\n### :x: symaudit")


def test_several_formats_in_one_run(tmp_path: Path) -> None:
    result = run(
        "apk", WENET, "--format", "json", "--output", "r.json", "--format", "sarif", "-o", "r.sarif",
        "--format", "text", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stdout.rstrip().splitlines()[-1].startswith("FAIL:")  # text on standard output
    assert json.loads((tmp_path / "r.json").read_text())["schema"] == "symaudit.report/1"
    assert json.loads((tmp_path / "r.sarif").read_text())["version"] == "2.1.0"
    assert "(report: r.json, r.sarif)" in result.stderr


def test_two_formats_on_standard_output_is_a_usage_error(tmp_path: Path) -> None:
    result = run("apk", WENET, "--format", "json", "--format", "sarif", cwd=tmp_path)
    assert result.returncode == 2
    assert "only one --format can go to standard output" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_markdown_pipes_are_escaped_in_tables_only_and_messages_cannot_become_html() -> None:
    # operator| demangles with a pipe: a table needs `\|`, but a code span outside a table shows the
    # backslash. A message quoting a template (`<int>`) must not turn into an HTML tag GitHub drops.
    finding = Finding(
        "unresolved-symbol",
        Severity.ERROR,
        "x86",
        "liba.so",
        "e.g. std::vector<int, std::allocator<int> >::__append(unsigned long) and f(char*, int*)",
        "fix it",
        symbol="_Zor3FooS_",
    )
    report = Report(InputRecord("app.apk", "apk", None), libs(("x86",)), (finding,))
    lines = markdown.render(report).splitlines()
    row = next(line for line in lines if line.startswith("| :x:"))
    assert "`operator\\|(Foo, Foo)`" in row
    title = next(line for line in lines if line.startswith("**`unresolved-symbol`"))
    assert "`operator|(Foo, Foo)`" in title and "\\|" not in title
    message = next(line for line in lines if line.startswith("- why:"))
    assert "<int>" not in message and "\\<int\\>" in message and "char\\*" in message
    device = next(line for line in lines if line.startswith("- on device:"))
    assert device == '- on device: `dlopen failed: cannot locate symbol "_Zor3FooS_" referenced by "liba.so"...`'


def test_markdown_code_spans_survive_backtick_runs() -> None:
    finding = Finding(
        "missing-library", Severity.ERROR, "x86", "liba.so", "not found", "fix", needed="lib``b.so"
    )
    report = Report(InputRecord("app.apk", "apk", None), libs(("x86",)), (finding,))
    text = markdown.render(report)
    assert "``` lib``b.so ```" in text or "```lib``b.so```" in text
