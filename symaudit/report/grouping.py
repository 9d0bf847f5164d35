"""What the human-facing formats (text, Markdown, GitHub) share: findings grouped, horizons, the
verdict, what was not checked, and each library's identification.

The JSON report keeps one finding per ABI and library (its contract); here findings that repeat
across ABIs or libraries (same rule and symbol or needed library) become one :class:`Group`, and
the verdict names who crashes and where: on every device, below an API level, on 16 KB-page
devices, and the hazards. Which horizon a finding belongs to comes from its rule
(:attr:`Rule.horizon` and its API facts), never from the words of its message.

Every string built here is plain and unescaped: each renderer escapes untrusted names for its sink
(:mod:`symaudit.report.escape`), and the functions that compose text take the escaping function.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from symaudit.demangle import readable
from symaudit.findings import Finding, Horizon, Rule, Severity, extra_field
from symaudit.report.escape import terminal
from symaudit.report.json import finding_dict, library_dict
from symaudit.results import Report
from symaudit.rules import RULES_BY_ID

Escape = Callable[[str], str]

FOLD = 5
"""Lists longer than this are folded to a count unless ``--verbose``."""

_HORIZON_ORDER = {Horizon.EVERY_DEVICE: 0, Horizon.BELOW_API: 1, Horizon.PAGE_16K: 2, Horizon.NOT_CHECKED: 3}


def horizon_of(finding: Finding) -> tuple[Horizon, int | None]:
    """The devices ``finding`` fails on, from its rule: (horizon, API level for ``BELOW_API``).

    A ``BELOW_API`` rule whose API fact is null (a platform symbol no API level defines) fails on
    every device.
    """
    rule = RULES_BY_ID.get(finding.rule)
    if rule is None:
        return Horizon.EVERY_DEVICE, None
    if rule.horizon is not Horizon.BELOW_API:
        return rule.horizon, None
    api: object = rule.below_api
    if rule.api_fact is not None:
        api = finding_dict(finding).get(rule.api_fact)
    if not isinstance(api, int) or isinstance(api, bool):
        return Horizon.EVERY_DEVICE, None
    return Horizon.BELOW_API, api


def subject(finding: Finding) -> str:
    """The symbol (demangled, with its version) or the needed library the finding is about."""
    if finding.symbol:
        shown = readable(finding.symbol)
        return f"{shown}@{finding.version}" if finding.version else shown
    return finding.needed or ""


def device_line(finding: Finding) -> str | None:
    """What the device prints for ``finding`` (bionic's wording), when symaudit can quote it."""
    rule = RULES_BY_ID.get(finding.rule)
    if rule is None or rule.device is None:
        return None
    try:
        return rule.device.format_map(finding_dict(finding))
    except (KeyError, IndexError, ValueError, AttributeError):
        return None


def explanation(finding: Finding) -> str | None:
    """symaudit's own words about ``finding``, unless the device line already says all of it."""
    device = device_line(finding)
    if device is not None and device.startswith(finding.message):
        return None
    return finding.message or None


@dataclass(frozen=True)
class Group:
    """Findings of one rule about one symbol or needed library (or none), at one severity."""

    rule: str
    severity: Severity
    horizon: Horizon
    api: int | None
    subject: str
    findings: tuple[Finding, ...]

    @property
    def abis(self) -> list[str]:
        return sorted({f.abi for f in self.findings if f.abi})

    @property
    def libraries(self) -> list[str]:
        return sorted({f.library for f in self.findings if f.library})

    @property
    def hints(self) -> list[str]:
        return list(dict.fromkeys(f.hint for f in self.findings if f.hint))

    @property
    def first(self) -> Finding:
        return self.findings[0]

    @property
    def where(self) -> str:
        """The devices it fails on, in words."""
        if self.severity is not Severity.ERROR:
            return "hazard" if self.severity is Severity.WARNING else "note"
        return _WHERE[self.horizon].format(api=self.api)


_WHERE = {
    Horizon.EVERY_DEVICE: "fails on every device",
    Horizon.BELOW_API: "fails below API {api}",
    Horizon.PAGE_16K: "fails on 16 KB-page devices",
    Horizon.NOT_CHECKED: "not checked",
}


_REGISTRY_ORDER = {rule_id: position for position, rule_id in enumerate(RULES_BY_ID)}


def _rank(group: Group) -> tuple[int, int, int, int, str, str]:
    """Severity, horizon, API level (highest first), then the registry's order of rules (what the
    linker itself refuses before the analyses that explain it)."""
    return (
        -group.severity.rank,
        _HORIZON_ORDER[group.horizon],
        -(group.api or 0),
        _REGISTRY_ORDER.get(group.rule, len(_REGISTRY_ORDER)),
        group.rule,
        group.subject,
    )


def groups(findings: Iterable[Finding]) -> list[Group]:
    """Findings grouped by (severity, horizon, rule, symbol or needed library), most important
    first: load failures on every device, then below an API level (highest first), then 16 KB
    pages, then warnings and notes. ``NOT_CHECKED`` findings are left out (see :func:`not_checked`)."""
    buckets: dict[tuple[Any, ...], list[Finding]] = {}
    for finding in findings:
        horizon, api = horizon_of(finding)
        if horizon is Horizon.NOT_CHECKED:
            continue
        key = (finding.severity, horizon, api, finding.rule, finding.symbol, finding.version, finding.needed)
        buckets.setdefault(key, []).append(finding)
    result = [
        Group(rule, severity, horizon, api, subject(members[0]), tuple(members))
        for (severity, horizon, api, rule, *_), members in buckets.items()
    ]
    return sorted(result, key=_rank)


def fold(names: Sequence[str], verbose: bool, limit: int = FOLD) -> str:
    """``a, b, c and 12 more`` (all of them when ``verbose``)."""
    if verbose or len(names) <= limit:
        return ", ".join(names)
    return f"{', '.join(names[:limit])} and {len(names) - limit} more"


# -- what was not checked -------------------------------------------------------------------------


def not_checked(report: Report) -> list[str]:
    """What the audit could not check, in words: never reported as OK."""
    items: list[str] = []
    for finding in report.findings:
        rule = RULES_BY_ID.get(finding.rule)
        if rule is not None and rule.horizon is Horizon.NOT_CHECKED and rule.not_checked:
            said = dict(finding.extra)
            if "not_checked" in said and said["not_checked"] is None:
                continue  # the finding says it left nothing unchecked
            # A finding may say precisely what it did not check (which level, which libraries).
            items.append(extra_field(finding.extra, "not_checked", str) or rule.not_checked)
    for model in _models(report):
        if model.get("error") is not None:
            continue
        runtimes = [r for r in model.get("runtimes") or [] if isinstance(r, Mapping)]
        if not runtimes:
            items.append(f"model {model.get('path')} (no libtorch runtime to check it against)")
        elif all(
            r.get("max_bytecode_version") is None and r.get("max_file_format_version") is None
            for r in runtimes
        ):
            items.append(f"model {model.get('path')} versions (runtime release not identified)")
    return list(dict.fromkeys(items))


def _models(report: Report) -> list[Mapping[str, Any]]:
    models = dict(report.extra).get("models")
    if not isinstance(models, list):
        return []
    return [m for m in models if isinstance(m, Mapping)]


def models_checked(report: Report) -> int:
    return sum(1 for m in _models(report) if m.get("runtimes"))


# -- the verdict ----------------------------------------------------------------------------------


def _who(names: Sequence[str], name: Escape) -> str:
    return name(names[0]) if len(names) == 1 else f"{len(names)} libraries"


def _abis(findings: Iterable[Finding]) -> str:
    return ", ".join(sorted({f.abi for f in findings if f.abi}))


def verdict_clauses(report: Report, name: Escape = terminal) -> list[str]:
    """One clause per horizon with errors: who cannot load, where, on which ABIs."""
    errors = [g for g in groups(report.findings) if g.severity is Severity.ERROR]
    clauses: list[str] = []
    buckets: dict[tuple[Horizon, int | None], list[Finding]] = {}
    for group in errors:
        buckets.setdefault((group.horizon, group.api), []).extend(group.findings)
    for (horizon, api), members in buckets.items():
        libraries = sorted({f.library for f in members if f.library})
        who = _who(libraries, name) if libraries else "the package"
        where = {
            Horizon.EVERY_DEVICE: "on any device",
            Horizon.BELOW_API: f"below API {api}",
            Horizon.PAGE_16K: "on 16 KB-page devices",
        }.get(horizon, "")
        abis = _abis(members)
        clauses.append(f"{who} cannot load {where}" + (f" ({abis})" if abis else ""))
    return clauses


def verdict(report: Report, name: Escape = terminal) -> str:
    """The one line a developer reads first: FAIL / WARN / OK / NOT CHECKED, who and where.

    The word follows the severities (``--fail-on`` and the exit code are decided elsewhere, from
    the same severities); what could not be checked is named, never counted as OK.
    """
    errors, warnings = report.count("error"), report.count("warning")
    skipped = not_checked(report)
    tail = ""
    if skipped:
        tail = "; not checked: " + ", ".join(name(item) for item in skipped)
    abis = sorted({r.abi for r in report.libraries})
    if errors:
        line = "FAIL: " + "; ".join(verdict_clauses(report, name))
        if warnings:
            line += f"; {warnings} warning(s)"
        return line + tail
    models_only = dict(report.extra).get("scope") == "models"
    checked = (0 if models_only else len(report.libraries)) + models_checked(report)
    if warnings:
        return f"WARN: no load failure predicted; {warnings} warning(s)" + tail
    if checked == 0:
        what = ", ".join(name(item) for item in skipped) or "no native library and no model in the input"
        return f"NOT CHECKED: {what}"
    parts = []
    if report.libraries and not models_only:
        parts.append(f"{len(report.libraries)} libraries in {len(abis)} ABI(s) will load")
    if models_checked(report):
        parts.append(f"{models_checked(report)} model(s) have every operator in their runtime")
    return "OK: " + "; ".join(parts) + tail


# -- identification -------------------------------------------------------------------------------


@dataclass(frozen=True)
class IdentityRow:
    abis: tuple[str, ...]
    ndk: str
    stl: str
    page_16k: str
    reference: str
    libraries: tuple[str, ...]


def _ndk(data: Mapping[str, Any]) -> str:
    ndk = data.get("ndk")
    if not isinstance(ndk, Mapping):
        return "?"
    release = ndk.get("release") or (f"build {ndk['build']}" if ndk.get("build") else None) or "?"
    api = ndk.get("api")
    return f"{release} API {api}" if api is not None else str(release)


def _reference(data: Mapping[str, Any]) -> str:
    ref = data.get("reference")
    if isinstance(ref, Mapping) and ref.get("coordinate"):
        match = ref.get("match")
        return f"{ref['coordinate']}" + (f" ({match})" if match and match != "exact" else "")
    return "-"


def identity_rows(
    report: Report, page_16k_abis: Sequence[str] = ("arm64-v8a", "x86_64")
) -> list[IdentityRow]:
    """Each library's NDK (release and API level), STL, 16 KB readiness and reference match;
    a library's identical rows across ABIs become one, then libraries with identical facts share it.

    16 KB readiness is about the 64-bit ABIs (32-bit ones are exempt, REFERENCE.md 5): ``yes`` when
    no 16 KB finding names the library there, ``n/a`` when the row has no 64-bit ABI.
    """
    unaligned = {
        (f.abi, f.library)
        for f in report.findings
        if (rule := RULES_BY_ID.get(f.rule)) is not None and rule.horizon is Horizon.PAGE_16K
    }
    per_library: dict[tuple[str, str, str, str], list[str]] = {}
    unreadable: dict[str, list[str]] = {}
    for record in report.libraries:
        if record.error:
            unreadable.setdefault(record.name, []).append(record.abi)
            continue
        data = library_dict(record)
        key = (record.name, _ndk(data), str(data.get("stl") or "?"), _reference(data))
        per_library.setdefault(key, []).append(record.abi)
    rows: dict[tuple[tuple[str, ...], str, str, str, str], list[str]] = {}
    for (library, ndk, stl, reference), abis in per_library.items():
        wide = [abi for abi in abis if abi in page_16k_abis]
        ready = "n/a" if not wide else "no" if any((abi, library) in unaligned for abi in wide) else "yes"
        rows.setdefault((tuple(sorted(abis)), ndk, stl, ready, reference), []).append(library)
    for library, abis in unreadable.items():
        rows.setdefault((tuple(sorted(abis)), "unreadable", "?", "?", "-"), []).append(library)
    return [
        IdentityRow(abis, ndk, stl, ready, reference, tuple(sorted(libraries)))
        for (abis, ndk, stl, ready, reference), libraries in sorted(
            rows.items(), key=lambda kv: (-len(kv[0][0]), kv[0], kv[1])
        )
    ]


def suggestion_change(finding: Finding, code: Escape | None = None) -> str | None:
    """ "`old` is gone; 2.1.0 has `new`" from an unresolved symbol's ``suggestion`` fact; ``code``
    renders a name as code (backticks by default)."""
    suggestion = finding_dict(finding).get("suggestion")
    if not finding.symbol or not isinstance(suggestion, Mapping) or not suggestion.get("symbol"):
        return None
    quote = code or (lambda text: f"`{text}`")
    coordinate = suggestion.get("coordinate")
    where = str(coordinate).rsplit(":", 1)[-1] if coordinate else str(suggestion.get("library"))
    verb = "has" if suggestion.get("kind") == "same-function" else "has a similar"
    place = code(where) if code is not None else where
    return (
        f"{quote(readable(finding.symbol))} is gone; {place} {verb} "
        f"{quote(readable(str(suggestion['symbol'])))}"
    )


def libraries_by_abis(group: Group) -> list[tuple[list[str], list[str]]]:
    """[(libraries, their ABIs)]: libraries that fail on the same ABIs listed together."""
    abis_of: dict[str, set[str]] = {}
    for finding in group.findings:
        abis_of.setdefault(finding.library or "(package)", set()).update([finding.abi] if finding.abi else [])
    together: dict[tuple[str, ...], list[str]] = {}
    for library, abis in sorted(abis_of.items()):
        together.setdefault(tuple(sorted(abis)), []).append(library)
    return [
        (libraries, list(abis)) for abis, libraries in sorted(together.items(), key=lambda kv: -len(kv[1]))
    ]


def rule_of(finding: Finding) -> Rule | None:
    return RULES_BY_ID.get(finding.rule)
