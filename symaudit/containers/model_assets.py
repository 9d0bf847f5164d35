"""Where a package keeps machine-learning models: ``*.pt``/``*.ptl`` anywhere, and zips under the
asset folders (WeNet ships ``assets/final.zip``). Which bytes are a model is the model reader's
call; which members may hold one is this module's."""

from __future__ import annotations

import os

from symaudit.containers.base import Package

MODEL_SUFFIXES = (".pt", ".ptl")
SNIFFED_SUFFIXES = (".zip", ".pth", ".bin", ".model", ".torchscript", ".jit", "")
"""Asset names that may hide a TorchScript zip; their bytes are read to tell. Other assets
(images, vocabularies, dex) are not read."""
ASSET_FOLDERS = ("assets/", "base/assets/", "res/raw/", "base/res/raw/")


def model_candidates(package: Package) -> list[tuple[str, bool]]:
    """``(member, named)`` for every member that may be a model, in member order: ``named`` when
    its suffix says it is one (an unreadable one is still reported), otherwise an asset whose
    bytes must be sniffed."""
    found: list[tuple[str, bool]] = []
    for member in sorted(package.members()):
        if member.endswith("/"):
            continue
        suffix = os.path.splitext(member.rsplit("/", 1)[-1])[1].lower()
        named = suffix in MODEL_SUFFIXES
        if named or (member.startswith(ASSET_FOLDERS) and suffix in SNIFFED_SUFFIXES):
            found.append((member, named))
    return found
