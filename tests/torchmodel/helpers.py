"""Model fixtures and hand-made archives for the model tests."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "fixtures" / "models"
RUNTIMES = ROOT / "fixtures" / "model-runtimes"
WITH_SDPA = RUNTIMES / "with-sdpa" / "libpytorch_jni.so"
WITHOUT_SDPA = RUNTIMES / "without-sdpa" / "libpytorch_jni.so"
SDPA = "aten::scaled_dot_product_attention"


def archive(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as out:
        for name, data in members.items():
            out.writestr(name, data)
    return buffer.getvalue()


def replaced(model: bytes, suffix: str, data: bytes) -> bytes:
    """``model`` with the member ending in ``suffix`` replaced by ``data``."""
    members: dict[str, bytes] = {}
    with zipfile.ZipFile(io.BytesIO(model)) as source:
        for name in source.namelist():
            members[name] = data if name.endswith(suffix) else source.read(name)
    return archive(members)
