"""Reference manifests by coordinate: from the cache when an earlier run made them, else from
the artifact (found locally or downloaded by :class:`~symaudit.maven.client.MavenClient`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from symaudit.errors import NetworkError, SymauditError
from symaudit.http import NotFoundError
from symaudit.maven.client import MavenClient, RepositoryDataError
from symaudit.maven.coordinates import Coordinate, version_key
from symaudit.references.manifest import ReferenceManifest, build_manifest, from_json, to_json

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Loaded:
    manifests: tuple[ReferenceManifest, ...]
    problems: tuple[str, ...]
    """One line per module or version that could not be had (offline, network, corrupt)."""


class ReferenceStore:
    def __init__(self, client: MavenClient) -> None:
        self.client = client

    def manifest(self, coordinate: Coordinate) -> ReferenceManifest:
        cache = self.client.cache
        known = self.client.indexed(coordinate)
        if known is not None:
            cached = from_json(cache.manifest(known))
            if cached is not None:
                return cached
        artifact = self.client.resolve(coordinate)
        cached = from_json(cache.manifest(artifact.sha256))
        if cached is not None:
            return cached
        assert artifact.path is not None
        manifest = build_manifest(coordinate, artifact.path, artifact.sha256)
        cache.store_manifest(artifact.sha256, to_json(manifest))
        return manifest

    def artifact(self, coordinate: Coordinate) -> Path:
        """The artifact file itself (local caches first, else downloaded into symaudit's cache),
        for a caller that reads more than the manifest keeps (a runtime's operator registry)."""
        artifact = self.client.resolve(coordinate)
        assert artifact.path is not None
        return artifact.path

    def versions(self, module: Coordinate) -> list[str]:
        return self.client.versions(module)

    def load(self, modules: tuple[Coordinate, ...], newest: int | None = None) -> Loaded:
        """Every version of every module that can be had; what cannot is a problem, not an error.

        With ``newest``, versions not already on this machine (Gradle cache, ~/.m2, symaudit's
        cache) are downloaded only for the ``newest`` most recent ones: an audit should not pull
        a whole release history (hundreds of MB for pytorch_android) on its first run. The
        version the app ships is almost always in the Gradle cache that built it.
        ``symaudit refs fetch`` downloads every version; later audits then use them all.
        """
        manifests: list[ReferenceManifest] = []
        problems: list[str] = []
        for module in modules:
            try:
                versions = self.client.versions(module)
            except NetworkError as exc:
                problems.append(str(exc))
                self._give_up(exc)
                versions = sorted(self.client.known_versions(module), key=version_key)
            if newest is not None and not self.client.offline:
                held = self.client.held_versions(module)
                remote = [v for v in sorted(versions, key=version_key) if v not in held]
                skipped = remote[:-newest] if len(remote) > newest else []
                if skipped:
                    versions = [v for v in versions if v not in set(skipped)]
                    problems.append(
                        f"{module}: {len(skipped)} older version(s) not downloaded ({', '.join(skipped)}); "
                        f"`symaudit refs fetch {module}` fetches every version for later runs"
                    )
            if not versions:
                if self.client.offline:
                    problems.append(
                        f"{module}: {self.client.offline_reason} and no version in the Gradle, Maven or "
                        "symaudit cache"
                    )
                continue
            for version in versions:
                try:
                    manifests.append(self.manifest(module.with_version(version)))
                except SymauditError as exc:
                    log.debug("reference %s:%s unavailable: %s", module, version, exc)
                    problems.append(str(exc))
                    if isinstance(exc, NetworkError):
                        self._give_up(exc)
        return Loaded(tuple(manifests), tuple(problems))

    def _give_up(self, exc: NetworkError) -> None:
        """After a failure that is not a plain 404 the network is presumed down: the rest of
        the run uses local caches only, instead of waiting out every timeout again."""
        if not isinstance(exc, (NotFoundError, RepositoryDataError)) and not self.client.offline:
            log.debug("network presumed down after: %s", exc)
            self.client.offline = True
            self.client.offline_reason = "network given up (see above)"
