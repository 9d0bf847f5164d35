"""The command line. Wires the stages, writes output and maps errors to exit codes; decides
nothing about libraries.

Exit codes: 0 nothing at or above ``--fail-on``; 1 something is; 2 usage error or unreadable
input (one line on stderr naming the file and the problem, never a traceback).
Imports of heavy modules happen inside commands: start-up time is part of every CI run.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import click

from symaudit import __version__
from symaudit.errors import InputError, SymauditError

if TYPE_CHECKING:
    from symaudit.audit import Report

FORMATS = ("text", "json")
FAIL_ON = ("error", "warning", "never")
_FAIL_RANK = {"error": 2, "warning": 1}


def _renderer(fmt: str) -> Callable[[Report], str]:
    if fmt == "json":
        from symaudit.report import json as json_report

        return json_report.render
    from symaudit.report import text as text_report

    return text_report.render


def _write(text: str, output: str | None) -> None:
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise InputError(f"{output}: cannot write report: {exc.strerror or exc}") from exc


def _exit_code(report: Report, fail_on: str) -> int:
    if fail_on == "never":
        return 0
    threshold = _FAIL_RANK[fail_on]
    return 1 if any(f.severity.rank >= threshold for f in report.findings) else 0


def _audit_command(paths: Sequence[str], options: dict[str, Any]) -> int:
    from dataclasses import replace

    from symaudit.audit import audit_package
    from symaudit.containers import open_package
    from symaudit.ignore import IgnorePattern, apply_ignores

    from symaudit.manifest import app_facts

    ignores = [IgnorePattern.parse(text) for text in options["ignore"]]
    with open_package(list(paths)) as package:
        app = app_facts(package, options["min_sdk"])
        report = audit_package(package, abis=options["abi"] or None, app=app)
    if ignores:
        report = replace(report, findings=apply_ignores(report.findings, ignores))
    _write(_renderer(options["format"])(report), options["output"])
    if options["output"] is not None:
        from symaudit.report.text import verdict

        click.echo(f"{verdict(report)} (report: {options['output']})", err=True)
    return _exit_code(report, options["fail_on"])


def _audit_options(func: Callable[..., Any]) -> Callable[..., Any]:
    decorators = [
        click.option("--format", "format", type=click.Choice(FORMATS), default="text", show_default=True,
                     help="Report format."),
        click.option("--output", "-o", type=click.Path(dir_okay=False), default=None,
                     help="Write the report to FILE instead of standard output."),
        click.option("--fail-on", type=click.Choice(FAIL_ON), default="error", show_default=True,
                     help="Exit 1 when a finding of this severity or worse is reported."),
        click.option("--abi", multiple=True, metavar="ABI",
                     help="Audit only this ABI (repeatable), e.g. --abi arm64-v8a."),
        click.option("--ignore", multiple=True, metavar="RULE[:LIBRARY[:SYMBOL]]",
                     help="Drop matching findings (repeatable; LIBRARY and SYMBOL are glob patterns)."),
        click.option("--min-sdk", type=click.IntRange(1, 100), default=None, metavar="N",
                     help="The app's minSdkVersion (default: read from the package's manifest)."),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="symaudit")
def cli() -> None:
    """Predict whether the native libraries of an Android package will load.

    symaudit reads every .so of an APK, AAB, APKS, AAR or folder, models the Android dynamic
    linker per ABI and reports each `cannot locate symbol` and `library not found` the app would
    hit on a device, with a hint that names the fix.
    """


@cli.command()
@click.argument("path")
@_audit_options
def apk(path: str, **options: Any) -> int:
    """Audit an APK, AAB, APKS (or any zip with lib/<abi>/ folders)."""
    return _audit_command([path], options)


@cli.command()
@click.argument("path")
@_audit_options
def aar(path: str, **options: Any) -> int:
    """Audit an Android library (AAR): jni/<abi>/ and prefab libraries."""
    return _audit_command([path], options)


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@_audit_options
def libs(paths: tuple[str, ...], **options: Any) -> int:
    """Audit .so files, or folders laid out <abi>/lib*.so, as one app."""
    return _audit_command(paths, options)


@cli.command()
@click.option("--format", "format", type=click.Choice(("text", "json", "markdown")), default="text",
              show_default=True)
def rules(format: str) -> int:
    """List every rule with its id, name, severity and documentation."""
    from symaudit.report import rules as rules_report

    click.echo(rules_report.render(format), nl=False)
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    try:
        code = cli.main(args=list(argv) if argv is not None else None, prog_name="symaudit",
                        standalone_mode=False)
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.ClickException as exc:
        exc.show()
        code = exc.exit_code
    except click.exceptions.Abort:
        click.echo("symaudit: aborted", err=True)
        code = 130
    except SymauditError as exc:
        click.echo(f"symaudit: error: {exc}", err=True)
        code = 2
    except KeyboardInterrupt:
        click.echo("symaudit: interrupted", err=True)
        code = 130
    except Exception as exc:  # a bug in symaudit: still one line, never a traceback
        if os.environ.get("SYMAUDIT_DEBUG"):
            raise
        click.echo(
            f"symaudit: internal error: {exc.__class__.__name__}: {exc} "
            "(please report it; SYMAUDIT_DEBUG=1 shows the traceback)",
            err=True,
        )
        code = 2
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
