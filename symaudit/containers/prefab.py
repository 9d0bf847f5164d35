"""Prefab metadata of an AAR: the ``abi.json`` beside each module's libraries, which says which
NDK, API level and STL the module was built with."""

from __future__ import annotations

import json
import re

from symaudit.containers.base import Package, PackageKind

_PREFAB_ABI_JSON = re.compile(r"prefab/modules/[^/]+/libs/android\.(?P<abi>[^/]+)/abi\.json")
_PREFAB_LIMIT = 64 * 1024


def prefab_metadata(raw: bytes) -> dict[str, object] | None:
    """A prefab ``abi.json`` (``{"abi", "api", "ndk", "stl", "static"}``), or ``None``."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def prefab_index(package: Package) -> dict[tuple[str, str], dict[str, object]]:
    """(abi, library file name) -> prefab ``abi.json`` of the module directory holding it."""
    if package.kind is not PackageKind.AAR:
        return {}
    members = package.members()
    index: dict[tuple[str, str], dict[str, object]] = {}
    for member in members:
        match = _PREFAB_ABI_JSON.fullmatch(member)
        if not match:
            continue
        try:
            metadata = prefab_metadata(package.read_member(member, _PREFAB_LIMIT))
        except Exception:  # noqa: BLE001 - a broken abi.json is only missing metadata
            continue
        if metadata is None:
            continue
        folder = member.rsplit("/", 1)[0] + "/"
        for other in members:
            if other.startswith(folder) and other.endswith(".so") and "/" not in other[len(folder) :]:
                index[(match.group("abi"), other[len(folder) :])] = metadata
    return index
