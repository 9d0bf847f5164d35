"""The model check inside an audit: an ABI analysis that reads each ABI's libtorch operator
registry while the ABI is in memory, and a package analysis that reads the models (named with
``--model`` or found among the package's assets) and checks each against every ABI's runtime.

The two halves share one :class:`ModelAudit` made for one opened package; only the registries
(sets of operator names) outlive an ABI, never a library's bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from symaudit.analysis.context import AbiContext, PackageResult
from symaudit.containers.base import Package
from symaudit.containers.model_assets import ModelInput, discover_models
from symaudit.errors import InputError
from symaudit.findings import Finding
from symaudit.results import Report
from symaudit.torchmodel.check import Runtime, check_model, unreadable
from symaudit.torchmodel.model import ModelError, TorchModel
from symaudit.torchmodel.reader import is_model_bytes, read_model
from symaudit.torchmodel.runtime import RuntimeOperators, may_be_runtime, registered_operators
from symaudit.torchmodel.versions import limits_for, parse_version


class ModelAudit:
    """One audit's model check: pass :meth:`abi_analysis` and :meth:`package_analysis` to
    :func:`symaudit.audit.audit_package` for the same package (:mod:`symaudit.suites` does)."""

    def __init__(self, package: Package, models: Sequence[ModelInput] = (), discover: bool = True) -> None:
        self._package = package
        self._explicit = list(models)
        self._discover = discover
        self._registries: dict[str, tuple[tuple[str, ...], RuntimeOperators]] = {}
        self._inputs: list[ModelInput] | None = None

    def models(self) -> list[ModelInput]:
        """The explicit models, then the ones found among the package's members (found once)."""
        if self._inputs is None:
            inputs = list(self._explicit)
            if self._discover:
                named = {model.path for model in inputs}
                inputs.extend(m for m in discover_models(self._package, is_model_bytes) if m.path not in named)
            self._inputs = inputs
        return self._inputs

    @property
    def found_runtime(self) -> bool:
        return bool(self._registries)

    def abi_analysis(self, context: AbiContext) -> Iterable[Finding]:
        if not self.models():
            return ()  # no model to check: do not re-read and scan the runtime libraries
        names: list[str] = []
        operators = RuntimeOperators(frozenset(), frozenset())
        for name, library in sorted(context.libraries.items()):
            entry = context.entries.get(name)
            if entry is None or not may_be_runtime(name, library):
                continue
            try:
                data = self._package.read(entry)
            except InputError:
                continue  # the audit already reported the library as unreadable
            found = registered_operators(data, library)
            if len(found):
                names.append(name)
                operators = operators.union(found)
        if names:
            self._registries[context.abi] = (tuple(names), operators)
        return ()

    def runtimes(self, report: Report) -> list[Runtime]:
        runtimes: list[Runtime] = []
        for abi, (names, operators) in sorted(self._registries.items()):
            reference = None
            for record in report.libraries:
                if record.abi == abi and record.name in names and record.reference is not None:
                    reference = reference or record.reference.coordinate
            limits = limits_for(reference) if reference is not None else None
            runtimes.append(Runtime(abi, names, operators, reference, limits))
        return runtimes

    def package_analysis(self, package: Package, report: Report) -> PackageResult:
        inputs = self.models()
        runtimes = self.runtimes(report)
        findings: list[Finding] = []
        entries: list[dict[str, object]] = []
        for model_input in inputs:
            model_findings, entry = audit_model(model_input, runtimes)
            findings.extend(model_findings)
            entries.append(entry)
        if not entries:
            return PackageResult()
        return PackageResult(findings=tuple(findings), fields=(("models", entries),))


def audit_model(
    model_input: ModelInput, runtimes: Sequence[Runtime]
) -> tuple[list[Finding], dict[str, object]]:
    """Findings for one model against each runtime, and its entry of the report's ``models``."""
    path = model_input.path
    entry: dict[str, object] = {
        "path": path,
        "sha256": hashlib.sha256(model_input.data).hexdigest() if model_input.data is not None else None,
        "kind": None,
        "bytecode_version": None,
        "file_format_version": None,
        "operators": None,
        "operator_source": None,
        "runtimes": [],
        "error": None,
    }
    model: TorchModel | None = None
    error = model_input.error
    if model_input.data is not None:
        try:
            model = read_model(model_input.data)
        except ModelError as exc:
            error = str(exc)
    if model is None:
        entry["error"] = error or "unreadable"
        return [unreadable(path, str(entry["error"]))], entry
    entry.update(
        kind=model.kind.value,
        bytecode_version=model.bytecode_version,
        file_format_version=model.file_format_version,
        operators=len(model.operators),
        operator_source=model.operator_source.value,
        operator_names=[op.qualified for op in model.operators],
        extra_files=list(model.extra_files),
    )
    findings: list[Finding] = []
    checked: list[dict[str, object]] = []
    for runtime in runtimes:
        findings.extend(check_model(path, model, runtime))
        checked.append(runtime_dict(runtime))
    entry["runtimes"] = checked
    if not runtimes:
        entry["note"] = "no libtorch runtime found: operators and versions not checked"
    return findings, entry


def runtime_dict(runtime: Runtime) -> dict[str, object]:
    limits = runtime.limits
    if limits is not None:
        version_check = f"versions checked against libtorch {limits.version}"
    elif runtime.reference is not None and parse_version(runtime.reference) is not None:
        version_check = f"no version limits known for {runtime.reference}: operator presence only"
    else:
        version_check = "runtime version not identified: operator presence only"
    return {
        "abi": runtime.abi,
        "libraries": list(runtime.libraries),
        "operators": len(runtime.operators),
        "reference": runtime.reference,
        "max_bytecode_version": limits.max_bytecode_version if limits else None,
        "max_file_format_version": limits.max_file_format_version if limits else None,
        "version_check": version_check,
    }
