"""Coordinates in, verified artifact files out.

Where an artifact is looked for, in order (REFERENCE.md §7.2): Gradle's module cache
(``GRADLE_USER_HOME``), the local Maven repository (``~/.m2/repository``), symaudit's cache, and
only then the repositories, in the order given. Every download is checked against the
repository's ``.sha256`` (else ``.sha1``) before it is renamed into the cache. Offline, no
request is ever sent: what no local cache has is :class:`OfflineError`.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from symaudit.errors import InputError, NetworkError
from symaudit.http import Http, NotFoundError, check_url, redact
from symaudit.maven import local, ranged
from symaudit.maven.cache import Cache, CacheError
from symaudit.maven.coordinates import Coordinate, valid_part, version_key

log = logging.getLogger(__name__)

MAVEN_CENTRAL = "https://repo.maven.apache.org/maven2"
METADATA_TTL = 24 * 3600.0
"""How long a module's version list is trusted before maven-metadata.xml is asked again
(Gradle's default for dynamic versions)."""

Progress = Callable[[str, "int | None"], AbstractContextManager[Callable[[int], None]]]
"""(label, total bytes or None) -> a context whose value is called with each chunk's size."""

_HEX = re.compile(r"^[0-9a-fA-F]+$")


class RepositoryDataError(NetworkError):
    """The repository answered, but with bad data (checksum mismatch, corrupt metadata)."""


class OfflineError(NetworkError):
    """Offline, and no local cache has the artifact: nothing was requested."""


@dataclass(frozen=True, slots=True)
class Artifact:
    coordinate: Coordinate
    path: Path | None
    """Where the file is; None when only its index entry is left (the manifest is enough)."""
    sha256: str
    origin: str
    """gradle, maven-local, cache or download."""


def parse_repos(text: str) -> tuple[str, ...]:
    """``SYMAUDIT_MAVEN_REPOS``: URLs separated by commas or whitespace."""
    return tuple(part for part in re.split(r"[\s,]+", text) if part)


def choose_repos(cli: Sequence[str], env: Mapping[str, str], config: Sequence[str]) -> tuple[str, ...]:
    """``--maven-repo`` if given, else ``SYMAUDIT_MAVEN_REPOS``, else the config, else Maven Central.

    Each must be an http(s) URL: anything else (``file://``, a bad port) is one line of input
    error, before any request."""
    sources = (
        ("--maven-repo", tuple(cli)),
        ("SYMAUDIT_MAVEN_REPOS", parse_repos(env.get("SYMAUDIT_MAVEN_REPOS", ""))),
        ("maven-repos", tuple(config)),
    )
    for name, source in sources:
        if source:
            for repo in source:
                check_url(repo, name)
            return tuple(r.rstrip("/") for r in source)
    return (MAVEN_CENTRAL,)


def offline_from_env(env: Mapping[str, str]) -> bool:
    return env.get("SYMAUDIT_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def parse_checksum(text: bytes, length: int, url: str) -> str:
    """First token of a checksum file (some add the file name after it), lowercase hex."""
    token = text.decode("ascii", "replace").strip().split(maxsplit=1)
    value = token[0].lower() if token else ""
    if len(value) != length or not _HEX.match(value):
        raise RepositoryDataError(f"{redact(url)}: not a checksum file")
    return value


def parse_metadata(data: bytes, url: str) -> list[str]:
    """``<versioning><versions><version>`` of a maven-metadata.xml."""
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise RepositoryDataError(f"{redact(url)}: not a valid maven-metadata.xml (DOCTYPE not allowed)")
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        raise RepositoryDataError(f"{redact(url)}: not a valid maven-metadata.xml ({exc})") from None
    if root.tag != "metadata":
        raise RepositoryDataError(f"{redact(url)}: not a valid maven-metadata.xml (root <{root.tag}>)")
    versions = [(v.text or "").strip() for v in root.iterfind("./versioning/versions/version")]
    if not versions or not all(versions):
        raise RepositoryDataError(f"{redact(url)}: not a valid maven-metadata.xml (no versions listed)")
    bad = [v for v in versions if not valid_part(v)]
    if bad:
        raise RepositoryDataError(f"{redact(url)}: not a valid maven-metadata.xml (version {bad[0][:80]!r})")
    return versions


def _digests(path: Path) -> tuple[str, str]:
    sha1, sha256 = hashlib.sha1(), hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            sha1.update(chunk)
            sha256.update(chunk)
    return sha1.hexdigest(), sha256.hexdigest()


class MavenClient:
    def __init__(
        self,
        repos: Sequence[str],
        cache: Cache,
        offline: bool = False,
        http: Callable[[], Http] = Http,
        gradle_home: Path | None = None,
        maven_local: Path | None = None,
        progress: Progress | None = None,
        metadata_ttl: float = METADATA_TTL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.repos = tuple(r.rstrip("/") for r in repos)
        self.cache = cache
        self.offline = offline
        self.offline_reason = "offline"
        """Why no request is sent: ``--offline``, or the network given up earlier in the run."""
        self._http_factory = http
        self._http: Http | None = None
        self.gradle_home = gradle_home if gradle_home is not None else local.gradle_home()
        self.maven_local = maven_local if maven_local is not None else local.maven_local()
        self._progress = progress
        self._ttl = metadata_ttl
        self._clock = clock
        self._cache_told = False

    @property
    def http(self) -> Http:
        """Made on first use, so an offline or fully cached run never opens a session."""
        if self.offline:
            raise OfflineError("offline: no request may be sent")
        if self._http is None:
            self._http = self._http_factory()
        return self._http

    @property
    def requests_sent(self) -> int:
        return 0 if self._http is None else self._http.requests

    @property
    def bytes_received(self) -> int:
        return 0 if self._http is None else self._http.received

    def close(self) -> None:
        if self._http is not None:
            self._http.close()

    # --- versions --------------------------------------------------------------------------

    def versions(self, module: Coordinate) -> list[str]:
        """Every known version of ``module``, oldest first: maven-metadata.xml of each repository
        (cached for a day), plus whatever the local caches hold."""
        found = self.known_versions(module)
        cached = self.cache.versions(module)
        repos = [redact(r) for r in self.repos]  # the cache file never holds a password
        fresh = cached is not None and cached[2] == repos and self._clock() - cached[1] < self._ttl
        if self.offline or fresh:
            if cached is not None:
                found.update(cached[0])
            return sorted(found, key=version_key)
        remote = self._fetch_versions(module)
        self.cache.store_versions(module, sorted(remote, key=version_key), self._clock(), repos)
        return sorted(found | remote, key=version_key)

    def held_versions(self, module: Coordinate) -> set[str]:
        """Versions whose artifact (or its manifest) is on this machine already: no download."""
        return local.local_versions(self.gradle_home, self.maven_local, module) | self.cache.local_versions(
            module
        )

    def known_versions(self, module: Coordinate) -> set[str]:
        """Versions the local caches hold (and the last version list fetched): no request."""
        found = local.local_versions(self.gradle_home, self.maven_local, module) | self.cache.local_versions(
            module
        )
        cached = self.cache.versions(module)
        return found | set(cached[0]) if cached is not None else found

    def _fetch_versions(self, module: Coordinate) -> set[str]:
        versions: set[str] = set()
        errors: list[NetworkError] = []
        for repo in self.repos:
            url = f"{repo}/{module.module_path}/maven-metadata.xml"
            try:
                data = self.http.get_bytes(url)
                self._verify_small(url, data)
                versions.update(parse_metadata(data, url))
            except NotFoundError:
                continue
            except NetworkError as exc:
                errors.append(exc)
        if errors:
            raise errors[0]
        if not versions:
            raise NotFoundError(f"{module}: no maven-metadata.xml in {', '.join(map(redact, self.repos))}")
        return versions

    def _verify_small(self, url: str, data: bytes) -> None:
        """Metadata is checked against its .sha1 when the repository publishes one."""
        try:
            expected = parse_checksum(self.http.get_bytes(f"{url}.sha1", limit=4096), 40, f"{url}.sha1")
        except NotFoundError:
            log.debug("%s: no .sha1 published", redact(url))
            return
        actual = hashlib.sha1(data).hexdigest()
        if actual != expected:
            raise RepositoryDataError(
                f"{redact(url)}: checksum mismatch: .sha1 says {expected}, downloaded file has {actual}"
            )

    # --- artifacts -------------------------------------------------------------------------

    def indexed(self, coordinate: Coordinate) -> str | None:
        """The artifact's sha256 if an earlier run recorded it (no file is read)."""
        entry = self.cache.index(coordinate)
        return None if entry is None else str(entry["sha256"])

    def resolve(self, coordinate: Coordinate) -> Artifact:
        if coordinate.version is None:
            raise InputError(f"{coordinate}: a version is needed")
        healed = len(self.cache.healed)
        for artifact in self._local(coordinate):
            self.cache.store_index(
                coordinate, {"sha256": artifact.sha256, "origin": artifact.origin, "path": str(artifact.path)}
            )
            return artifact
        dropped = (
            "; its corrupt copy in the symaudit cache was removed" if len(self.cache.healed) > healed else ""
        )
        if self.offline:
            raise OfflineError(
                f"{coordinate}: not in the Gradle, Maven or symaudit cache, and offline{dropped}"
            )
        if not self.cache.writable:
            told, self._cache_told = self._cache_told, True
            raise CacheError(f"{coordinate}: not downloaded" + ("" if told else f": {self.cache.problem}"))
        try:
            artifact = self._download(coordinate)
        except CacheError:
            self._cache_told = True
            raise
        self.cache.store_index(
            coordinate, {"sha256": artifact.sha256, "origin": artifact.origin, "path": str(artifact.path)}
        )
        return artifact

    def find_local(self, coordinate: Coordinate) -> Artifact | None:
        """The artifact from the Gradle, Maven or symaudit cache (indexed), without a request."""
        for artifact in self._local(coordinate):
            self.cache.store_index(
                coordinate, {"sha256": artifact.sha256, "origin": artifact.origin, "path": str(artifact.path)}
            )
            return artifact
        return None

    def remote_members(
        self, coordinate: Coordinate, wanted: Callable[[str], bool]
    ) -> tuple[str, tuple[str, ...], dict[str, bytes]] | None:
        """(checksum key, every member name, the ``wanted`` members' verified bytes) of the
        artifact by range requests, from the first repository publishing its checksum; None when
        none does or the server ignores Range (then download it whole). The key is the published
        ``.sha256``, else ``sha1-<hex>`` of the published ``.sha1``.
        :class:`~symaudit.maven.ranged.ZipRangeError` when the remote zip cannot be read this way."""
        for repo in self.repos:
            url = f"{repo}/{coordinate.path}"
            published = self._published(url)
            if published is None:
                continue
            remote = ranged.central_directory(self.http, url)
            members = ranged.read_members(self.http, remote, wanted) if remote is not None else None
            if remote is None or members is None:
                log.debug("%s: the server ignores Range", redact(url))
                return None
            algorithm, expected = published
            key = expected if algorithm == "sha256" else f"sha1-{expected}"
            return key, tuple(e.name for e in remote.entries), members
        return None

    def _published(self, url: str) -> tuple[str, str] | None:
        """(algorithm, hex digest) the repository publishes for ``url``: its ``.sha256``, else
        its ``.sha1``; None when it publishes neither."""
        for algorithm, length in (("sha256", 64), ("sha1", 40)):
            try:
                text = self.http.get_bytes(f"{url}.{algorithm}", limit=4096)
            except NotFoundError:
                continue
            return algorithm, parse_checksum(text, length, f"{url}.{algorithm}")
        return None

    def _local(self, coordinate: Coordinate) -> Iterator[Artifact]:
        for candidate in local.gradle_candidates(self.gradle_home, coordinate):
            sha1, sha256 = _digests(candidate)
            if sha1.lstrip("0") != candidate.parent.name.lstrip("0"):
                log.debug("%s: SHA-1 is not its Gradle hash folder's name; skipped", candidate)
                continue
            yield Artifact(coordinate, candidate, sha256, "gradle")
            return
        m2 = local.maven_candidate(self.maven_local, coordinate)
        if m2 is not None:
            sha1, sha256 = _digests(m2)
            recorded = Path(f"{m2}.sha1")
            if recorded.is_file():
                try:
                    if parse_checksum(recorded.read_bytes(), 40, str(recorded)) != sha1:
                        raise InputError(f"{m2}: does not match its .sha1 (corrupt local Maven repository)")
                except NetworkError:
                    log.debug("%s: unreadable .sha1 ignored", recorded)
            yield Artifact(coordinate, m2, sha256, "maven-local")
            return
        cached = self.cache.artifact(coordinate)
        if cached is not None:
            yield Artifact(coordinate, cached[0], cached[1], "cache")

    def _expected(self, url: str) -> tuple[str, str]:
        """(algorithm, hex digest) the repository publishes for ``url``."""
        published = self._published(url)
        if published is not None:
            return published

        def refuse(size: int | None, chunks: Iterator[bytes]) -> tuple[str, str]:
            raise RepositoryDataError(
                f"{redact(url)}: the repository publishes no .sha256 or .sha1; refusing an unverified file"
            )

        # No checksum: a 404 on the file itself is "not found" (the usual case); else refuse it.
        return self.http.fetch(url, refuse)

    def _download(self, coordinate: Coordinate) -> Artifact:
        errors: list[NetworkError] = []
        for repo in self.repos:
            url = f"{repo}/{coordinate.path}"
            try:
                return self._download_from(url, coordinate)
            except NotFoundError:
                continue
            except NetworkError as exc:
                errors.append(exc)
        if errors:
            raise errors[0]
        raise NotFoundError(f"{coordinate}: not found in {', '.join(map(redact, self.repos))}")

    def _download_from(self, url: str, coordinate: Coordinate) -> Artifact:
        """Stream ``url`` into the cache; kept only when its checksum matches (and it is not
        over :data:`MAX_ARTIFACT_BYTES`, whatever the server claims)."""
        algorithm, expected = self._expected(url)
        target = self.cache.artifact_path(coordinate)
        with self.cache.writing(target) as handle:

            def write(size: int | None, chunks: Iterator[bytes]) -> tuple[str, str]:
                handle.seek(0)
                handle.truncate()
                if size is not None and size > MAX_ARTIFACT_BYTES:
                    raise RepositoryDataError(
                        f"{redact(url)}: {size} bytes is over the {MAX_ARTIFACT_BYTES}-byte limit for an artifact"
                    )
                chunks = _capped(chunks, url)
                digests = {"sha1": hashlib.sha1(), "sha256": hashlib.sha256()}
                if self._progress is None:
                    for chunk in chunks:
                        handle.write(chunk)
                        for digest in digests.values():
                            digest.update(chunk)
                else:
                    with self._progress(coordinate.file_name, size) as advance:
                        for chunk in chunks:
                            handle.write(chunk)
                            for digest in digests.values():
                                digest.update(chunk)
                            advance(len(chunk))
                return digests[algorithm].hexdigest(), digests["sha256"].hexdigest()

            actual, sha256 = self.http.fetch(url, write)
            if actual != expected:
                raise RepositoryDataError(
                    f"{redact(url)}: checksum mismatch: .{algorithm} says {expected}, downloaded file has {actual}"
                    " (file discarded)"
                )
            self.cache.keep_artifact(coordinate, sha256)
        return Artifact(coordinate, target, sha256, "download")


MAX_ARTIFACT_BYTES = 2 << 30
"""Largest reference artifact downloaded (pytorch_android AARs are about 100 MB): a hostile or
broken repository cannot fill the disk before the checksum would reject the file."""


def _capped(chunks: Iterator[bytes], url: str) -> Iterator[bytes]:
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > MAX_ARTIFACT_BYTES:
            raise RepositoryDataError(
                f"{redact(url)}: more than {MAX_ARTIFACT_BYTES} bytes; download abandoned"
            )
        yield chunk
