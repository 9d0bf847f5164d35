"""What symaudit knows about one TorchScript or lite model: versions and the operators it calls."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ModelError(Exception):
    """The model cannot be read; ``str(exc)`` is the reason a ``model-unreadable`` finding gives."""


class ModelKind(str, enum.Enum):
    LITE = "lite"
    """Saved by ``_save_for_lite_interpreter`` (``.ptl``): the mobile runtime runs ``bytecode.pkl``."""
    TORCHSCRIPT = "torchscript"
    """Saved by ``torch.jit.save`` (``.pt``): the full JIT compiles the ``code/`` sources."""


class OperatorSource(str, enum.Enum):
    BYTECODE = "bytecode"
    """The ``operators`` tables of ``bytecode.pkl``: exact names and overloads."""
    CODE = "code"
    """Calls found in the ``code/`` sources: names only, the overload is chosen at load time."""


@dataclass(frozen=True, slots=True, order=True)
class Operator:
    name: str
    """Qualified name: ``aten::scaled_dot_product_attention``, ``prim::NumToTensor``."""
    overload: str | None = None
    """Overload name (``""`` for the default one); None when the model does not say (``code/``)."""

    @property
    def qualified(self) -> str:
        return self.name if not self.overload else f"{self.name}.{self.overload}"


@dataclass(frozen=True, slots=True)
class TorchModel:
    kind: ModelKind
    root: str
    """The archive's top folder (``final``, ``archive``)."""
    file_format_version: int
    bytecode_version: int | None
    """Lite models only."""
    operators: tuple[Operator, ...]
    operator_source: OperatorSource
    extra_files: tuple[str, ...] = ()
    """Names under ``extra/`` (user metadata), relative to it."""
    flatbuffer: bool = False
    """Saved as a flatbuffer (``_use_flatbuffer=True``) rather than a zip of pickles."""
