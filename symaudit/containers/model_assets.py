"""Where a package keeps machine-learning models: ``*.pt``/``*.ptl`` anywhere, and zips under the
asset folders (WeNet ships ``assets/final.zip``). Which bytes are a model is the model reader's
call (``is_model``); which members to read is this module's."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from symaudit.containers.base import Package, member_reason
from symaudit.errors import InputError

MODEL_SUFFIXES = (".pt", ".ptl")
SNIFFED_SUFFIXES = (".zip", ".pth", ".bin", ".model", ".torchscript", ".jit", "")
"""Asset names that may hide a TorchScript zip; their bytes are read to tell. Other assets
(images, vocabularies, dex) are not read."""
ASSET_FOLDERS = ("assets/", "base/assets/", "res/raw/", "base/res/raw/")


@dataclass(frozen=True, slots=True)
class ModelInput:
    path: str
    """Where the model is: a member path (``assets/final.zip``) or a file named on the command line."""
    data: bytes | None
    error: str | None = None


def discover_models(package: Package, is_model: Callable[[bytes], bool]) -> list[ModelInput]:
    """Every model among ``package``'s members: ``*.pt``/``*.ptl`` anywhere (unreadable ones with
    the reason), and members of the asset folders whose bytes ``is_model`` accepts."""
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
            data = package.read_member(member)
        except InputError as exc:
            if named:
                found.append(ModelInput(member, None, member_reason(str(exc), member)))
            continue
        if named or is_model(data):
            found.append(ModelInput(member, data))
    return found
