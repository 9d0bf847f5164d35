"""Fetch the real-binary test corpus: AARs shipped inside pinned npm tarballs.

Third-party binaries never go into git (STYLE habit 12); they go into a cache outside the repo,
``$SYMAUDIT_CORPUS`` or ``~/.cache/symaudit/corpus/``. Each tarball is pinned by the ``integrity``
the npm registry publishes for it (``npm view PACKAGE@VERSION dist``) and verified before it is
opened; each AAR taken out of it is pinned again by sha256, which is what lets a populated cache
be checked offline. Members are read from the tarball in memory, by the exact path pinned here,
and written under fixed names chosen here: nothing in the tarball decides a path on disk.

Usage: ``python scripts/fetch_corpus.py [--registry URL] [--cache DIR]``. Exit 0 when the cache
holds every pinned file, 1 with one line on stderr otherwise.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import io
import json
import os
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import requests

DEFAULT_REGISTRY = "https://registry.npmjs.org"
TIMEOUT = (10, 60)  # (connect, read) seconds
MAX_TARBALL = 128 * 1024 * 1024
MAX_MEMBER = 96 * 1024 * 1024
CHUNK = 1 << 20
MANIFEST = "manifest.json"
SCHEMA = "symaudit.corpus/1"


@dataclass(frozen=True)
class Member:
    path: str
    """Path inside the tarball (npm tarballs put everything under ``package/``)."""
    name: str
    """File name in the cache."""
    sha256: str


@dataclass(frozen=True)
class Pin:
    package: str
    version: str
    integrity: str
    """npm's Subresource Integrity string for the tarball: ``sha512-<base64>``."""
    members: tuple[Member, ...]

    def url(self, registry: str) -> str:
        base = self.package.rsplit("/", 1)[-1]
        return f"{registry.rstrip('/')}/{self.package}/-/{base}-{self.version}.tgz"


PINS: tuple[Pin, ...] = (
    Pin(
        "hermes-engine",
        "0.11.0",
        "sha512-7aMUlZja2IyLYAcZ69NBnwJAR5ZOYlSllj0oMpx08a8HzxHOys0eKCzfphrf6D0vX1JGO1QQvVsQKe6TkYherw==",
        (
            Member(
                "package/android/hermes-release.aar",
                "hermes-engine-0.11.0-hermes-release.aar",
                "39fdaa85802c11fcbf2669c437fba2264d54cfed28a33272c21542ae2606e215",
            ),
            Member(
                "package/android/hermes-debug.aar",
                "hermes-engine-0.11.0-hermes-debug.aar",
                "a68f09c009ce6e2e110e64c20011db812dd99abe6b423e15198991d7addb41e1",
            ),
            Member(
                "package/android/hermes-cppruntime-release.aar",
                "hermes-engine-0.11.0-hermes-cppruntime-release.aar",
                "7cea6920d297d4e76438c40670914be2efb5a4afa9e40fc46033735580ef024b",
            ),
        ),
    ),
    Pin(
        "jsc-android",
        "294992.0.0",
        "sha512-DyV6nx8GM8sspQ1eEj5Sc5xtZF2OUfxLi3Hjke7SX3Xnnjaok1QLeB31mJLWBW02N4QDKl3R1dJpkXsPEPrVhA==",
        (
            Member(
                "package/dist/org/webkit/android-jsc-intl/r294992/android-jsc-intl-r294992.aar",
                "jsc-android-294992.0.0-android-jsc-intl.aar",
                "e9badd412f5f167c33e57b1061ef4edc824be84ccf7c1a8ed89da31d5a16a70a",
            ),
        ),
    ),
    # The React Native AAR that hermes-engine 0.11 was made for: libjsi.so, libfbjni.so and the
    # executors that load libhermes.so / libjsc.so, so the tests can audit what an app ships.
    Pin(
        "react-native",
        "0.68.2",
        "sha512-qNMz+mdIirCEmlrhapAtAG+SWVx6MAiSfCbFNhfHqiqu1xw1OKXdzIrjaBEPihRC2pcORCoCHduHGQe/Pz9Yuw==",
        (
            Member(
                "package/android/com/facebook/react/react-native/0.68.2/react-native-0.68.2.aar",
                "react-native-0.68.2.aar",
                "9b66dd0a4da6f0f2f91b9d80a2b0f3f9cb0b9dce61d82b18a53b8291978d58fc",
            ),
        ),
    ),
)


class CorpusError(Exception):
    """One line for the user: what failed, naming the URL or file."""


def default_cache() -> Path:
    configured = os.environ.get("SYMAUDIT_CORPUS")
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "symaudit" / "corpus"


def _sha256_file(path: Path) -> str | None:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(CHUNK), b""):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def _cached(cache: Path, member: Member) -> bool:
    return _sha256_file(cache / member.name) == member.sha256


def _check_integrity(url: str, data: bytes, integrity: str) -> None:
    algorithm, _, expected = integrity.partition("-")
    if algorithm != "sha512":
        raise CorpusError(f"{url}: unsupported integrity algorithm {algorithm!r}")
    actual = base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")
    if not hmac.compare_digest(actual, expected):
        raise CorpusError(f"{url}: integrity mismatch (expected {integrity}, got sha512-{actual})")


def download(url: str, session: requests.Session, limit: int = MAX_TARBALL) -> bytes:
    """The body of ``url``, streamed and bounded; any failure is a :class:`CorpusError`."""
    try:
        with session.get(url, stream=True, timeout=TIMEOUT) as response:
            if response.status_code != 200:
                raise CorpusError(f"{url}: HTTP {response.status_code}")
            declared = response.headers.get("Content-Length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                raise CorpusError(f"{url}: {declared} bytes is over the {limit}-byte limit")
            body = bytearray()
            for chunk in response.iter_content(CHUNK):
                body += chunk
                if len(body) > limit:
                    raise CorpusError(f"{url}: body is over the {limit}-byte limit")
            return bytes(body)
    except requests.RequestException as exc:
        raise CorpusError(f"{url}: {exc.__class__.__name__}") from exc


def _extract(url: str, tarball: bytes, members: Sequence[Member]) -> dict[str, bytes]:
    """The pinned members of a verified tarball, read in memory and checked by sha256."""
    out: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
            for member in members:
                try:
                    info = archive.getmember(member.path)
                except KeyError:
                    raise CorpusError(f"{url}: no {member.path} in the tarball") from None
                if not info.isfile() or info.size > MAX_MEMBER:
                    raise CorpusError(f"{url}: {member.path} is not a regular file under {MAX_MEMBER} bytes")
                handle = archive.extractfile(info)
                assert handle is not None  # a regular file always has one
                data = handle.read()
                actual = hashlib.sha256(data).hexdigest()
                if actual != member.sha256:
                    raise CorpusError(f"{url}: {member.path} has sha256 {actual}, pinned {member.sha256}")
                out[member.name] = data
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise CorpusError(f"{url}: unreadable tarball ({exc.__class__.__name__})") from exc
    return out


def _write_atomic(path: Path, data: bytes) -> None:
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(temporary, 0o644)  # mkstemp makes 0600; the cache is ordinary readable data
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _manifest(pins: Sequence[Pin]) -> bytes:
    files = [
        {
            "name": member.name,
            "package": f"{pin.package}@{pin.version}",
            "member": member.path,
            "sha256": member.sha256,
        }
        for pin in pins
        for member in pin.members
    ]
    return (json.dumps({"schema": SCHEMA, "files": files}, indent=2) + "\n").encode()


def fetch(cache: Path, registry: str, pins: Sequence[Pin] = PINS) -> list[str]:
    """Make ``cache`` hold every pinned file; returns the names written (empty when up to date).

    Files written by a run that then fails are removed again, so a failed run leaves the cache
    as it found it.
    """
    manifest = _manifest(pins)
    missing = [pin for pin in pins if not all(_cached(cache, m) for m in pin.members)]
    manifest_path = cache / MANIFEST
    if not missing and manifest_path.is_file() and manifest_path.read_bytes() == manifest:
        return []
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CorpusError(f"{cache}: cannot create the cache ({exc.strerror})") from exc
    written: list[Path] = []
    try:
        with requests.Session() as session:
            session.headers["User-Agent"] = "symaudit-fetch-corpus"
            for pin in missing:
                url = pin.url(registry)
                tarball = download(url, session)
                _check_integrity(url, tarball, pin.integrity)
                for name, data in _extract(url, tarball, pin.members).items():
                    _write_atomic(cache / name, data)
                    written.append(cache / name)
        _write_atomic(manifest_path, manifest)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return [path.name for path in written]


def main(argv: Sequence[str] | None = None, pins: Sequence[Pin] = PINS) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--registry",
        default=os.environ.get("SYMAUDIT_NPM_REGISTRY", DEFAULT_REGISTRY),
        help="npm registry base URL (default: $SYMAUDIT_NPM_REGISTRY or %(default)s)",
    )
    parser.add_argument(
        "--cache", type=Path, default=None, help="cache directory (default: $SYMAUDIT_CORPUS or ~/.cache/...)"
    )
    args = parser.parse_args(argv)
    cache = args.cache or default_cache()
    try:
        written = fetch(cache, args.registry, pins)
    except CorpusError as exc:
        print(f"fetch_corpus: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"fetch_corpus: {cache}: {exc.strerror or exc.__class__.__name__}", file=sys.stderr)
        return 1
    state = f"wrote {len(written)} file(s)" if written else "up to date"
    print(f"fetch_corpus: {cache}: {state}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
