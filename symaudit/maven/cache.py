"""symaudit's own cache: verified artifacts, merged version lists and reference manifests.

Layout under the root (``SYMAUDIT_CACHE``, default the platform's user cache folder)::

    artifacts/<group>/<artifact>/<version>/<file>      verified downloads
    versions/<group>/<artifact>.json                  versions from maven-metadata.xml, with time
    index/<group>/<artifact>/<version>.<ext>.json      coordinate -> artifact sha256 (+ origin)
    manifests/<sha256>.json                           reference manifests, keyed by artifact sha256

Every write goes to a temporary file in the same folder and is renamed into place
(``os.replace`` is atomic), so a concurrent run sees the old file, the new one, or none, never
half of one.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from symaudit.errors import InputError
from symaudit.maven.coordinates import Coordinate, valid_part

APP_NAME = "symaudit"


def default_root(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    configured = env.get("SYMAUDIT_CACHE")
    if configured:
        return Path(configured)
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


@contextmanager
def atomic_file(path: Path) -> Iterator[IO[bytes]]:
    """A binary file that appears at ``path`` only when the block ends without an exception."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = tempfile.NamedTemporaryFile(
            dir=path.parent, prefix=f".{path.name}.", suffix=".part", delete=False
        )
    except OSError as exc:
        raise InputError(f"{path.parent}: cannot write to the cache ({exc.strerror or exc})") from None
    temp = Path(handle.name)
    try:
        with handle:
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


class Cache:
    def __init__(self, root: Path) -> None:
        self.root = root

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

    def _read_json(self, path: Path) -> Any:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # absent, or written by something else: treat as a miss

    def _write_json(self, path: Path, value: object) -> None:
        atomic_write(path, (json.dumps(value, sort_keys=True, separators=(",", ":")) + "\n").encode())

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
