"""Which Maven modules are the references for which packaged libraries (REFERENCE.md §7.3)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from symaudit.facts import torch_runtime_family_prefix, torch_runtime_libraries
from symaudit.maven.coordinates import Coordinate

PYTORCH_ANDROID = Coordinate("org.pytorch", "pytorch_android")
PYTORCH_ANDROID_LITE = Coordinate("org.pytorch", "pytorch_android_lite")
FBJNI = Coordinate("com.facebook.fbjni", "fbjni")

MODULE_ORDER = (PYTORCH_ANDROID, PYTORCH_ANDROID_LITE, FBJNI)

# File name -> the modules whose AARs ship it, the module a copy most likely comes from first.
# libc++_shared.so is everybody's, so it alone never makes a package a PyTorch one.
_HOMES: tuple[tuple[re.Pattern[str], tuple[Coordinate, ...]], ...] = (
    (re.compile(r"^libpytorch_jni_lite\.so$"), (PYTORCH_ANDROID_LITE,)),
    (re.compile(r"^libpytorch_jni\.so$"), (PYTORCH_ANDROID,)),
    (re.compile(r"^libtorch.*\.so$"), (PYTORCH_ANDROID, PYTORCH_ANDROID_LITE)),
    (re.compile(r"^libfbjni\.so$"), (FBJNI, PYTORCH_ANDROID, PYTORCH_ANDROID_LITE)),
)
FOLLOWERS = frozenset({"libc++_shared.so"})
"""Identified against whatever references the other libraries brought in."""

# The runtime's file names (symaudit/data/torch_runtime_libraries.json): the known ones and any
# other library of the libtorch family.
RUNTIME_NAMES = re.compile(
    "^(?:"
    + "|".join(re.escape(name) for name in torch_runtime_libraries())
    + f"|{re.escape(torch_runtime_family_prefix())}.*\\.so)$"
)

# Mangled names in the namespaces of the reference families: torch::, c10::, at::, caffe2::,
# facebook::jni:: (functions, const methods, and their vtables/typeinfo).
FAMILY_SYMBOL = re.compile(r"^_Z(?:T[VIS])?N[KVRO]*(?:5torch|3c10|2at|6caffe2|8facebook3jni)")


def homes(name: str) -> tuple[Coordinate, ...]:
    for pattern, modules in _HOMES:
        if pattern.match(name):
            return modules
    return ()


def is_reference_library(name: str) -> bool:
    return bool(homes(name)) or name in FOLLOWERS


def modules_for(names: Iterable[str]) -> tuple[Coordinate, ...]:
    """The modules to fetch for a package holding these library file names: the home module of
    each runtime present, and fbjni whenever fbjni or a PyTorch runtime is there.
    libc++_shared.so alone brings in nothing."""
    wanted: set[Coordinate] = set()
    for name in set(names):
        modules = homes(name)
        if modules:
            wanted.add(modules[0])
            if RUNTIME_NAMES.match(name):
                wanted.add(FBJNI)
    return tuple(m for m in MODULE_ORDER if m in wanted)


def is_family_symbol(name: str) -> bool:
    return FAMILY_SYMBOL.match(name) is not None


FBJNI_SYMBOL = re.compile(r"^_Z(?:T[VIS])?N[KVRO]*8facebook3jni")


def symbol_modules(names: Iterable[str]) -> tuple[Coordinate, ...]:
    """The modules whose libraries define family symbols like these: ``facebook::jni::`` names
    fbjni, every other family name (torch, c10, at, caffe2) both PyTorch modules."""
    wanted: set[Coordinate] = set()
    for name in names:
        if not is_family_symbol(name):
            continue
        if FBJNI_SYMBOL.match(name):
            wanted.add(FBJNI)
        else:
            wanted |= {PYTORCH_ANDROID, PYTORCH_ANDROID_LITE}
    return tuple(m for m in MODULE_ORDER if m in wanted)
