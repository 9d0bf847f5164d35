"""The command line: parses options, calls the audit suite (:mod:`symaudit.suites`), writes
the outputs and maps errors to exit codes; decides nothing about libraries. The only module that
imports click.

Exit codes: 0 nothing at or above ``--fail-on``; 1 something is; 2 usage error or unreadable
input (one line on stderr naming the file and the problem, never a traceback).
Imports of heavy modules happen inside commands: start-up time is part of every CI run.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click
from click.core import ParameterSource

from symaudit import __version__
from symaudit.config import FAIL_ON
from symaudit.errors import SymauditError
from symaudit.report.formats import FORMATS

if TYPE_CHECKING:
    from symaudit.baseline import Baseline
    from symaudit.config import Settings
    from symaudit.results import Report


def _write(text: str, output: str | None) -> None:
    from symaudit.outputs import write_text

    if output is None:
        click.echo(text, nl=False)
    else:
        write_text(output, text, "cannot write report")


class _OrderedCommand(click.Command):
    """Remembers the order of the options on the command line, so that each ``--output`` can be
    paired with the ``--format`` it follows (click keeps each repeated option's values, not how
    they interleave)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        _, _, order = self.make_parser(ctx).parse_args(args=list(args))
        ctx.meta["symaudit.option_order"] = [getattr(param, "name", None) for param in order]
        return super().parse_args(ctx, args)


class _Group(click.Group):
    command_class = _OrderedCommand


@dataclass(frozen=True)
class _Plan:
    """What to do after the audit, checked before it runs (a typo costs no audit time)."""

    settings: Settings
    outputs: list[tuple[str, str | None]]
    baseline: Baseline | None


def _plan(options: dict[str, Any], inputs: Sequence[str | None] = ()) -> _Plan:
    """Merge the config file into ``options`` (the command line wins) and check the outputs."""
    from pathlib import Path

    from symaudit.baseline import load_baseline
    from symaudit.config import merge_options, settings_for
    from symaudit.outputs import OutputPlanError, check_outputs_spare_inputs, format_pairs

    context = click.get_current_context()
    settings = settings_for(options.get("config"), Path.cwd())
    merge_options(options, settings, context.get_parameter_source("fail_on") not in (None, ParameterSource.DEFAULT))
    try:
        outputs = format_pairs(options["format"], options["output"], context.meta.get("symaudit.option_order"))
    except OutputPlanError as exc:
        raise click.UsageError(str(exc)) from None
    written = [output for _, output in outputs if output is not None]
    check_outputs_spare_inputs(
        [*written, *filter(None, [options.get("write_baseline")])],
        [*inputs, *(options.get("model") or ()), options.get("baseline"), options.get("config")],
    )
    baseline = load_baseline(options["baseline"]) if options.get("baseline") else None
    return _Plan(settings, outputs, baseline)


def _finish(report: Report, options: dict[str, Any], plan: _Plan) -> int:
    """Severity overrides, baseline, every requested format; the exit code."""
    from symaudit.baseline import settle
    from symaudit.outputs import deliver

    whole, left = settle(report, plan.settings.severity, plan.baseline)
    return deliver(whole, left, plan.outputs, options.get("write_baseline"), bool(options.get("verbose")),
                   options["fail_on"], _write, lambda line: click.echo(line, err=True))


def _progress(label: str, total: int | None) -> Any:
    """A download progress bar on a terminal; nothing when stderr is a file or a pipe."""
    from contextlib import nullcontext

    if not sys.stderr.isatty():
        return nullcontext(lambda size: None)
    bar: Any = click.progressbar(length=total, label=f"downloading {label}", file=sys.stderr)

    class _Bar:
        def __enter__(self) -> Callable[[int], None]:
            bar.__enter__()
            update: Callable[[int], None] = bar.update
            return update

        def __exit__(self, *exc: object) -> None:
            bar.__exit__(None, None, None)

    return _Bar()


def _maven_client(options: dict[str, Any], settings: Settings, budgeted: bool = True) -> Any:
    """Made only when a reference is needed: the HTTP stack is imported here. Audits spend at most
    the network budget; ``refs`` and ``diff`` commands, which the user runs to download, do not."""
    from symaudit.references.session import maven_client, network_budget

    budget = network_budget(options.get("network_budget"), os.environ, settings.network_budget) if budgeted else None
    return maven_client(options["maven_repo"], options["offline"], settings.maven_repos, os.environ, _progress, budget)


def _audit_command(paths: Sequence[str], options: dict[str, Any]) -> int:
    from symaudit.suites import AppRequest, audit_app, references_enabled

    plan = _plan(options, paths)
    request = AppRequest(paths, options["abi"], options["min_sdk"], options["ndk"], options.get("model") or (),
                         options["ignore"], min_sdk_fallback=plan.settings.min_sdk)
    enabled = references_enabled(options["references"], os.environ)
    report = audit_app(request, (lambda: _maven_client(options, plan.settings)) if enabled else None)
    return _finish(report, options, plan)


_budget_option = click.option(
    "--network-budget", type=click.FloatRange(0, 86400), default=None, metavar="SECONDS",
    help="Most time the reference lookups may spend on the network in all, then the "
         "audit goes on without what is missing (default 60; also "
         "SYMAUDIT_NETWORK_BUDGET or network-budget in the config).")


def _maven_options() -> list[Callable[..., Any]]:
    return [
        click.option("--maven-repo", multiple=True, metavar="URL",
                     help="Maven repository for reference builds (repeatable; default: "
                          "SYMAUDIT_MAVEN_REPOS, then maven-repos of the config, then Maven Central)."),
        click.option("--offline", is_flag=True, default=False,
                     help="Send no network request: use the Gradle, Maven and symaudit caches only "
                          "(also SYMAUDIT_OFFLINE=1)."),
    ]


_REFERENCE_OPTIONS = [
    *_maven_options(),
    click.option("--references/--no-references", default=True, show_default=True,
                 help="Identify packaged libtorch/fbjni builds against the Maven references "
                      "(SYMAUDIT_REFERENCES=0 also turns it off)."),
    _budget_option,
]
_REPORT_OPTIONS = [
    click.option("--format", "format", type=click.Choice(tuple(FORMATS)), multiple=True,
                 help="Report format (default text); repeatable, each followed by its own --output."),
    click.option("--output", "-o", type=click.Path(dir_okay=False), multiple=True,
                 help="Write the report of the --format before it to FILE instead of standard output."),
    click.option("--fail-on", type=click.Choice(FAIL_ON), default="error", show_default=True,
                 help="Exit 1 when a finding of this severity or worse is reported."),
    click.option("--verbose", "-v", is_flag=True, default=False,
                 help="List every library, ABI and hint in the text, Markdown and GitHub reports (long "
                      "lists are folded to a count by default; JSON and SARIF always list everything)."),
]
_IGNORE_OPTION = click.option("--ignore", multiple=True, metavar="RULE[:LIBRARY[:SYMBOL]]",
                              help="Drop matching findings (repeatable; LIBRARY and SYMBOL are glob patterns).")


def _with(options: list[Callable[..., Any]]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        for decorator in reversed(options):
            func = decorator(func)
        return func

    return decorate


_audit_options = _with([
    *_REPORT_OPTIONS,
    click.option("--abi", multiple=True, metavar="ABI",
                 help="Audit only this ABI (repeatable), e.g. --abi arm64-v8a."),
    _IGNORE_OPTION,
    click.option("--min-sdk", type=click.IntRange(1, 100), default=None, metavar="N",
                 help="The app's minSdkVersion (default: read from the package's manifest)."),
    click.option("--ndk", type=click.Path(file_okay=False), default=None, metavar="PATH",
                 help="Android NDK whose stubs cross-check symaudit's platform symbol table (default: ANDROID_NDK_HOME, "
                      "ANDROID_NDK_ROOT, ANDROID_HOME/ndk, local.properties)."),
    click.option("--config", type=click.Path(dir_okay=False), default=None, metavar="FILE",
                 help="Settings file (default: symaudit.toml or [tool.symaudit] in pyproject.toml, "
                      "searched upward from the working directory)."),
    click.option("--baseline", type=click.Path(dir_okay=False), default=None, metavar="REPORT.json",
                 help="Report only findings that are not in this earlier JSON report."),
    click.option("--write-baseline", type=click.Path(dir_okay=False), default=None, metavar="FILE",
                 help="Also write this run's findings as a JSON report to use with --baseline."),
    *_REFERENCE_OPTIONS,
])


_model_option = click.option(
    "--model", "model", multiple=True, type=click.Path(dir_okay=False), metavar="PATH",
    help="Also check this TorchScript/lite model against the package's libtorch (repeatable); "
    "models among the package's assets are checked without it.",
)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="symaudit")
def cli() -> None:
    """Predict whether the native libraries of an Android package will load.

    symaudit reads every .so of an APK, AAB, APKS, AAR or folder, models the Android dynamic
    linker per ABI and reports each `cannot locate symbol` and `library not found` the app would
    hit on a device, with a hint that names the fix. The verdict, last, says who cannot load and
    where (on any device, below an API level, on 16 KB-page devices), for example:

    \b
      FAIL: libwenet.so cannot load on any device (arm64-v8a, armeabi-v7a, x86, x86_64)
      FAIL: libjscexecutor.so cannot load below API 30 (arm64-v8a, x86, x86_64); 48 libraries
            cannot load on 16 KB-page devices (arm64-v8a, x86_64)

    A finding repeated across ABIs and libraries is shown once (--verbose lists every name);
    what could not be checked (no minSdk, no reference builds, a model without a runtime) is named
    "not checked", never OK. Exit 0: nothing at or above --fail-on; 1: something is; 2: usage
    error or unreadable input.
    """


def _package_command(name: str, doc: str) -> None:
    """``symaudit apk`` and ``symaudit aar``: one package, every audit option, and ``--model``."""

    def command(path: str, **options: Any) -> int:
        return _audit_command([path], options)

    command.__doc__ = doc
    cli.command(name)(click.argument("path")(_audit_options(_model_option(command))))


_package_command("apk", "Audit an APK, AAB, APKS (or any zip with lib/<abi>/ folders).")
_package_command("aar", "Audit an Android library (AAR): jni/<abi>/ and prefab libraries.")


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@_audit_options
def libs(paths: tuple[str, ...], **options: Any) -> int:
    """Audit .so files, or folders laid out <abi>/lib*.so, as one app."""
    return _audit_command(paths, options)


@cli.command()
@click.argument("model_path", metavar="MODEL")
@click.option("--runtime", metavar="APK|AAR|SO|GROUP:ARTIFACT:VERSION", default=None,
              help="Check against the libtorch runtime in this package or library, or in this "
                   "Maven release (e.g. org.pytorch:pytorch_android_lite:1.12.2).")
@_with([*_REPORT_OPTIONS, _IGNORE_OPTION, *_REFERENCE_OPTIONS])
def model(model_path: str, runtime: str | None, **options: Any) -> int:
    """Read a TorchScript (.pt) or lite (.ptl) model: versions, operators, and whether a runtime
    runs it (versions too when the runtime's release is known)."""
    from symaudit.suites import audit_model_file, references_enabled

    plan = _plan(options, (model_path, runtime))
    report = audit_model_file(model_path, runtime, options["ignore"], lambda: _maven_client(options, plan.settings),
                              identify=references_enabled(options["references"], os.environ))
    return _finish(report, options, plan)


@cli.command()
@click.option("--format", "format", type=click.Choice(("text", "json", "markdown")), default="text",
              show_default=True)
def rules(format: str) -> int:
    """List every rule with its id, name, severity and documentation."""
    from symaudit.report import rules as rules_report

    click.echo(rules_report.render(format), nl=False)
    return 0


@cli.command()
@click.argument("report_path", metavar="REPORT.json", type=click.Path(dir_okay=False))
@click.option("--repo", metavar="OWNER/NAME", default=None, help="Repository (default: GITHUB_REPOSITORY).")
@click.option("--pr", type=click.IntRange(1), default=None, metavar="N",
              help="Pull request number (default: from the event in GITHUB_EVENT_PATH).")
@click.option("--api-url", metavar="URL", default=None,
              help="GitHub API URL (default: GITHUB_API_URL, else https://api.github.com).")
@click.option("--dry-run", is_flag=True, help="Print the comment instead of sending it; no token needed.")
def comment(report_path: str, repo: str | None, pr: int | None, api_url: str | None, dry_run: bool) -> int:
    """Post or update the sticky pull-request comment for a JSON report of an earlier run.

    The token is read from GITHUB_TOKEN only. Exit 0 when the comment is posted or updated,
    2 on a usage or API error.
    """
    from symaudit.github_comment import post
    from symaudit.report.from_json import load_report

    click.echo(post(FORMATS["markdown"](load_report(report_path)), repo, pr, api_url, dry_run, os.environ), nl=False)
    return 0


def _store(options: dict[str, Any], budgeted: bool = False) -> Any:
    """A reference store on the run's Maven client; a context manager that closes the client."""
    from pathlib import Path

    from symaudit.config import settings_for
    from symaudit.references.store import ReferenceStore

    settings = settings_for(options.get("config"), Path.cwd())  # the config found upward by default
    return ReferenceStore(_maven_client(options, settings, budgeted))


_REFS_OPTIONS = [
    *_maven_options(),
    click.option("--config", type=click.Path(dir_okay=False), default=None, metavar="FILE",
                 help="Settings file for maven-repos (default: searched upward)."),
]


@cli.group()
def refs() -> None:
    """Reference builds from Maven (org.pytorch:pytorch_android[_lite], com.facebook.fbjni:fbjni)."""


@refs.command("fetch")
@click.argument("coordinates", nargs=-1, required=True, metavar="GROUP:ARTIFACT[:VERSION]...")
@_with(_REFS_OPTIONS)
def refs_fetch(coordinates: tuple[str, ...], **options: Any) -> int:
    """Fetch reference AARs (every version in maven-metadata.xml when no version is given) and
    cache their manifests. Local Gradle and Maven caches are used first."""
    from symaudit.references.commands import fetch

    failed = 0
    with _store(options) as store:
        for line, error in fetch(store, coordinates):
            click.echo(line, err=error)
            failed += error
    return 2 if failed else 0


@refs.command("list")
@_with(_REFS_OPTIONS)
def refs_list(**options: Any) -> int:
    """List the references in symaudit's cache."""
    from symaudit.references.commands import listing

    with _store(options) as store:
        click.echo(listing(store))
    return 0


@refs.command("show")
@click.argument("coordinate", metavar="GROUP:ARTIFACT:VERSION")
@click.option("--abi", default=None, metavar="ABI", help="Show only this ABI.")
@click.option("--format", "format", type=click.Choice(("text", "json")), default="text", show_default=True)
@_with(_REFS_OPTIONS)
def refs_show(coordinate: str, abi: str | None, format: str, **options: Any) -> int:
    """Show a reference's libraries: sha256, soname, needed, NDK, export and import counts."""
    from symaudit.references.commands import show

    with _store(options) as store:
        click.echo(show(store, coordinate, abi, format))
    return 0


@refs.command("matrix")
@click.argument("path", metavar="LIB|PACKAGE")
@click.option("--library", default=None, metavar="NAME", help="The consumer, when the package holds several.")
@click.option("--abi", multiple=True, metavar="ABI", help="Only this ABI (repeatable).")
@click.option("--format", "format", type=click.Choice(("text", "markdown", "json")), default="text", show_default=True)
@_with([*_REFS_OPTIONS, _budget_option])
def refs_matrix(path: str, library: str | None, abi: tuple[str, ...], format: str, **options: Any) -> int:
    """Per ABI, every published provider release and whether the consumer's imports resolve."""
    from symaudit.references.matrix import matrix_command

    with _store(options, budgeted=True) as store:
        click.echo(matrix_command(store, path, library, abi, format), nl=False)
    return 0


@cli.command("diff")
@click.argument("a", metavar="A")
@click.argument("b", metavar="B")
@click.option("--abi", default=None, metavar="ABI", help="ABI to compare when A or B holds several.")
@click.option("--library", default=None, metavar="NAME", help="Library to compare when A or B holds several.")
@click.option("--format", "format", type=click.Choice(("text", "json")), default="text", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None, help="Write to FILE.")
@_with(_REFS_OPTIONS)
def diff_command(a: str, b: str, abi: str | None, library: str | None, format: str, output: str | None,
                 **options: Any) -> int:
    """Compare the dynamic symbols of two builds: .so files, packages, or Maven coordinates.

    Exports and imports added and removed, and signature changes grouped by demangled qualified
    name: "what broke between org.pytorch:pytorch_android:1.13.1 and 2.1.0".
    """
    from symaudit.outputs import check_outputs_spare_inputs
    from symaudit.report.diff import render_json, render_text
    from symaudit.symbol_diff import diff_sides

    if output is not None:
        check_outputs_spare_inputs([output], [a, b, options.get("config")])
    result = diff_sides(a, b, abi, library, lambda: _store(options))
    _write(render_json(result) if format == "json" else render_text(result), output)
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    try:
        code = cli.main(args=list(argv) if argv is not None else None, prog_name="symaudit",
                        standalone_mode=False)
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.UsageError as exc:  # one line, like every other exit 2, not click's three
        message = " ".join(exc.format_message().split())
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        click.echo(f"symaudit: error: {message}{hint}", err=True)
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
