"""What the device provides without packaging: the NDK's public platform libraries and ABIs.

Facts come from ``symaudit/data/*.json``, each with its source; code only looks them up.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from symaudit.facts import AbiSpec, abi_for_machine, abi_specs, load_data, machine_name

__all__ = [
    "AbiSpec",
    "PlatformLibs",
    "abi_for_machine",
    "abi_specs",
    "load_data",
    "machine_name",
    "platform_libs",
]


@dataclass(frozen=True, slots=True)
class PlatformLibs:
    public: dict[str, int]
    """Public NDK library name -> first API level that has it."""
    private: frozenset[str] = frozenset()
    """System libraries apps cannot link against (``is not accessible for the namespace``)."""
    needs: dict[str, tuple[str, ...]] | None = None
    """The public platform libraries each platform library itself needs (``libc.so`` -> ``libdl.so``)."""

    def needed_by(self, name: str) -> tuple[str, ...]:
        return (self.needs or {}).get(name, ())

    def is_public(self, name: str) -> bool:
        return name in self.public

    def is_private(self, name: str) -> bool:
        return name in self.private


@lru_cache(maxsize=1)
def platform_libs() -> PlatformLibs:
    data = load_data("platform_libs.json")
    return PlatformLibs(
        public=dict(data["public"]),
        private=frozenset(data.get("private", {}).get("libraries", ())),
        needs={name: tuple(deps) for name, deps in data.get("needs", {}).get("libraries", {}).items()},
    )
