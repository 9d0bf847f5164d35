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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click
from click.core import ParameterSource

from symaudit import __version__
from symaudit.errors import InputError, SymauditError

if TYPE_CHECKING:
    from symaudit.audit import Report
    from symaudit.baseline import Baseline
    from symaudit.config import Settings

FORMATS = ("text", "json", "sarif", "markdown", "github")
FAIL_ON = ("error", "warning", "never")
GROUPED = ("text", "markdown", "github")
"""Formats that group findings and fold long lists (``--verbose`` lists everything)."""
_FAIL_RANK = {"error": 2, "warning": 1}


def _renderer(fmt: str) -> Callable[[Report], str]:
    import importlib

    module = importlib.import_module(f"symaudit.report.{fmt}")  # one module per format
    render: Callable[[Report], str] = module.render
    return render


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


def _format_pairs(
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
        raise click.UsageError(
            f"--output {held[0]} follows a --format that already has one; give each --output its own --format"
        )
    stdout = [fmt for fmt, output in pairs if output is None]
    if len(stdout) > 1:
        raise click.UsageError(
            f"only one --format can go to standard output ({', '.join(stdout)} would); "
            "give the others an --output FILE"
        )
    files = [output for _, output in pairs if output is not None]
    for output in files:
        if files.count(output) > 1:
            raise click.UsageError(f"--output {output} is given for more than one --format")
    return [(fmt, output) for fmt, output in pairs]


@dataclass(frozen=True)
class _Plan:
    """What to do after the audit, checked before it runs (a typo costs no audit time)."""

    settings: Settings
    outputs: list[tuple[str, str | None]]
    baseline: Baseline | None


def _check_outputs_spare_inputs(outputs: Sequence[str], inputs: Sequence[str | None]) -> None:
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


def _plan(options: dict[str, Any], inputs: Sequence[str | None] = ()) -> _Plan:
    """Merge the config file into ``options`` (the command line wins) and check the outputs."""
    from pathlib import Path

    from symaudit.baseline import load_baseline
    from symaudit.config import settings_for

    context = click.get_current_context()
    settings = settings_for(options.get("config"), Path.cwd())
    if settings.fail_on and context.get_parameter_source("fail_on") in (None, ParameterSource.DEFAULT):
        options["fail_on"] = settings.fail_on
    options["ignore"] = (*settings.ignore, *options["ignore"])
    if "ndk" in options and options["ndk"] is None and settings.ndk is not None:
        options["ndk"] = settings.ndk
    outputs = _format_pairs(options["format"], options["output"], context.meta.get("symaudit.option_order"))
    written = [output for _, output in outputs if output is not None]
    inputs = [*inputs, *(options.get("model") or ()), options.get("baseline"), options.get("config")]
    _check_outputs_spare_inputs([*written, *filter(None, [options.get("write_baseline")])], inputs)
    baseline = load_baseline(options["baseline"]) if options.get("baseline") else None
    return _Plan(settings, outputs, baseline)


def _append_step_summary(text: str) -> None:
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return
    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise InputError(f"{path}: cannot append to GITHUB_STEP_SUMMARY: {exc.strerror or exc}") from exc


def _finish(report: Report, options: dict[str, Any], plan: _Plan) -> int:
    """Severity overrides, baseline, every requested format; the exit code."""
    from dataclasses import replace

    from symaudit.baseline import split_findings
    from symaudit.config import apply_severity
    from symaudit.report import json as json_report
    from symaudit.report.text import verdict

    if plan.settings.severity:
        report = replace(report, findings=apply_severity(report.findings, plan.settings.severity))
    if options.get("write_baseline"):
        # The whole current state (before --baseline filters it): the next run's baseline.
        _write(json_report.render(report), options["write_baseline"])
    if plan.baseline is not None:
        new, known = split_findings(report.findings, plan.baseline)
        summary = {"path": plan.baseline.path, "known": len(known)}
        report = replace(report, findings=new, extra=(*report.extra, ("baseline", summary)))
    verbose = bool(options.get("verbose"))
    for fmt, output in plan.outputs:
        render = _renderer(fmt)
        _write(render(report, verbose=verbose) if fmt in GROUPED else render(report), output)  # type: ignore[call-arg]
        if fmt == "github":
            from symaudit.report import markdown as markdown_report

            _append_step_summary(markdown_report.render(report, verbose=verbose))
    written = [output for _, output in plan.outputs if output is not None]
    if options.get("write_baseline"):
        written.append(f"baseline: {options['write_baseline']}")
    if written:
        click.echo(f"{verdict(report)} (report: {', '.join(written)})", err=True)
    return _exit_code(report, options["fail_on"])


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


def _maven_client(options: dict[str, Any], config_repos: Sequence[str], budget: float | None = None) -> Any:
    from symaudit.references.session import maven_client

    return maven_client(options["maven_repo"], options["offline"], config_repos, os.environ, _progress, budget)


def _references(package: Any, options: dict[str, Any], settings: Any) -> Any:
    """The reference analyses for the package: Maven lookups unless --no-references."""
    from symaudit.references.families import modules_for

    names = {entry.name for entry in package.libraries()}
    modules = modules_for(names)
    if not modules:  # nothing to look up: no client, and no import of the HTTP stack (~0.1 s)
        from symaudit.references.analysis import ReferenceAudit

        return ReferenceAudit(modules=modules)
    from symaudit.references.session import network_budget, reference_audit, references_enabled

    budget = network_budget(options.get("network_budget"), os.environ, settings.network_budget)
    enabled = references_enabled(options["references"], os.environ)
    client = _maven_client(options, settings.maven_repos, budget) if enabled else None
    try:
        return reference_audit(names, client)
    finally:
        if client is not None:
            client.close()


def _audit_command(paths: Sequence[str], options: dict[str, Any]) -> int:
    from dataclasses import replace

    from symaudit.analysis.platform_rules import (
        SysrootSource,
        identification,
        ndk_notice,
        platform_analyses,
        prefab_index,
    )
    from symaudit.audit import audit_package
    from symaudit.containers import open_package
    from symaudit.ignore import IgnorePattern, apply_ignores
    from symaudit.manifest import app_facts
    from symaudit.ndk import find_ndk
    from symaudit.torchmodel.analysis import ModelAudit, model_inputs

    plan = _plan(options, paths)
    ignores = [IgnorePattern.parse(text) for text in options["ignore"]]
    with open_package(list(paths)) as package:
        # --min-sdk wins over the manifest; the config's min-sdk only fills in when the manifest is silent.
        app = app_facts(package, options["min_sdk"], fallback=plan.settings.min_sdk)
        source = SysrootSource(find_ndk(options["ndk"], near=paths[0]))
        references = _references(package, options, plan.settings)
        models = ModelAudit(package, model_inputs(options.get("model") or ()))
        report = audit_package(
            package,
            abis=options["abi"] or None,
            analyses=[*platform_analyses(source), references.mismatches, models.abi_analysis],
            annotators=[identification(prefab_index(package)), references.annotator],
            package_analyses=[ndk_notice(source), references.package_result, models.package_analysis],
            app=app,
            refiners=[references.refine],
        )
    if ignores:
        report = replace(report, findings=apply_ignores(report.findings, ignores))
    return _finish(report, options, plan)


def _maven_options() -> list[Callable[..., Any]]:
    return [
        click.option("--maven-repo", multiple=True, metavar="URL",
                     help="Maven repository for reference builds (repeatable; default: "
                          "SYMAUDIT_MAVEN_REPOS, then maven-repos of the config, then Maven Central)."),
        click.option("--offline", is_flag=True, default=False,
                     help="Send no network request: use the Gradle, Maven and symaudit caches only "
                          "(also SYMAUDIT_OFFLINE=1)."),
    ]


_VERBOSE = click.option(
    "--verbose", "-v", is_flag=True, default=False,
    help="List every library, ABI and hint in the text, Markdown and GitHub reports (long lists are "
    "folded to a count by default; JSON and SARIF always list everything).",
)


def _audit_options(func: Callable[..., Any]) -> Callable[..., Any]:
    decorators = [
        click.option("--format", "format", type=click.Choice(FORMATS), multiple=True,
                     help="Report format (default text); repeatable, each followed by its own --output."),
        click.option("--output", "-o", type=click.Path(dir_okay=False), multiple=True,
                     help="Write the report of the --format before it to FILE instead of standard output."),
        click.option("--fail-on", type=click.Choice(FAIL_ON), default="error", show_default=True,
                     help="Exit 1 when a finding of this severity or worse is reported."),
        _VERBOSE,
        click.option("--abi", multiple=True, metavar="ABI",
                     help="Audit only this ABI (repeatable), e.g. --abi arm64-v8a."),
        click.option("--ignore", multiple=True, metavar="RULE[:LIBRARY[:SYMBOL]]",
                     help="Drop matching findings (repeatable; LIBRARY and SYMBOL are glob patterns)."),
        click.option("--min-sdk", type=click.IntRange(1, 100), default=None, metavar="N",
                     help="The app's minSdkVersion (default: read from the package's manifest)."),
        click.option("--ndk", type=click.Path(file_okay=False), default=None, metavar="PATH",
                     help="Android NDK to check platform symbols against (default: ANDROID_NDK_HOME, "
                          "ANDROID_NDK_ROOT, ANDROID_HOME/ndk, local.properties)."),
        click.option("--config", type=click.Path(dir_okay=False), default=None, metavar="FILE",
                     help="Settings file (default: symaudit.toml or [tool.symaudit] in pyproject.toml, "
                          "searched upward from the working directory)."),
        click.option("--baseline", type=click.Path(dir_okay=False), default=None, metavar="REPORT.json",
                     help="Report only findings that are not in this earlier JSON report."),
        click.option("--write-baseline", type=click.Path(dir_okay=False), default=None, metavar="FILE",
                     help="Also write this run's findings as a JSON report to use with --baseline."),
        *_maven_options(),
        click.option("--references/--no-references", default=True, show_default=True,
                     help="Identify packaged libtorch/fbjni builds against the Maven references "
                          "(SYMAUDIT_REFERENCES=0 also turns it off)."),
        click.option("--network-budget", type=click.FloatRange(0, 86400), default=None, metavar="SECONDS",
                     help="Most time the reference lookups may spend on the network in all, then the "
                          "audit goes on without what is missing (default 60; also "
                          "SYMAUDIT_NETWORK_BUDGET or network-budget in the config)."),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def _model_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--model", "model", multiple=True, type=click.Path(dir_okay=False), metavar="PATH",
        help="Also check this TorchScript/lite model against the package's libtorch (repeatable); "
        "models among the package's assets are checked without it.",
    )(func)


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
    what could not be checked (no NDK, no reference builds, a model without a runtime) is named
    "not checked", never OK. Exit 0: nothing at or above --fail-on; 1: something is; 2: usage
    error or unreadable input.
    """


@cli.command()
@click.argument("path")
@_audit_options
@_model_option
def apk(path: str, **options: Any) -> int:
    """Audit an APK, AAB, APKS (or any zip with lib/<abi>/ folders)."""
    return _audit_command([path], options)


@cli.command()
@click.argument("path")
@_audit_options
@_model_option
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
@click.argument("model_path", metavar="MODEL")
@click.option("--runtime", metavar="APK|AAR|SO", default=None,
              help="Check against the libtorch runtime in this package or library.")
@click.option("--format", "format", type=click.Choice(FORMATS), multiple=True,
              help="Report format (default text); repeatable, each followed by its own --output.")
@click.option("--output", "-o", type=click.Path(dir_okay=False), multiple=True,
              help="Write the report of the --format before it to FILE instead of standard output.")
@click.option("--fail-on", type=click.Choice(FAIL_ON), default="error", show_default=True,
              help="Exit 1 when a finding of this severity or worse is reported.")
@click.option("--ignore", multiple=True, metavar="RULE[:LIBRARY[:SYMBOL]]",
              help="Drop matching findings (repeatable; LIBRARY and SYMBOL are glob patterns).")
@_VERBOSE
def model(model_path: str, runtime: str | None, **options: Any) -> int:
    """Read a TorchScript (.pt) or lite (.ptl) model: versions, operators, and whether a runtime
    runs it."""
    from dataclasses import replace

    from symaudit.ignore import IgnorePattern, apply_ignores
    from symaudit.torchmodel.analysis import audit_model_file

    plan = _plan(options, (model_path, runtime))
    report = audit_model_file(model_path, runtime)
    ignores = [IgnorePattern.parse(text) for text in options["ignore"]]
    if ignores:
        report = replace(report, findings=apply_ignores(report.findings, ignores))
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
@click.option(
    "--pr",
    type=click.IntRange(1),
    default=None,
    metavar="N",
    help="Pull request number (default: from the event in GITHUB_EVENT_PATH).",
)
@click.option(
    "--api-url",
    metavar="URL",
    default=None,
    help="GitHub API URL (default: GITHUB_API_URL, else https://api.github.com).",
)
@click.option("--dry-run", is_flag=True, help="Print the comment instead of sending it; no token needed.")
def comment(report_path: str, repo: str | None, pr: int | None, api_url: str | None, dry_run: bool) -> int:
    """Post or update the sticky pull-request comment for a JSON report of an earlier run.

    The token is read from GITHUB_TOKEN only. Exit 0 when the comment is posted or updated,
    2 on a usage or API error.
    """
    from symaudit import github_comment
    from symaudit.report import markdown as markdown_report
    from symaudit.report.from_json import load_report

    report = load_report(report_path)
    target = github_comment.resolve_target(repo, pr, api_url, os.environ)
    body = github_comment.comment_body(markdown_report.render(report))
    if dry_run:
        click.echo(
            f"would create or update the comment marked {github_comment.MARKER} "
            f"on {target.repo}#{target.pr} through {target.api_url}, with this body:"
        )
        click.echo(body)
        return 0
    token = os.environ.get("GITHUB_TOKEN", "").strip()
    if not token:
        raise InputError("GITHUB_TOKEN is not set (in a workflow: env: GITHUB_TOKEN: ${{ github.token }})")
    client = github_comment.GitHubClient(target.api_url, token, max_wait=github_comment.max_wait(os.environ))
    try:
        outcome = client.upsert(target, body)
    finally:
        client.close()
    where = outcome.html_url or f"#{outcome.comment_id}"
    click.echo(f"symaudit: {outcome.action} comment {where} on {target.repo}#{target.pr}")
    return 0


def _maven_settings(config: str | None) -> Sequence[str]:
    """``maven-repos`` of the config file (None: the one found upward from the working directory)."""
    from pathlib import Path

    from symaudit.config import settings_for

    return settings_for(config, Path.cwd()).maven_repos


def _store(options: dict[str, Any]) -> Any:
    from symaudit.references.store import ReferenceStore

    return ReferenceStore(_maven_client(options, _maven_settings(options.get("config"))))


_REFS_OPTIONS = [
    *_maven_options(),
    click.option("--config", type=click.Path(dir_okay=False), default=None, metavar="FILE",
                 help="Settings file for maven-repos (default: searched upward)."),
]


def _with(options: list[Callable[..., Any]]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        for decorator in reversed(options):
            func = decorator(func)
        return func

    return decorate


@cli.group()
def refs() -> None:
    """Reference builds from Maven (org.pytorch:pytorch_android[_lite], com.facebook.fbjni:fbjni)."""


@refs.command("fetch")
@click.argument("coordinates", nargs=-1, required=True, metavar="GROUP:ARTIFACT[:VERSION]...")
@_with(_REFS_OPTIONS)
def refs_fetch(coordinates: tuple[str, ...], **options: Any) -> int:
    """Fetch reference AARs (every version in maven-metadata.xml when no version is given) and
    cache their manifests. Local Gradle and Maven caches are used first."""
    from symaudit.maven.coordinates import Coordinate

    parsed = [Coordinate.parse(text) for text in coordinates]
    store = _store(options)
    failed = 0
    try:
        for coordinate in parsed:
            versions = [coordinate.version] if coordinate.version else store.versions(coordinate)
            for version in versions:
                wanted = coordinate.with_version(version)
                try:
                    manifest = store.manifest(wanted)
                except SymauditError as exc:
                    if len(parsed) == 1 and len(versions) == 1:
                        raise
                    click.echo(f"symaudit: error: {exc}", err=True)
                    failed += 1
                    continue
                abis = ", ".join(manifest.abis) or "no native libraries"
                click.echo(f"{wanted}  sha256:{manifest.sha256[:16]}  {len(manifest.libraries)} libraries ({abis})")
    finally:
        store.client.close()
    return 2 if failed else 0


@refs.command("list")
@_with(_REFS_OPTIONS)
def refs_list(**options: Any) -> int:
    """List the references in symaudit's cache."""
    store = _store(options)
    rows = []
    for coordinate, entry in store.client.cache.indexed():
        manifest = "manifest" if store.client.cache.manifest_path(entry["sha256"]).is_file() else "no manifest"
        rows.append(f"{coordinate}  sha256:{str(entry['sha256'])[:16]}  {entry.get('origin', '?')}  {manifest}")
    click.echo("\n".join(rows) if rows else f"no references cached in {store.client.cache.root}")
    return 0


@refs.command("show")
@click.argument("coordinate", metavar="GROUP:ARTIFACT:VERSION")
@click.option("--abi", default=None, metavar="ABI", help="Show only this ABI.")
@click.option("--format", "format", type=click.Choice(("text", "json")), default="text", show_default=True)
@_with(_REFS_OPTIONS)
def refs_show(coordinate: str, abi: str | None, format: str, **options: Any) -> int:
    """Show a reference's libraries: sha256, soname, needed, NDK, export and import counts."""
    import json

    from symaudit.maven.coordinates import Coordinate
    from symaudit.references.manifest import to_json

    parsed = Coordinate.parse(coordinate)
    if parsed.version is None:
        raise InputError(f"{coordinate}: name a version (group:artifact:version)")
    store = _store(options)
    try:
        manifest = store.manifest(parsed)
    finally:
        store.client.close()
    libraries = [lib for lib in manifest.libraries if abi is None or lib.abi == abi]
    if abi is not None and not libraries:
        raise InputError(f"{parsed}: no library for ABI {abi} (found: {', '.join(manifest.abis)})")
    if format == "json":
        data = to_json(manifest)
        data["libraries"] = [d for d in data["libraries"] if abi is None or d["abi"] == abi]
        click.echo(json.dumps(data, indent=2))
        return 0
    click.echo(f"{manifest.coordinate}  sha256:{manifest.sha256}")
    for lib in libraries:
        click.echo(
            f"  {lib.abi}/{lib.name}  soname={lib.soname}  ndk={lib.ndk or '?'}  "
            f"exports={len(lib.exports)}  imports={len(lib.imports)}  needed={','.join(lib.needed)}"
        )
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
    from symaudit.diff import diff, load_side
    from symaudit.report.diff import render_json, render_text

    if output is not None:
        _check_outputs_spare_inputs([output], [a, b, options.get("config")])
    store: Any = None

    def manifest_for(coordinate: Any) -> Any:
        nonlocal store
        if store is None:
            store = _store(options)
        return store.manifest(coordinate)

    try:
        result = diff(load_side(a, abi, library, manifest_for), load_side(b, abi, library, manifest_for))
    finally:
        if store is not None:
            store.client.close()
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
