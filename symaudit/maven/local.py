"""Artifacts already on disk: Gradle's module cache and the local Maven repository.

Most users already have the reference AARs there (REFERENCE.md §7.2); using them costs no network.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path

from symaudit.maven.coordinates import Coordinate, valid_part


def gradle_home(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    configured = env.get("GRADLE_USER_HOME")
    return Path(configured) if configured else Path.home() / ".gradle"


def maven_local(env: Mapping[str, str] | None = None) -> Path:
    return Path.home() / ".m2" / "repository"


def _gradle_module(root: Path, coordinate: Coordinate) -> Path:
    return root / "caches" / "modules-2" / "files-2.1" / coordinate.group / coordinate.artifact


def gradle_candidates(root: Path, coordinate: Coordinate) -> Iterator[Path]:
    """``files-2.1/<group>/<artifact>/<version>/<sha1>/<file>``: the hash folder is the file's
    SHA-1 (Gradle may drop leading zeros), so every hash folder holding the file name is a candidate."""
    folder = _gradle_module(root, coordinate) / str(coordinate.version)
    try:
        hashes = sorted(folder.iterdir())
    except OSError:
        return
    for hashed in hashes:
        candidate = hashed / coordinate.file_name
        if candidate.is_file():
            yield candidate


def maven_candidate(root: Path, coordinate: Coordinate) -> Path | None:
    candidate = root / coordinate.path
    return candidate if candidate.is_file() else None


def local_versions(gradle: Path, m2: Path, coordinate: Coordinate) -> set[str]:
    """Versions of ``coordinate``'s module present in either cache (for offline runs)."""
    found: set[str] = set()
    for folder in (_gradle_module(gradle, coordinate), m2 / coordinate.module_path):
        try:
            children = list(folder.iterdir())
        except OSError:
            continue
        for child in children:
            if not valid_part(child.name):
                continue  # not a version folder symaudit could name (nor safely join to paths)
            version = coordinate.with_version(child.name)
            if any(True for _ in gradle_candidates(gradle, version)) or maven_candidate(m2, version):
                found.add(child.name)
    return found
