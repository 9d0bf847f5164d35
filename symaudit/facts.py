"""Facts about Android that symaudit looks up: ``symaudit/data/*.json``, each file naming its source.

This is the one loader of those files. It imports nothing from symaudit, so every layer (containers,
ELF, analyses) can ask it; code looks facts up here instead of spelling them as literals.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data"


def load_data(name: str) -> Any:
    """One of ``symaudit/data/*.json``, parsed once."""
    return _load(name)


@cache
def _load(name: str) -> Any:
    # A plain path, not importlib.resources (10 ms of imports on every run): symaudit is never
    # run from a zip, and the data files are package data next to this package.
    return json.loads((DATA / name).read_text(encoding="utf-8"))


@dataclass(frozen=True, slots=True)
class AbiSpec:
    name: str
    machine: int
    machine_name: str
    bits: int
    triple: str
    legacy: bool
    arch: str | None = None
    """Architecture name of the NDK stub map files (``arm64``); None for ABIs they no longer know."""
    first_api: int = 1
    """The lowest API level of any device that runs this ABI."""
    page_16k: bool = False
    """Devices with 16 KB pages exist for this ABI."""


@lru_cache(maxsize=1)
def abi_specs() -> dict[str, AbiSpec]:
    """Every ABI directory name Android knows, current ones first, in ``abis.json`` order."""
    data = _load("abis.json")["abis"]
    return {
        name: AbiSpec(
            name=name,
            machine=entry["machine"],
            machine_name=entry["machine_name"],
            bits=entry["bits"],
            triple=entry["triple"],
            legacy=bool(entry.get("legacy", False)),
            arch=entry.get("arch"),
            first_api=int(entry.get("first_api", 1)),
            page_16k=bool(entry.get("page_16k", False)),
        )
        for name, entry in data.items()
    }


def current_abis() -> tuple[str, ...]:
    """The ABI directory names devices load from today."""
    return tuple(name for name, spec in abi_specs().items() if not spec.legacy)


def legacy_abis() -> tuple[str, ...]:
    """Directory names that look like an ABI folder but that no current device loads from."""
    return tuple(name for name, spec in abi_specs().items() if spec.legacy)


def sixteen_k_abis() -> frozenset[str]:
    """The ABIs that have 16 KB page-size devices."""
    return frozenset(name for name, spec in abi_specs().items() if spec.page_16k)


def first_64_bit_api() -> int:
    """The first API level with 64-bit support: no 64-bit device runs anything older."""
    return min(spec.first_api for spec in abi_specs().values() if spec.bits == 64)


@lru_cache(maxsize=1)
def _machine_names() -> dict[int, str]:
    return {spec.machine: spec.machine_name for spec in abi_specs().values()}


def machine_name(machine: int) -> str:
    """The name bionic prints for an ``e_machine`` (anything else prints as ``EM_???``)."""
    return _machine_names().get(machine, "EM_???")


def abi_for_machine(machine: int, bits: int) -> str | None:
    """The current (non-legacy) ABI a library of this machine and class belongs to."""
    for spec in abi_specs().values():
        if not spec.legacy and spec.machine == machine and spec.bits == bits:
            return spec.name
    return None


@lru_cache(maxsize=1)
def api_gates() -> dict[str, int]:
    """Device API levels at which the loader's behaviour changes (``api_gates.json``)."""
    return {name: int(entry["api"]) for name, entry in _load("api_gates.json")["gates"].items()}


def api_gate(name: str) -> int:
    return api_gates()[name]


def torch_runtime_libraries() -> tuple[str, ...]:
    """File names of the libtorch runtime libraries known to carry the operator registry."""
    return tuple(_load("torch_runtime_libraries.json")["libraries"])


def torch_runtime_family_prefix() -> str:
    """Every ``<prefix>*.so`` belongs to the libtorch runtime family too."""
    return str(_load("torch_runtime_libraries.json")["family_prefix"])
