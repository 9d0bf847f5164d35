"""A model against a runtime: findings only (no reading, no printing)."""

from __future__ import annotations

from dataclasses import dataclass

from symaudit.findings import Finding, Rule
from symaudit.rules.models import (
    MODEL_BYTECODE_TOO_NEW,
    MODEL_FORMAT_TOO_NEW,
    MODEL_OPERATOR_MISSING,
    MODEL_UNREADABLE,
)
from symaudit.torchmodel.model import TorchModel
from symaudit.torchmodel.runtime import RuntimeOperators
from symaudit.torchmodel.versions import RuntimeLimits, operator_history


@dataclass(frozen=True, slots=True)
class Runtime:
    """The libtorch runtime of one ABI: what it registers and, when identified, its release."""

    abi: str | None
    libraries: tuple[str, ...]
    """File names of the libraries whose registries were read (usually one)."""
    operators: RuntimeOperators
    reference: str | None = None
    """The Maven coordinate (or bare version) the runtime was identified as, if it was."""
    limits: RuntimeLimits | None = None

    @property
    def label(self) -> str:
        return ", ".join(self.libraries)


def unreadable(path: str, reason: str) -> Finding:
    return MODEL_UNREADABLE.finding(
        None,
        path,
        f"model {path} cannot be read: {reason}",
        "Re-export the model (torch.jit.save or _save_for_lite_interpreter) and check how it "
        "reaches the package (Git LFS pointer, interrupted copy, download step).",
        path=path,
        extra=(("model", path), ("reason", reason)),
    )


def check_model(path: str, model: TorchModel, runtime: Runtime) -> list[Finding]:
    """Everything in ``model`` that ``runtime`` cannot load."""
    findings: list[Finding] = []
    facts = (("model", path), ("runtime", runtime.label), ("reference", runtime.reference))

    def found(
        rule: Rule, message: str, hint: str, *extra: tuple[str, object], symbol: str | None = None
    ) -> None:
        findings.append(
            rule.finding(runtime.abi, path, message, hint, symbol=symbol, path=path, extra=(*facts, *extra))
        )

    limits = runtime.limits
    if limits is not None and limits.max_file_format_version is not None:
        if model.file_format_version > limits.max_file_format_version:
            found(
                MODEL_FORMAT_TOO_NEW,
                f"model {path} has file-format version {model.file_format_version}; "
                f"{runtime.label} ({limits.version}) reads up to {limits.max_file_format_version}",
                f"Upgrade the runtime, or re-export the model with a PyTorch release that writes "
                f"format {limits.max_file_format_version} or lower (avoid the versioned operators).",
                ("file_format_version", model.file_format_version),
                ("max_file_format_version", limits.max_file_format_version),
            )
    if model.flatbuffer and runtime.operators.without_flatbuffer:
        found(
            MODEL_BYTECODE_TOO_NEW,
            f"lite model {path} is a flatbuffer (bytecode version {model.bytecode_version}); "
            f"{runtime.label} was built without flatbuffer support and refuses it",
            "Save the model without _use_flatbuffer (pickled bytecode), or ship a runtime built "
            "with flatbuffer support.",
            ("bytecode_version", model.bytecode_version),
            ("max_bytecode_version", None),
        )
    elif limits is not None and limits.max_bytecode_version is not None and model.bytecode_version is not None:
        if model.bytecode_version > limits.max_bytecode_version:
            found(
                MODEL_BYTECODE_TOO_NEW,
                f"lite model {path} has bytecode version {model.bytecode_version}; "
                f"{runtime.label} ({limits.version}) loads up to {limits.max_bytecode_version}",
                f"Upgrade the runtime, or backport the model: torch.jit.mobile._backport_for_mobile("
                f"'{path.rsplit('/', 1)[-1]}', 'out.ptl', {limits.max_bytecode_version}).",
                ("bytecode_version", model.bytecode_version),
                ("max_bytecode_version", limits.max_bytecode_version),
            )
    for operator in model.operators:
        if runtime.operators.has(operator):
            continue
        history = operator_history(operator.name)
        since = history.since if history is not None else None
        registered_other = operator.overload is not None and operator.name in runtime.operators.names
        if history is not None:
            lacking = f" ({history.absent_in} lacks it)" if history.absent_in else ""
            hint = f"{operator.name} first appeared in libtorch {history.since}{lacking}; ship that release or newer, or re-export the model without it."
        elif registered_other:
            hint = f"{runtime.label} has other overloads of {operator.name} but not '{operator.overload}'; re-export the model with the runtime's PyTorch release."
        else:
            hint = f"Ship a runtime that registers {operator.name} (for a selective build, add it to the operator list), or re-export the model without it."
        found(
            MODEL_OPERATOR_MISSING,
            f"model {path} calls {operator.qualified}, which {runtime.label} does not register",
            hint,
            ("since", since),
            symbol=operator.qualified,
        )
    return findings
