"""Which report goes where (``--format`` and ``--output`` paired in command-line order), and
what the run's exit code is."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from symaudit.errors import InputError
from symaudit.results import Report

_FAIL_RANK = {"error": 2, "warning": 1}


def exit_code(report: Report, fail_on: str) -> int:
    """1 when a finding at or above ``fail_on`` is reported, else 0."""
    if fail_on == "never":
        return 0
    threshold = _FAIL_RANK[fail_on]
    return 1 if any(f.severity.rank >= threshold for f in report.findings) else 0


def write_text(path: str, text: str, failure: str, mode: str = "w") -> None:
    """Write (``mode`` "a": append) ``text``; an unwritable file is an InputError naming it."""
    try:
        with open(path, mode, encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise InputError(f"{path}: {failure}: {exc.strerror or exc}") from exc


def append_step_summary(text: str, env: Mapping[str, str]) -> None:
    """Add ``text`` to the GitHub Actions job summary, when the run is in a job."""
    path = env.get("GITHUB_STEP_SUMMARY")
    if path:
        write_text(path, text, "cannot append to GITHUB_STEP_SUMMARY", mode="a")


class OutputPlanError(ValueError):
    """The ``--format``/``--output`` pairs are ambiguous; the CLI shows it as a usage error."""


def format_pairs(
    formats: Sequence[str], outputs: Sequence[str], order: Sequence[str | None] | None
) -> list[tuple[str, str | None]]:
    """(format, output file or None for standard output), in command-line order.

    An ``--output`` belongs to the ``--format`` just before it; one given before any ``--format``
    waits for the next (``-o r.json --format json``); with no ``--format`` at all it takes text.
    """
    if order is None:  # not called through the command line: pair by position
        order = ["format"] * len(formats) + ["output"] * len(outputs)
    pairs: list[list[Any]] = []
    held: list[str] = []
    next_format, next_output = iter(formats), iter(outputs)
    for name in order:
        if name == "format":
            pairs.append([next(next_format), held.pop(0) if held else None])
        elif name == "output":
            output = next(next_output)
            if pairs and pairs[-1][1] is None:
                pairs[-1][1] = output
            else:
                held.append(output)
    if not pairs:
        pairs.append(["text", held.pop(0) if held else None])
    if held:
        raise OutputPlanError(
            f"--output {held[0]} follows a --format that already has one; give each --output its own --format"
        )
    stdout = [fmt for fmt, output in pairs if output is None]
    if len(stdout) > 1:
        raise OutputPlanError(
            f"only one --format can go to standard output ({', '.join(stdout)} would); "
            "give the others an --output FILE"
        )
    files = [output for _, output in pairs if output is not None]
    for output in files:
        if files.count(output) > 1:
            raise OutputPlanError(f"--output {output} is given for more than one --format")
    return [(fmt, output) for fmt, output in pairs]


def check_outputs_spare_inputs(outputs: Sequence[str], inputs: Sequence[str | None]) -> None:
    """An output file that is an input (``-o app.apk``) would destroy the input it reports on."""
    for output in outputs:
        for path in inputs:
            if not path:
                continue
            try:
                same = os.path.samefile(output, path)
            except OSError:  # either does not exist (yet): compare the paths themselves
                same = os.path.realpath(output) == os.path.realpath(path)
            if same:
                raise InputError(f"{output}: is an input of this run; writing a report there would overwrite it")


def deliver(
    whole: Report,
    report: Report,
    outputs: Sequence[tuple[str, str | None]],
    write_baseline: str | None,
    verbose: bool,
    fail_on: str,
    write: Callable[[str, str | None], None],
    say: Callable[[str], None],
) -> int:
    """After an audit settled by :func:`symaudit.baseline.settle` (``whole`` with the configured
    severities, ``report`` what is left after the baseline): the baseline file to write, every
    requested format (``write(text, path)``; None is standard output), the step summary of a
    ``github`` report, the verdict line (``say``) when something went to files; the exit code."""
    from symaudit.report.formats import render
    from symaudit.report.text import verdict

    written = [output for _, output in outputs if output is not None]
    if write_baseline:  # the whole current state: the next run's baseline
        write(render("json", whole, False), write_baseline)
        written.append(f"baseline: {write_baseline}")
    for fmt, output in outputs:
        write(render(fmt, report, verbose), output)
        if fmt == "github":
            append_step_summary(render("markdown", report, verbose), os.environ)
    if written:
        say(f"{verdict(report)} (report: {', '.join(written)})")
    return exit_code(report, fail_on)
