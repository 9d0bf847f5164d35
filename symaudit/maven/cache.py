"""symaudit's own cache: verified artifacts, merged version lists and reference manifests.

Layout under the root (``SYMAUDIT_CACHE``, default the platform's user cache folder)::

    artifacts/<group>/<artifact>/<version>/<file>      verified downloads
    artifacts/<group>/<artifact>/<version>/<file>.sha256   their digest, written after them
    versions/<group>/<artifact>.json                  versions from maven-metadata.xml, with time
    index/<group>/<artifact>/<version>.<ext>.json      coordinate -> artifact sha256 (+ origin)
    manifests/<sha256>.json                           reference manifests, keyed by artifact sha256

The cache never serves what it cannot vouch for, and never stops an audit:

* **Atomic writes**: every write goes to a temporary ``.*.part`` file in the same folder, held
  under an exclusive lock, and is renamed into place (``os.replace`` is atomic), so a concurrent
  run sees the old file, the new one, or none, never half of one. A ``.part`` left by a killed
  run (unlocked, and not written to for a few seconds) is removed by the next run that writes.
* **Verified reads**: an artifact is served only when its sha256 is the one recorded when it was
  downloaded (after the repository's checksum matched); every JSON file carries the sha256 of
  its payload. Anything else is corrupt: it is removed and treated as a miss, so the next
  download or rebuild heals it.
* **Degrading**: a cache that cannot be written (read-only, a path under a file, a full disk)
  switches the run to no cache: reads of what is there go on, writes are skipped, and
  :attr:`Cache.problem` says once why (downloads then stop: see ``MavenClient``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

from symaudit.errors import SymauditError
from symaudit.maven.coordinates import Coordinate, valid_part

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: stale .part files are told by age alone
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

APP_NAME = "symaudit"
STALE_PART = 5.0
"""Seconds a ``.part`` file must be untouched (and unlocked) before another run may remove it;
the lock is taken right after the file is made, so this only covers that instant."""
STALE_PART_UNLOCKED = 3600.0
"""Without ``fcntl`` (Windows) a ``.part`` is stale after an hour untouched."""
_ENVELOPE = re.compile(rb'\A\{"sha256":"([0-9a-f]{64})","data":')


class CacheError(SymauditError):
    """The cache cannot hold what this run needs to keep (read-only, full): nothing was downloaded."""


def default_root(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    configured = env.get("SYMAUDIT_CACHE")
    if configured:
        return Path(configured)
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


@contextmanager
def atomic_file(path: Path) -> Iterator[IO[bytes]]:
    """A binary file that appears at ``path`` only when the block ends without an exception.

    ``OSError`` (read-only folder, full disk) reaches the caller; no ``.part`` is left behind.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(
        dir=path.parent, prefix=f".{path.name}.", suffix=".part", delete=False
    )
    temp = Path(handle.name)
    try:
        with handle:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)  # "a live writer": see sweep_parts
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def atomic_write(path: Path, data: bytes) -> None:
    with atomic_file(path) as handle:
        handle.write(data)


def _stale(part: Path, now: float) -> bool:
    try:
        with part.open("rb") as handle:
            age = now - os.fstat(handle.fileno()).st_mtime
            if fcntl is None:
                return age > STALE_PART_UNLOCKED
            if age <= STALE_PART:
                return False
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return False  # a run is writing it now
            return True
    except OSError:
        return False


def sweep_parts(root: Path) -> list[Path]:
    """Remove the ``.part`` files under ``root`` that no live run is writing; what was removed."""
    removed = []
    now = time.time()
    for part in root.rglob(".*.part"):
        if part.is_file() and _stale(part, now):
            with suppress(OSError):
                part.unlink()
                removed.append(part)
                log.debug("%s: stale partial download removed", part)
    return removed


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


class Cache:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.problem: str | None = None
        """Why the cache is not written to in this run (None while it is)."""
        self._swept = False
        self.healed: list[str] = []
        """Corrupt files removed in this run, one line each."""

    @property
    def writable(self) -> bool:
        return self.problem is None

    def unwritable(self, exc: OSError) -> None:
        """Switch this run to no cache (reads go on) after ``exc`` from a write."""
        if self.problem is None:
            reason = exc.strerror or exc.__class__.__name__
            self.problem = (
                f"symaudit cache {self.root}: cannot write ({reason}); running without a cache: "
                "nothing is downloaded (set SYMAUDIT_CACHE to a writable folder)"
            )
            log.debug("%s", self.problem)

    @contextmanager
    def writing(self, path: Path) -> Iterator[IO[bytes]]:
        """:func:`atomic_file` in the cache; the first write of a run sweeps stale ``.part`` files.
        An ``OSError`` marks the cache unwritable and is re-raised as :class:`CacheError`."""
        if self.problem is not None:
            raise CacheError(self.problem)
        try:
            if not self._swept:
                self._swept = True
                sweep_parts(self.root)
            with atomic_file(path) as handle:
                yield handle
        except OSError as exc:
            self.unwritable(exc)
            raise CacheError(self.problem or str(exc)) from None

    def _drop(self, path: Path, why: str) -> None:
        """Remove a corrupt file (and an artifact's digest), so the next download or rebuild
        replaces it; in a cache that cannot be written it is only ignored."""
        try:
            path.unlink()
            Path(f"{path}.sha256").unlink(missing_ok=True)
            done = "removed"
        except OSError:
            done = "ignored (cannot remove it)"
        self.healed.append(f"{path}: {why}; {done}")
        log.debug("%s: %s; %s", path, why, done)

    # --- paths -----------------------------------------------------------------------------

    def artifact_path(self, coordinate: Coordinate) -> Path:
        return (
            self.root
            / "artifacts"
            / coordinate.group
            / coordinate.artifact
            / str(coordinate.version)
            / coordinate.file_name
        )

    def _versions_path(self, coordinate: Coordinate) -> Path:
        return self.root / "versions" / coordinate.group / f"{coordinate.artifact}.json"

    def _index_path(self, coordinate: Coordinate) -> Path:
        name = f"{coordinate.version}.{coordinate.extension}.json"
        return self.root / "index" / coordinate.group / coordinate.artifact / name

    def manifest_path(self, sha256: str) -> Path:
        return self.root / "manifests" / f"{sha256}.json"

    # --- verified files --------------------------------------------------------------------

    def artifact(self, coordinate: Coordinate) -> tuple[Path, str] | None:
        """(path, sha256) of the cached artifact when it still has the digest recorded at its
        download; a changed or unrecorded file is removed (the next download replaces it)."""
        path = self.artifact_path(coordinate)
        if not path.is_file():
            return None
        try:
            recorded = Path(f"{path}.sha256").read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            recorded = ""
        actual = _sha256(path)
        if actual == recorded:
            return path, actual
        why = f"sha256 {actual}, recorded {recorded}" if recorded else "no digest recorded"
        self._drop(path, f"corrupt cached artifact ({why})")
        return None

    def keep_artifact(self, coordinate: Coordinate, sha256: str) -> None:
        """Record the digest of a verified artifact (see :meth:`artifact`), before the artifact is
        renamed into place: a reader then never sees the file without its digest."""
        path = self.artifact_path(coordinate)
        with self.writing(Path(f"{path}.sha256")) as handle:
            handle.write(f"{sha256}\n".encode())

    def _read_json(self, path: Path) -> Any:
        try:
            raw = path.read_bytes()
        except OSError:
            return None  # absent: a miss
        match = _ENVELOPE.match(raw)
        payload = raw[match.end() : -2] if match and raw.endswith(b"}\n") else b""
        if not match or hashlib.sha256(payload).hexdigest() != match.group(1).decode():
            self._drop(path, "corrupt cache file (its sha256 does not match)")
            return None
        try:
            return json.loads(payload)
        except ValueError:
            self._drop(path, "corrupt cache file (not JSON)")
            return None

    def _write_json(self, path: Path, value: object) -> None:
        """Written with the sha256 of its payload; skipped when the cache is not writable."""
        payload = json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
        digest = hashlib.sha256(payload).hexdigest()
        try:
            with self.writing(path) as handle:
                handle.write(b'{"sha256":"' + digest.encode() + b'","data":' + payload + b"}\n")
        except CacheError:
            log.debug("%s: not cached (%s)", path, self.problem)

    # --- records ---------------------------------------------------------------------------

    def versions(self, coordinate: Coordinate) -> tuple[list[str], float, list[str]] | None:
        """(versions, time fetched, repositories asked) last stored for the module."""
        data = self._read_json(self._versions_path(coordinate))
        if not isinstance(data, dict):
            return None
        versions, fetched, repos = data.get("versions"), data.get("fetched"), data.get("repositories")
        if (
            not isinstance(versions, list)
            or not isinstance(fetched, (int, float))
            or not isinstance(repos, list)
        ):
            return None
        return [str(v) for v in versions], float(fetched), [str(r) for r in repos]

    def store_versions(
        self, coordinate: Coordinate, versions: list[str], fetched: float, repos: list[str]
    ) -> None:
        self._write_json(
            self._versions_path(coordinate), {"versions": versions, "fetched": fetched, "repositories": repos}
        )

    def index(self, coordinate: Coordinate) -> dict[str, Any] | None:
        data = self._read_json(self._index_path(coordinate))
        return data if isinstance(data, dict) and isinstance(data.get("sha256"), str) else None

    def store_index(self, coordinate: Coordinate, entry: Mapping[str, object]) -> None:
        self._write_json(self._index_path(coordinate), dict(entry))

    def indexed(self) -> Iterator[tuple[Coordinate, dict[str, Any]]]:
        """Every coordinate with an index entry (``refs list``)."""
        root = self.root / "index"
        if not root.is_dir():
            return
        for path in sorted(root.glob("*/*/*.json")):
            version, _, extension = path.name[: -len(".json")].rpartition(".")
            entry = self._read_json(path)
            if (
                valid_part(version)
                and valid_part(extension)
                and isinstance(entry, dict)
                and isinstance(entry.get("sha256"), str)
            ):
                yield Coordinate(path.parent.parent.name, path.parent.name, version, extension), entry

    def manifest(self, sha256: str) -> Any:
        return self._read_json(self.manifest_path(sha256))

    def store_manifest(self, sha256: str, manifest: Mapping[str, object]) -> None:
        self._write_json(self.manifest_path(sha256), dict(manifest))

    def local_versions(self, coordinate: Coordinate) -> set[str]:
        folder = self.root / "artifacts" / coordinate.group / coordinate.artifact
        found = {p.parent.name for p in folder.glob(f"*/{coordinate.artifact}-*.{coordinate.extension}")}
        index = self.root / "index" / coordinate.group / coordinate.artifact
        suffix = f".{coordinate.extension}.json"
        found |= {p.name[: -len(suffix)] for p in index.glob(f"*{suffix}")}
        return {v for v in found if valid_part(v)}
