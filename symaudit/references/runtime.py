"""A libtorch runtime named by its Maven coordinate (``symaudit model --runtime GROUP:ARTIFACT:VERSION``):
the published version is checked against the repository's metadata, then the AAR is had the way
every reference is (local Gradle/Maven caches, symaudit's cache, else a download)."""

from __future__ import annotations

from pathlib import Path

from symaudit.errors import InputError, NetworkError
from symaudit.maven.client import OfflineError
from symaudit.maven.coordinates import Coordinate, version_key
from symaudit.references.store import ReferenceStore


def runtime_artifact(store: ReferenceStore, coordinate: Coordinate) -> Path:
    """The AAR of ``coordinate``; a version the repository does not publish is an input error
    naming the versions it does."""
    client = store.client
    versions: list[str] | None = None
    if not client.offline:
        try:
            versions = store.versions(coordinate)
        except NetworkError as exc:
            raise InputError(f"{coordinate}: cannot list the published versions: {exc}") from None
        if coordinate.version not in versions:
            raise InputError(
                f"{coordinate}: not published; {coordinate.module} has "
                f"{', '.join(versions) if versions else 'no version'}"
            )
    try:
        return store.artifact(coordinate)
    except OfflineError as exc:
        held = sorted(client.held_versions(coordinate), key=version_key)
        have = f" (held here: {', '.join(held)})" if held else ""
        raise InputError(f"{exc}{have}") from None
    except NetworkError as exc:
        raise InputError(f"{coordinate}: cannot get the runtime: {exc}") from None
