"""Which report goes where (``--format``/``--output`` pairs) and the exit code of a run."""

from __future__ import annotations

from pathlib import Path

import pytest

from symaudit.findings import Finding, Severity
from symaudit.outputs import OutputPlanError, append_step_summary, exit_code, format_pairs
from symaudit.results import InputRecord, Report


@pytest.mark.parametrize(
    ("order", "formats", "outputs", "expected"),
    [
        ([], [], [], [("text", None)]),
        (["output"], [], ["r.txt"], [("text", "r.txt")]),
        (["output", "format"], ["json"], ["r.json"], [("json", "r.json")]),
        (
            ["format", "format", "output"],
            ["json", "sarif"],
            ["r.sarif"],
            [("json", None), ("sarif", "r.sarif")],
        ),
        (
            ["format", "output", "format", "output", "format"],
            ["json", "sarif", "text"],
            ["r.json", "r.sarif"],
            [("json", "r.json"), ("sarif", "r.sarif"), ("text", None)],
        ),
    ],
)
def test_each_output_pairs_with_the_format_before_it(
    order: list[str], formats: list[str], outputs: list[str], expected: list[tuple[str, str | None]]
) -> None:
    assert format_pairs(formats, outputs, order) == expected


@pytest.mark.parametrize(
    ("order", "formats", "outputs", "message"),
    [
        (["format", "output", "output"], ["json"], ["a", "b"], "already has one"),
        (["format", "output", "format", "output"], ["json", "sarif"], ["a", "a"], "more than one --format"),
    ],
)
def test_ambiguous_pairs_are_refused(
    order: list[str], formats: list[str], outputs: list[str], message: str
) -> None:
    with pytest.raises(OutputPlanError, match=message):
        format_pairs(formats, outputs, order)


def _report(*severities: Severity) -> Report:
    findings = tuple(Finding("r", s, None, None, "m", "h") for s in severities)
    return Report(InputRecord("app.apk", "apk", None), (), findings)


@pytest.mark.parametrize(
    ("severities", "fail_on", "code"),
    [
        ((Severity.WARNING,), "error", 0),
        ((Severity.WARNING,), "warning", 1),
        ((Severity.ERROR,), "error", 1),
        ((Severity.ERROR,), "never", 0),
        ((Severity.INFO,), "warning", 0),
    ],
)
def test_exit_code_is_one_at_or_above_fail_on(severities: tuple[Severity, ...], fail_on: str, code: int) -> None:
    assert exit_code(_report(*severities), fail_on) == code


def test_step_summary_is_appended_only_inside_a_job(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("before\n")
    append_step_summary("after\n", {"GITHUB_STEP_SUMMARY": str(summary)})
    append_step_summary("ignored\n", {})
    assert summary.read_text() == "before\nafter\n"
