"""Reference manifests by coordinate: from the cache when an earlier run made them, else from
the artifact (found locally or downloaded by :class:`~symaudit.maven.client.MavenClient`)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from symaudit.errors import NetworkError, SymauditError
from symaudit.http import NotFoundError
from symaudit.maven.client import MavenClient, RepositoryDataError
from symaudit.maven.coordinates import Coordinate, version_key
from symaudit.maven.ranged import ZipRangeError
from symaudit.references.manifest import (
    ReferenceManifest,
    build_manifest,
    from_json,
    jni_member,
    library_record,
    to_json,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Loaded:
    manifests: tuple[ReferenceManifest, ...]
    problems: tuple[str, ...]
    """One line per module or version that could not be had (offline, network, corrupt)."""


class ReferenceStore:
    def __init__(self, client: MavenClient) -> None:
        self.client = client

    def __enter__(self) -> ReferenceStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()

    def manifest(self, coordinate: Coordinate, abis: Sequence[str] | None = None) -> ReferenceManifest:
        """The reference's manifest. With ``abis`` (an audit's: the ABIs its package holds), a
        manifest of those ABIs' libraries is enough: when no local cache has the artifact, only
        they are fetched, by range requests where the repository allows them."""
        cache = self.client.cache
        known = self.client.indexed(coordinate)
        previous = None
        if known is not None:
            cached = from_json(cache.manifest(known))
            if cached is not None and cached.covers(abis):
                return cached
            previous = cached
        artifact = self.client.find_local(coordinate)
        if artifact is None and abis is not None and not self.client.offline and cache.writable:
            partial = self._ranged(coordinate, abis, previous)
            if partial is not None:
                return partial
        if artifact is None:
            artifact = self.client.resolve(coordinate)
        cached = from_json(cache.manifest(artifact.sha256))
        if cached is not None and cached.read is None:
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

    def _ranged(
        self, coordinate: Coordinate, abis: Sequence[str], previous: ReferenceManifest | None
    ) -> ReferenceManifest | None:
        """The libraries of ``abis`` by range requests (added to ``previous``, a manifest of other
        ABIs of the same file), or None when the whole file must be downloaded instead."""
        done = set(previous.read or ()) if previous is not None else set()

        def wanted(name: str) -> bool:
            member = jni_member(name)
            return member is not None and member[0] in abis and member[0] not in done

        try:
            got = self.client.remote_members(coordinate, wanted)
        except ZipRangeError as exc:
            log.debug("%s", exc)
            return None
        if got is None:
            return None
        key, names, members = got
        libraries = [
            library_record(coordinate, abi, name, path, data)
            for path, data in members.items()
            for abi, name in [jni_member(path) or ("", "")]
        ]
        present = {m[0] for n in names if (m := jni_member(n)) is not None}
        read = set(abis) & present
        if previous is not None and previous.sha256 == key:
            libraries += [lib for lib in previous.libraries if lib.abi in done]
            read |= done
        libraries.sort(key=lambda lib: (lib.abi, lib.name))
        complete = present <= read
        manifest = ReferenceManifest(
            coordinate,
            key,
            tuple(libraries),
            None if complete else tuple(sorted(present)),
            None if complete else tuple(sorted(read)),
        )
        self.client.cache.store_manifest(key, to_json(manifest))
        self.client.cache.store_index(coordinate, {"sha256": key, "origin": "ranges", "path": None})
        return manifest

    def versions(self, module: Coordinate) -> list[str]:
        return self.client.versions(module)

    def load(
        self, modules: tuple[Coordinate, ...], newest: int | None = None, abis: Sequence[str] | None = None
    ) -> Loaded:
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
                ordered = sorted(versions, key=version_key)
                recent = set(ordered[-newest:]) if newest else set()
                skipped = [v for v in ordered if v not in held and v not in recent]
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
                    manifests.append(self.manifest(module.with_version(version), abis))
                except SymauditError as exc:
                    log.debug("reference %s:%s unavailable: %s", module, version, exc)
                    problems.append(str(exc))
                    if isinstance(exc, NetworkError):
                        self._give_up(exc)
        return Loaded(tuple(manifests), tuple(problems))

    def give_up(self, exc: NetworkError) -> None:
        self._give_up(exc)

    def _give_up(self, exc: NetworkError) -> None:
        """After a failure that is not a plain 404 the network is presumed down: the rest of
        the run uses local caches only, instead of waiting out every timeout again."""
        if not isinstance(exc, (NotFoundError, RepositoryDataError)) and not self.client.offline:
            log.debug("network presumed down after: %s", exc)
            self.client.offline = True
            self.client.offline_reason = "network given up (see above)"
