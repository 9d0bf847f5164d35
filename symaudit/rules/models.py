"""Rules about TorchScript and lite models the app ships: will the packaged libtorch run them?"""

from __future__ import annotations

from symaudit.findings import Rule, Severity, define_rule

MODEL_OPERATOR_MISSING = define_rule(
    "model-operator-missing",
    Severity.ERROR,
    "A model calls an operator the packaged libtorch runtime does not register",
    """
## What it finds
An operator of a TorchScript (`.pt`) or lite (`.ptl`) model that no schema string of the
runtime library registers. Lite models list each operator with its overload in `bytecode.pkl`
and are matched exactly; full TorchScript models are matched by the operator names their
`code/` sources call. The finding's `symbol` is the operator; the hint names the first
libtorch release that has it, when symaudit knows it.
## Why it matters
Loading the model fails, not the library: the full interpreter stops with
`Unknown builtin op: aten::scaled_dot_product_attention`, the lite interpreter with
`Following ops cannot be found`. The app crashes on the first inference instead of at start-up.
## Example
A Whisper-derived model exported with PyTorch 2.1 calls `aten::scaled_dot_product_attention`;
the app ships `org.pytorch:pytorch_android:1.13.1`, whose registry has no such operator.
## Fix
Ship a runtime that has the operator (at least the release the hint names; for a selective
build, add the operator to its list), or re-export the model so that it avoids the operator
(for attention, an explicit `softmax(q @ k.transpose(-2, -1) * scale) @ v`).
""",
)

MODEL_BYTECODE_TOO_NEW = define_rule(
    "model-bytecode-too-new",
    Severity.ERROR,
    "A lite model's bytecode version is newer than the packaged runtime can load",
    """
## What it finds
A lite model whose `bytecode.pkl` version is above the highest version the identified libtorch
release accepts (from symaudit's table of releases, keyed by the Maven reference version of the
runtime library). Without an identified version the check is skipped and the report says so.
## Why it matters
The mobile loader refuses the whole model:
`Lite Interpreter version number does not match. The model version must be between 3 and 7
but the model version is 8`.
## Example
A model saved with PyTorch 1.13 (bytecode 8) in an app that ships
`org.pytorch:pytorch_android_lite:1.10.0` (up to bytecode 7).
## Fix
Upgrade the runtime to a release that reads the version, or write an older bytecode version:
`torch.jit.mobile._backport_for_mobile("m.ptl", "m_v7.ptl", 7)`.
""",
)

MODEL_FORMAT_TOO_NEW = define_rule(
    "model-format-too-new",
    Severity.ERROR,
    "A model's file-format version is newer than the packaged runtime can read",
    """
## What it finds
A model whose archive `version` record (`.data/version` or `version`) is above the highest
file-format version the identified libtorch release reads. The version grows with the
operators whose semantics changed (`aten::div`, `aten::full`, `aten::linspace`, `aten::gelu`
with `approximate`), so a newer PyTorch writes an older number for models that avoid them.
## Why it matters
Every loader, full or lite, refuses the archive before looking at the code:
`Attempted to read a PyTorch file with version 11, but the maximum supported version for
reading is 10`.
## Example
A model using `gelu(approximate="tanh")` (format 10) in an app with a runtime that reads
format 9 at most.
## Fix
Upgrade the runtime, or re-export the model without the versioned operator.
""",
)

MODEL_UNREADABLE = define_rule(
    "model-unreadable",
    Severity.ERROR,
    "A model file that is not a readable TorchScript archive",
    """
## What it finds
A model named with `--model` or found among the package's assets (`*.pt`, `*.ptl`, zips with
the TorchScript layout) that symaudit cannot read: a truncated or corrupt zip, a missing
version record, a `bytecode.pkl` that is not a TorchScript pickle, or one that imports
anything beyond tensor and container helpers (a malicious pickle is reported here, never run).
The reason is in the message.
## Why it matters
The runtime cannot load it either (`PytorchStreamReader failed reading zip archive`), or, for
a pickle that imports `os.system`, loading it is exactly what an attacker wants.
## Example
`assets/final.zip` is a Git LFS pointer file, or was cut short by an interrupted copy.
## Fix
Re-export the model with `torch.jit.save` or `_save_for_lite_interpreter`, and check how it
reaches the package (LFS, asset compression, download step).
""",
)

RULES: tuple[Rule, ...] = (
    MODEL_OPERATOR_MISSING,
    MODEL_BYTECODE_TOO_NEW,
    MODEL_FORMAT_TOO_NEW,
    MODEL_UNREADABLE,
)
