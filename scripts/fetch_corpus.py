"""Fetch the real-binary test corpus: AARs from pinned npm tarballs and from Maven Central.

Third-party binaries never go into git (STYLE habit 12); they go into a cache outside the repo,
``$SYMAUDIT_CORPUS`` or ``~/.cache/symaudit/corpus/``. Each tarball is pinned by the ``integrity``
the npm registry publishes for it (``npm view PACKAGE@VERSION dist``) and verified before it is
opened; each AAR taken out of it is pinned again by sha256, which is what lets a populated cache
be checked offline. Members are read from the tarball in memory, by the exact path pinned here,
and written under fixed names chosen here: nothing in the tarball decides a path on disk.

Maven artifacts (the PyTorch Android reference builds, issue 14) are pinned by the sha256 of the
AAR itself, the value Maven Central publishes in the artifact's ``.sha256`` file, and verified
before they are written.

Usage: ``python scripts/fetch_corpus.py [--registry URL] [--maven-repo URL] [--cache DIR]``.
Exit 0 when the cache holds every pinned file, 1 with one line on stderr otherwise.
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
DEFAULT_MAVEN = "https://repo1.maven.org/maven2"
TIMEOUT = (10, 60)  # (connect, read) seconds
MAX_TARBALL = 128 * 1024 * 1024
MAX_MEMBER = 96 * 1024 * 1024
MAX_ARTIFACT = 128 * 1024 * 1024
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


@dataclass(frozen=True)
class MavenPin:
    group: str
    artifact: str
    version: str
    sha256: str
    """Of the whole artifact, as Maven Central's ``<file>.sha256`` publishes it."""
    extension: str = "aar"

    @property
    def coordinate(self) -> str:
        return f"{self.group}:{self.artifact}:{self.version}"

    @property
    def file_name(self) -> str:
        return f"{self.artifact}-{self.version}.{self.extension}"

    @property
    def name(self) -> str:
        """File name in the cache: the group keeps artifacts of two groups apart."""
        return f"{self.group}-{self.file_name}"

    def url(self, repository: str) -> str:
        folder = "/".join((*self.group.split("."), self.artifact, self.version))
        return f"{repository.rstrip('/')}/{folder}/{self.file_name}"


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
    # Issue 11's real cases. react-native 0.70.6's libjscexecutor.so imports _Unwind_Resume, which
    # no packaged library defines (react-native PR #36062); with jsc-android 250231 it is the app
    # that crashes below API 30. Its libc++_shared.so (r21e) also serves the libc++ swaps.
    Pin(
        "react-native",
        "0.70.6",
        "sha512-xtQdImPHnwgraEx3HIZFOF+D1hJ9bC5mfpIdUGoMHRws6OmvHAjmFpO6qfdnaQ29vwbmZRq7yf14sbury74R/w==",
        (
            Member(
                "package/android/com/facebook/react/react-native/0.70.6/react-native-0.70.6-release.aar",
                "react-native-0.70.6-release.aar",
                "71648362190e6ce293c9bb4ca01abf26a8076f166caba21b8e45721c25e18304",
            ),
        ),
    ),
    Pin(
        "jsc-android",
        "250231.0.0",
        "sha512-rS46PvsjYmdmuz1OAWXY/1kCYG7pnf1TBqeTiOJr1iDz7s5DLxxC9n/ZMknLDxzYzNVfI7R95MH10emSSG1Wuw==",
        (
            Member(
                "package/dist/org/webkit/android-jsc/r250231/android-jsc-r250231.aar",
                "jsc-android-250231.0.0-android-jsc.aar",
                "0042d194e8adf050e304ab0cb92f0d1ab722f5f8b232d31c0db3585a6082c3a0",
            ),
        ),
    ),
    # libnode.so built with NDK r24 imports __emutls_get_address, which neither bionic nor an
    # r21 libc++_shared.so exports. The tarball is 105 MB; only the arm64-v8a library is kept.
    Pin(
        "nodejs-mobile-react-native",
        "18.20.4",
        "sha512-Lba5nYNwEbw+K9WQnxcyY/9Beagw+NIVbyrCU6burCJZ1p1iKxSXTp5rctgvRxzQb4ARY0r9Uy1k7Dseb1FhVw==",
        (
            Member(
                "package/android/libnode/bin/arm64-v8a/libnode.so",
                "nodejs-mobile-react-native-18.20.4-arm64-v8a-libnode.so",
                "7c907316beb6e78e34495926c9ac1befe079369b14650d508ea812929258250c",
            ),
        ),
    ),
)

# The PyTorch Android reference builds (issue 14). Maven Central publishes pytorch_android 1.8.0,
# 1.9.0, 1.10.0, 1.13.1 and pytorch_android_lite 1.9.0, 1.12.2 (maven-metadata.xml, README).
# Pinned: three full releases, both lite releases, and the fbjni release whose libfbjni.so has
# exactly the exports of the copies these AARs ship (their own builds, not byte-identical).
MAVEN_PINS: tuple[MavenPin, ...] = (
    MavenPin(
        "org.pytorch",
        "pytorch_android",
        "1.9.0",
        "f0fe78c303ba79f493dd090802101564d320054eeed3e1b9dfd11bfa936a97a6",
    ),
    MavenPin(
        "org.pytorch",
        "pytorch_android",
        "1.10.0",
        "e4f5095711eb80514439c33e79830d1e1cf1f4ba3a0f6ea899f010e260218ee7",
    ),
    MavenPin(
        "org.pytorch",
        "pytorch_android",
        "1.13.1",
        "78aa10ae11361c67cb49cb34f659b6d5cf9e3865a1c5ebd0555e452cd4873f8b",
    ),
    MavenPin(
        "org.pytorch",
        "pytorch_android_lite",
        "1.9.0",
        "df8ec0d353b1461f3548f8f651563a03c5d57acf315c3a9b550232b5234b4cc5",
    ),
    MavenPin(
        "org.pytorch",
        "pytorch_android_lite",
        "1.12.2",
        "ca58bf74952e50c1ead7d058462680c6b6306877f55e0d612cba0ed8725c95c2",
    ),
    MavenPin(
        "com.facebook.fbjni",
        "fbjni",
        "0.2.2",
        "f609dc043bf788b910727149e175cf4d023f8cbc6b8ecde611c4c7788d66378f",
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


def _manifest(pins: Sequence[Pin], maven_pins: Sequence[MavenPin] = ()) -> bytes:
    files: list[dict[str, str]] = [
        {
            "name": member.name,
            "package": f"{pin.package}@{pin.version}",
            "member": member.path,
            "sha256": member.sha256,
        }
        for pin in pins
        for member in pin.members
    ]
    files += [{"name": pin.name, "coordinate": pin.coordinate, "sha256": pin.sha256} for pin in maven_pins]
    return (json.dumps({"schema": SCHEMA, "files": files}, indent=2) + "\n").encode()


def _check_sha256(url: str, data: bytes, expected: str) -> None:
    actual = hashlib.sha256(data).hexdigest()
    if not hmac.compare_digest(actual, expected):
        raise CorpusError(f"{url}: sha256 mismatch (expected {expected}, got {actual})")


def fetch(
    cache: Path,
    registry: str,
    pins: Sequence[Pin] = PINS,
    maven: str = DEFAULT_MAVEN,
    maven_pins: Sequence[MavenPin] = MAVEN_PINS,
) -> list[str]:
    """Make ``cache`` hold every pinned file; returns the names written (empty when up to date).

    Files written by a run that then fails are removed again, so a failed run leaves the cache
    as it found it.
    """
    manifest = _manifest(pins, maven_pins)
    missing = [pin for pin in pins if not all(_cached(cache, m) for m in pin.members)]
    missing_maven = [pin for pin in maven_pins if _sha256_file(cache / pin.name) != pin.sha256]
    manifest_path = cache / MANIFEST
    if (
        not missing
        and not missing_maven
        and manifest_path.is_file()
        and manifest_path.read_bytes() == manifest
    ):
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
            for maven_pin in missing_maven:
                url = maven_pin.url(maven)
                data = download(url, session, MAX_ARTIFACT)
                _check_sha256(url, data, maven_pin.sha256)
                _write_atomic(cache / maven_pin.name, data)
                written.append(cache / maven_pin.name)
        _write_atomic(manifest_path, manifest)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return [path.name for path in written]


def main(
    argv: Sequence[str] | None = None, pins: Sequence[Pin] = PINS, maven_pins: Sequence[MavenPin] = MAVEN_PINS
) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--registry",
        default=os.environ.get("SYMAUDIT_NPM_REGISTRY", DEFAULT_REGISTRY),
        help="npm registry base URL (default: $SYMAUDIT_NPM_REGISTRY or %(default)s)",
    )
    parser.add_argument(
        "--maven-repo",
        default=os.environ.get("SYMAUDIT_CORPUS_MAVEN", DEFAULT_MAVEN),
        help="Maven repository base URL (default: $SYMAUDIT_CORPUS_MAVEN or %(default)s)",
    )
    parser.add_argument(
        "--cache", type=Path, default=None, help="cache directory (default: $SYMAUDIT_CORPUS or ~/.cache/...)"
    )
    args = parser.parse_args(argv)
    cache = args.cache or default_cache()
    try:
        written = fetch(cache, args.registry, pins, args.maven_repo, maven_pins)
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
