"""What the device provides without packaging: the NDK's public platform libraries and ABIs.

Facts come from ``symaudit/data/*.json``, each with its source; code only looks them up.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent.parent / "data"


def load_data(name: str) -> Any:
    """One of ``symaudit/data/*.json``."""
    return _load(name)


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


@dataclass(frozen=True, slots=True)
class PlatformLibs:
    public: dict[str, int]
    """Public NDK library name -> first API level that has it."""
    cxx_library: str
    cxx_exports: frozenset[str]
    """The few C++ runtime names the platform ``libstdc++.so`` really exports."""
    private: frozenset[str] = frozenset()
    """System libraries apps cannot link against (``is not accessible for the namespace``)."""

    def is_public(self, name: str) -> bool:
        return name in self.public

    def is_private(self, name: str) -> bool:
        return name in self.private


@lru_cache(maxsize=1)
def abi_specs() -> dict[str, AbiSpec]:
    data = _load("abis.json")["abis"]
    return {
        name: AbiSpec(
            name=name,
            machine=entry["machine"],
            machine_name=entry["machine_name"],
            bits=entry["bits"],
            triple=entry["triple"],
            legacy=bool(entry.get("legacy", False)),
        )
        for name, entry in data.items()
    }


MACHINE_NAMES = {3: "EM_386", 8: "EM_MIPS", 40: "EM_ARM", 62: "EM_X86_64", 183: "EM_AARCH64", 243: "EM_RISCV"}


def machine_name(machine: int) -> str:
    """The name bionic prints for an ``e_machine`` (anything else prints as ``EM_???``)."""
    return MACHINE_NAMES.get(machine, "EM_???")


def abi_for_machine(machine: int, bits: int) -> str | None:
    """The current (non-legacy) ABI a library of this machine and class belongs to."""
    for spec in abi_specs().values():
        if not spec.legacy and spec.machine == machine and spec.bits == bits:
            return spec.name
    return None


@lru_cache(maxsize=1)
def platform_libs() -> PlatformLibs:
    data = _load("platform_libs.json")
    return PlatformLibs(
        public=dict(data["public"]),
        cxx_library=data["cxx_exports"]["library"],
        cxx_exports=frozenset(data["cxx_exports"]["symbols"]),
        private=frozenset(data.get("private", {}).get("libraries", ())),
    )
