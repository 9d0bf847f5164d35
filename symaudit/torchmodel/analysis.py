"""The model check inside an audit: an ABI analysis that reads each ABI's libtorch operator
registry while the ABI is in memory, and a package analysis that reads the models (named with
``--model`` or found among the package's assets) and checks each against every ABI's runtime.

The two halves share one :class:`ModelAudit` made for one opened package; only the registries
(sets of operator names) outlive an ABI, never a library's bytes.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO

from symaudit.audit import AbiContext, PackageResult, Report
from symaudit.containers.base import LibraryEntry, Package
from symaudit.elf.model import ElfLibrary
from symaudit.errors import InputError
from symaudit.findings import Finding
from symaudit.torchmodel.check import Runtime, check_model, unreadable
from symaudit.torchmodel.model import ModelError, TorchModel
from symaudit.torchmodel.reader import is_model_bytes, read_model
from symaudit.torchmodel.runtime import RuntimeOperators, may_be_runtime, registered_operators
from symaudit.torchmodel.versions import limits_for, parse_version

MODEL_SUFFIXES = (".pt", ".ptl")
SNIFFED_SUFFIXES = (".zip", ".pth", ".bin", ".model", ".torchscript", ".jit", "")
"""Asset names that may hide a TorchScript zip (WeNet ships ``assets/final.zip``); their bytes
are read to tell. Other assets (images, vocabularies, dex) are not read."""
ASSET_FOLDERS = ("assets/", "base/assets/", "res/raw/", "base/res/raw/")


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
    digest = hashlib.sha256()
    fp.seek(0)
    while chunk := fp.read(_DIGEST_CHUNK):
        digest.update(chunk)
    try:
        return ModelInput(path, None, None, digest.hexdigest(), read_model(fp))
    except ModelError as exc:
        return ModelInput(path, None, str(exc), digest.hexdigest())


def discover_models(package: Package) -> list[ModelInput]:
    """Every model among ``package``'s members: ``*.pt``/``*.ptl`` anywhere, and zips with the
    TorchScript layout under the asset folders. Each is read and dropped before the next."""
    found: list[ModelInput] = []
    for member in sorted(package.members()):
        if member.endswith("/"):
            continue
        base = member.rsplit("/", 1)[-1]
        suffix = os.path.splitext(base)[1].lower()
        named = suffix in MODEL_SUFFIXES
        if not named and not (member.startswith(ASSET_FOLDERS) and suffix in SNIFFED_SUFFIXES):
            continue
        try:
            fp = package.open_member(member)
        except InputError as exc:
            if named:
                found.append(ModelInput(member, None, _reason(str(exc), member)))
            continue
        with fp:
            if named or is_model_bytes(fp):
                found.append(read_input(member, fp))
    return found


def _scan_runtime(package: Package, entry: LibraryEntry, library: ElfLibrary) -> RuntimeOperators:
    """The library's operator registry, scanned where it lies: mapped from the package (or from
    the unnamed file a large inflated member was spilled to) when the package allows it."""
    read_mapped = getattr(package, "read_mapped", None)
    mapped = read_mapped(entry) if read_mapped is not None else None
    if mapped is None:
        return registered_operators(package.read(entry), library)
    try:
        return registered_operators(mapped.view, library)
    finally:
        mapped.release()


def _reason(message: str, member: str) -> str:
    marker = f"{member}: "
    return message.split(marker, 1)[1] if marker in message else message


def reference_of(record_extra: Mapping[str, object]) -> str | None:
    """The runtime's identified reference (issue 4's ``reference`` library field) as a
    coordinate or version string; None when the library was not identified."""
    value = record_extra.get("reference")
    if isinstance(value, str) and value:
        return value
    if isinstance(value, Mapping):
        for key in ("coordinate", "version"):
            item = value.get(key)
            if isinstance(item, str) and item:
                return item
    return None


class ModelAudit:
    """One audit's model check: pass :meth:`abi_analysis` and :meth:`package_analysis` to
    :func:`symaudit.audit.audit_package` for the same package."""

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
                inputs.extend(m for m in discover_models(self._package) if m.path not in named)
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
        runtimes: list[Runtime] = []
        for abi, (names, operators) in sorted(self._registries.items()):
            reference = None
            for record in report.libraries:
                if record.abi == abi and record.name in names:
                    reference = reference or reference_of(dict(record.extra))
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


def _looks_like_coordinate(text: str) -> bool:
    return text.count(":") >= 2 and not os.path.exists(text)


def audit_model_file(model_path: str, runtime_path: str | None) -> Report:
    """``symaudit model``: one model file, checked against the runtime in ``runtime_path`` (an
    APK, AAR or ``.so``) when given. Only model findings are reported: the runtime package's own
    load problems are ``symaudit apk``'s business."""
    from dataclasses import replace

    from symaudit.audit import InputRecord, audit_package
    from symaudit.containers import open_package
    from symaudit.containers.folder import read_regular
    from symaudit.rules.models import RULES as MODEL_RULES

    if runtime_path is not None and _looks_like_coordinate(runtime_path):
        raise InputError(
            f"{runtime_path}: a Maven coordinate as --runtime is not supported yet; "
            "pass the AAR or its libpytorch_jni.so"
        )
    model_input = ModelInput(model_path, read_regular(model_path, model_path))
    if runtime_path is None:
        findings, entry = audit_model(model_input, [])
        digest = str(entry["sha256"])
        return Report(
            input=InputRecord(model_path, "model", digest),
            libraries=(),
            findings=tuple(findings),
            extra=(("models", [entry]), ("scope", "models")),
        )
    with open_package([runtime_path]) as package:
        audit = ModelAudit(package, [model_input], discover=False)
        report = audit_package(
            package, analyses=[audit.abi_analysis], package_analyses=[audit.package_analysis]
        )
    if not audit.found_runtime:
        raise InputError(
            f"{runtime_path}: no libtorch operator registry found (no library with operator schema strings)"
        )
    model_ids = {rule.id for rule in MODEL_RULES}
    # "scope": the runtime's libraries were read to identify it, not audited: no verdict on them.
    return replace(
        report,
        findings=tuple(f for f in report.findings if f.rule in model_ids),
        extra=(*report.extra, ("scope", "models")),
    )


def model_inputs(paths: Sequence[str]) -> list[ModelInput]:
    """``--model`` files, read now: a file that cannot be opened is a usage error (exit 2)."""
    from symaudit.containers.folder import read_regular

    return [ModelInput(path, read_regular(path, path)) for path in paths]
