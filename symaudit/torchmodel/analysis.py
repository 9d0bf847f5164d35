"""The model check inside an audit: an ABI analysis that reads each ABI's libtorch operator
registry while the ABI is in memory, and a package analysis that reads the models (named with
``--model`` or found among the package's assets) and checks each against every ABI's runtime.

The two halves share one :class:`ModelAudit` made for one opened package; only the registries
(sets of operator names) outlive an ABI, never a library's bytes.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING

from symaudit.analysis.context import AbiContext, PackageResult
from symaudit.containers.base import LibraryEntry, Package, library_bytes, member_reason
from symaudit.containers.model_assets import model_candidates
from symaudit.elf.model import ElfLibrary
from symaudit.errors import InputError
from symaudit.findings import Finding
from symaudit.results import Report

if TYPE_CHECKING:  # the model readers and checks are imported when there is a model to read
    from symaudit.torchmodel.check import Runtime
    from symaudit.torchmodel.model import TorchModel
    from symaudit.torchmodel.runtime import RuntimeOperators


@dataclass(frozen=True, slots=True)
class ModelInput:
    path: str
    """Where the model is: a member path (``assets/final.zip``) or a file named on the command line."""
    data: bytes | None
    error: str | None = None
    sha256: str | None = None
    """Of a model already read (``data`` is then None)."""
    model: TorchModel | None = None
    """The model already read, when it could be."""


_DIGEST_CHUNK = 1 << 20


def read_input(path: str, fp: IO[bytes]) -> ModelInput:
    """Reads one model from an open file into the small record the audit keeps: its digest and
    its operators, or the reason it is unreadable. The bytes are not kept, so a package's models
    are held one at a time (150 assets of 16 MiB cost 16 MiB, not 2.4 GB)."""
    from symaudit.torchmodel.model import ModelError
    from symaudit.torchmodel.reader import read_model

    digest = hashlib.sha256()
    fp.seek(0)
    while chunk := fp.read(_DIGEST_CHUNK):
        digest.update(chunk)
    try:
        return ModelInput(path, None, None, digest.hexdigest(), read_model(fp))
    except ModelError as exc:
        return ModelInput(path, None, str(exc), digest.hexdigest())


def discover_models(package: Package) -> list[ModelInput]:
    """Every model among the package's model candidates (:func:`model_candidates`): named ones
    always, sniffed assets when their bytes are a TorchScript zip. Each is read and dropped
    before the next."""
    found: list[ModelInput] = []
    for member, named in model_candidates(package):
        from symaudit.torchmodel.reader import is_model_bytes  # a candidate: the model reader is needed

        try:
            fp = package.open_member(member)
        except InputError as exc:
            if named:
                found.append(ModelInput(member, None, member_reason(str(exc), member)))
            continue
        with fp:
            if named or is_model_bytes(fp):
                found.append(read_input(member, fp))
    return found


def _scan_runtime(package: Package, entry: LibraryEntry, library: ElfLibrary) -> RuntimeOperators:
    """The library's operator registry, scanned where it lies (:func:`library_bytes`: mapped
    from the package, or from the unnamed file a large inflated member was spilled to)."""
    from symaudit.torchmodel.runtime import registered_operators

    with library_bytes(package, entry) as (data, _):
        return registered_operators(data, library)


class ModelAudit:
    """One audit's model check: pass :meth:`abi_analysis` and :meth:`package_analysis` to
    :func:`symaudit.audit.audit_package` for the same package (:mod:`symaudit.suites` does)."""

    def __init__(
        self, package: Package, models: Sequence[ModelInput] = (), discover: bool = True, release: str | None = None
    ) -> None:
        """``release``: the Maven coordinate the package is known to be (``model --runtime
        COORDINATE``); otherwise each ABI's runtime is whatever the reference lookups identify."""
        self._package = package
        self._release = release
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
                inputs.extend(m for m in discover_models(self._package) if m.path not in named)
            self._inputs = inputs
        return self._inputs

    @property
    def found_runtime(self) -> bool:
        return bool(self._registries)

    def abi_analysis(self, context: AbiContext) -> Iterable[Finding]:
        if not self.models():
            return ()  # no model to check: do not re-read and scan the runtime libraries
        from symaudit.torchmodel.runtime import RuntimeOperators, may_be_runtime

        names: list[str] = []
        operators = RuntimeOperators(frozenset(), frozenset())
        for name, library in sorted(context.libraries.items()):
            entry = context.entries.get(name)
            if entry is None or not may_be_runtime(name, library):
                continue
            try:
                found = _scan_runtime(self._package, entry, library)
            except InputError:
                continue  # the audit already reported the library as unreadable
            if len(found):
                names.append(name)
                operators = operators.union(found)
        if names:
            self._registries[context.abi] = (tuple(names), operators)
        return ()

    def runtimes(self, report: Report) -> list[Runtime]:
        from symaudit.torchmodel.check import Runtime
        from symaudit.torchmodel.versions import limits_for

        runtimes: list[Runtime] = []
        for abi, (names, operators) in sorted(self._registries.items()):
            reference = self._release
            for record in report.libraries:
                if record.abi == abi and record.name in names and record.reference is not None:
                    reference = reference or record.reference.coordinate
            limits = limits_for(reference) if reference is not None else None
            runtimes.append(Runtime(abi, names, operators, reference, limits))
        return runtimes

    def package_analysis(self, package: Package, report: Report) -> PackageResult:
        inputs = self.models()
        if not inputs:
            return PackageResult()
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
    from symaudit.torchmodel.check import check_model, unreadable

    path = model_input.path
    if model_input.data is not None:
        model_input = read_input(path, io.BytesIO(model_input.data))
    entry: dict[str, object] = {
        "path": path,
        "sha256": model_input.sha256,
        "kind": None,
        "bytecode_version": None,
        "file_format_version": None,
        "operators": None,
        "operator_source": None,
        "runtimes": [],
        "error": None,
    }
    model = model_input.model
    error = model_input.error
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
    from symaudit.torchmodel.versions import parse_version

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
