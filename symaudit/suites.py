"""Which analyses an audit runs, and in what order: the one place that wires them.

``symaudit apk``/``aar``/``libs`` run :func:`app_suite` over the opened package;
``symaudit model`` runs :func:`model_suite` over the runtime it is given. The engine
(:func:`symaudit.audit.audit_package`) parses each ABI, resolves its load groups and reports
what cannot be parsed or loaded (``corrupt-library``, ``wrong-arch``, ``missing-library``,
``unresolved-symbol``); everything else is a line here. A new rule lives in its rule module
(:mod:`symaudit.rules`), is raised by its analysis, and is switched on by one line of a suite.

The analyses are imported inside the functions that need them, after the input is opened:
opening starts the hash worker (:mod:`symaudit.containers.digests`) on the input, and it reads
while some 60 ms of modules load.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from symaudit.containers import open_package
from symaudit.containers.base import Package
from symaudit.containers.folder import read_regular
from symaudit.errors import InputError
from symaudit.ignore import IgnorePattern, apply_ignores
from symaudit.maven.coordinates import Coordinate
from symaudit.results import InputRecord, Report

if TYPE_CHECKING:  # the HTTP stack is imported only by a run that looks references up
    from pathlib import Path

    from symaudit.analysis.context import Suite
    from symaudit.analysis.platform_rules import SysrootSource
    from symaudit.maven.client import MavenClient
    from symaudit.references.analysis import ReferenceAudit
    from symaudit.torchmodel.analysis import ModelAudit, ModelInput


def app_suite(package: Package, ndk: SysrootSource, references: ReferenceAudit, models: ModelAudit) -> Suite:
    """``apk``, ``aar`` and ``libs``: every rule, in report order."""
    from symaudit.analysis.aar import outside_aar
    from symaudit.analysis.abi_coverage import abi_coverage
    from symaudit.analysis.context import Suite
    from symaudit.analysis.platform_rules import (
        AssumedMinSdk,
        api_level_above_min_sdk,
        elf_features,
        identification,
        load_align_16k,
        ndk_notice,
        platform_symbols,
        private_platform_library,
        stl_mixed,
        stl_ndk_mismatch,
        zip_align_16k,
    )
    from symaudit.containers.prefab import prefab_index

    assumed = AssumedMinSdk()
    return Suite(
        analyses=(
            assumed.record,
            stl_mixed,
            stl_ndk_mismatch,
            api_level_above_min_sdk,
            platform_symbols(ndk),
            private_platform_library,
            load_align_16k,
            zip_align_16k,
            elf_features,
            references.mismatches,
            models.abi_analysis,
        ),
        annotators=(identification(prefab_index(package)), references.annotator),
        refiners=(outside_aar, references.refine),
        package_analyses=(
            abi_coverage,
            assumed.notice,
            ndk_notice(ndk),
            references.package_result,
            models.package_analysis,
        ),
    )


def model_suite(models: ModelAudit, references: ReferenceAudit) -> Suite:
    """``model --runtime``: the runtime's operator registry and its identification (for the
    release's version limits), then the model checks."""
    from symaudit.analysis.context import Suite

    return Suite(
        analyses=(models.abi_analysis,),
        annotators=(references.annotator,),
        package_analyses=(models.package_analysis,),
    )


@dataclass(frozen=True, slots=True)
class AppRequest:
    """What ``apk``/``aar``/``libs`` were asked to audit (options merged with the config file)."""

    paths: Sequence[str]
    abis: Sequence[str] = ()
    min_sdk: int | None = None
    ndk: str | None = None
    models: Sequence[str] = ()
    ignore: Sequence[str] = ()
    min_sdk_fallback: int | None = None
    """The config's ``min-sdk``: used only when the manifest does not say (``--min-sdk`` wins)."""


MavenClients = Callable[[], "MavenClient"]
"""Makes the Maven client of a run that needs reference lookups; not called when none does."""


def references_enabled(flag: bool, env: Mapping[str, str]) -> bool:
    """``--no-references`` or ``SYMAUDIT_REFERENCES=0`` turns the Maven lookups off. Decided here,
    not in :mod:`symaudit.references.session`: importing that imports the HTTP stack (~10 MiB,
    ~0.1 s), which a package with no reference library never needs."""
    return flag and env.get("SYMAUDIT_REFERENCES", "").strip().lower() not in ("0", "false", "no", "off")


def audit_app(request: AppRequest, maven: MavenClients | None) -> Report:
    """The report of an app audit; ``maven`` None turns the reference lookups off."""
    ignores = _ignores(request.ignore)
    with open_package(list(request.paths)) as package:
        # The analyses are imported once the input is open: the hash worker
        # (symaudit.containers.digests) is then already reading it.
        from symaudit.analysis.platform_rules import SysrootSource
        from symaudit.audit import audit_package
        from symaudit.containers.android_manifest import app_facts
        from symaudit.ndk import find_ndk
        from symaudit.torchmodel.analysis import ModelAudit

        app = app_facts(package, request.min_sdk, fallback=request.min_sdk_fallback)
        source = SysrootSource(find_ndk(request.ndk, near=request.paths[0]))
        references = _references(package, maven)
        models = ModelAudit(package, _model_inputs(request.models))
        report = audit_package(
            package, app_suite(package, source, references, models), abis=request.abis or None, app=app
        )
    return _ignored(report, ignores)


def audit_model_file(
    model_path: str,
    runtime: str | None,
    ignore: Sequence[str] = (),
    maven: MavenClients | None = None,
    identify: bool = True,
) -> Report:
    """``symaudit model``: one model file, checked against the runtime ``runtime`` names when
    given: an APK, AAR or ``.so``, or a Maven coordinate (its AAR fetched like a reference). The
    versions are judged when the runtime's release is known: the coordinate, or what the
    reference lookups identify (``identify`` False or ``maven`` None turns them off). Only model findings are
    reported: the runtime package's own load problems are ``symaudit apk``'s business."""
    from symaudit.audit import audit_package
    from symaudit.rules.models import RULES as MODEL_RULES
    from symaudit.torchmodel.analysis import ModelAudit, ModelInput, audit_model

    ignores = _ignores(ignore)
    model_input = ModelInput(model_path, read_regular(model_path, model_path))
    if runtime is None:
        findings, entry = audit_model(model_input, [])
        report = Report(
            input=InputRecord(model_path, "model", str(entry["sha256"])),
            libraries=(),
            findings=tuple(findings),
            extra=(("models", [entry]), ("scope", "models")),
        )
        return _ignored(report, ignores)
    coordinate = _runtime_coordinate(runtime)
    runtime_path = runtime if coordinate is None else str(_runtime_artifact(coordinate, maven))
    release = None if coordinate is None else str(coordinate)
    with open_package([runtime_path]) as package:
        models = ModelAudit(package, [model_input], discover=False, release=release)
        references = _references(package, maven if release is None and identify else None)
        report = audit_package(package, model_suite(models, references))
    if not models.found_runtime:
        raise InputError(
            f"{runtime}: no libtorch operator registry found (no library with operator schema strings)"
        )
    model_ids = {rule.id for rule in MODEL_RULES}
    # "scope": the runtime's libraries were read to identify it, not audited: no verdict on them.
    report = replace(
        report,
        findings=tuple(f for f in report.findings if f.rule in model_ids),
        extra=(*report.extra, ("scope", "models")),
    )
    if release is not None:  # the input is the release, not where the cache keeps its AAR
        report = replace(report, input=replace(report.input, path=release))
    return _ignored(report, ignores)


def _runtime_coordinate(text: str) -> Coordinate | None:
    """The coordinate ``--runtime`` names, or None when it is a path (a file that exists, or text
    that is not ``group:artifact:version``)."""
    if os.path.exists(text) or not Coordinate.looks_like(text):
        return None
    coordinate = Coordinate.parse(text)
    if coordinate.version is None:
        raise InputError(f"{text}: --runtime needs a version (GROUP:ARTIFACT:VERSION)")
    return coordinate


def _runtime_artifact(coordinate: Coordinate, maven: MavenClients | None) -> Path:
    """The runtime AAR of ``model --runtime GROUP:ARTIFACT:VERSION``, through the reference store."""
    from symaudit.references.runtime import runtime_artifact
    from symaudit.references.store import ReferenceStore

    if maven is None:
        raise InputError(f"{coordinate}: a Maven coordinate as --runtime needs the reference lookups")
    client = maven()
    try:
        return runtime_artifact(ReferenceStore(client), coordinate)
    finally:
        client.close()


def _ignores(texts: Sequence[str]) -> list[IgnorePattern]:
    """Parsed before the audit: a typo in a pattern costs no audit time."""
    return [IgnorePattern.parse(text) for text in texts]


def _ignored(report: Report, ignores: Sequence[IgnorePattern]) -> Report:
    if not ignores:
        return report
    return replace(report, findings=apply_ignores(report.findings, ignores))


def _model_inputs(paths: Sequence[str]) -> list[ModelInput]:
    """``--model`` files, read now: a file that cannot be opened is a usage error (exit 2)."""
    from symaudit.torchmodel.analysis import ModelInput

    return [ModelInput(path, read_regular(path, path)) for path in paths]


def _references(package: Package, maven: MavenClients | None) -> ReferenceAudit:
    """The reference analyses for the package: Maven lookups when a client may be made."""
    from symaudit.references.analysis import ReferenceAudit
    from symaudit.references.families import modules_for

    names = {entry.name for entry in package.libraries()}
    modules = modules_for(names)
    if not modules:  # nothing to look up: no client, and no import of the HTTP stack (~0.1 s)
        return ReferenceAudit(modules=modules)
    from symaudit.references.session import reference_audit

    client = maven() if maven is not None else None
    try:
        abis = sorted({entry.abi for entry in package.libraries() if entry.abi is not None})
        loose = any(entry.abi is None for entry in package.libraries())
        return reference_audit(names, client, None if loose or not abis else abis)
    finally:
        if client is not None:
            client.close()
