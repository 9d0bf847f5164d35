"""The pinned Maven corpus (PyTorch Android reference AARs) and independent answers about it.

Files are found by the pins of ``scripts/fetch_corpus.py`` and checked against their sha256, not
through the corpus ``manifest.json`` (which an older checkout's fetch may rewrite). Every expected
value is computed here from ``llvm-readelf-19`` output or zip bytes, never by symaudit.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from tests.corpus.conftest import corpus_dir
from tests.required import skip_or_fail

ROOT = Path(__file__).resolve().parents[2]
READELF = "llvm-readelf-19"
ABIS = ("arm64-v8a", "armeabi-v7a", "x86", "x86_64")
EXPORT_BINDINGS = {1, 2}  # GLOBAL, WEAK: what bionic's lookup accepts
UNIQUE = 10  # STB_GNU_UNIQUE: asserted absent, so the classification question does not arise


def fetch_script() -> ModuleType:
    name = "fetch_corpus_pins"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / "fetch_corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def maven_corpus() -> dict[str, Path]:
    """Coordinate (``org.pytorch:pytorch_android:1.13.1``) -> verified AAR in the corpus cache."""
    root = corpus_dir()
    found: dict[str, Path] = {}
    for pin in fetch_script().MAVEN_PINS:
        path = root / pin.name
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            skip_or_fail(f"{path} is missing: run `python scripts/fetch_corpus.py`")
        if digest != pin.sha256:
            skip_or_fail(f"{path} does not match its pinned sha256: run `python scripts/fetch_corpus.py`")
        found[pin.coordinate] = path
    return found


def pinned(*names: str) -> dict[str, Path]:
    """Cache file name -> verified path, for npm members and Maven artifacts alike, by the pins."""
    script = fetch_script()
    pins = {m.name: m.sha256 for pin in script.PINS for m in pin.members}
    pins |= {pin.name: pin.sha256 for pin in script.MAVEN_PINS}
    root = corpus_dir()
    found: dict[str, Path] = {}
    for name in names:
        path = root / name
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            skip_or_fail(f"{path} is missing: run `python scripts/fetch_corpus.py`")
        if digest != pins[name]:
            skip_or_fail(f"{path} does not match its pinned sha256: run `python scripts/fetch_corpus.py`")
        found[name] = path
    return found


def jni(aar: Path) -> dict[tuple[str, str], bytes]:
    with zipfile.ZipFile(aar) as archive:
        return {
            (parts[1], parts[2]): archive.read(info)
            for info in archive.infolist()
            if len(parts := info.filename.split("/")) == 3 and parts[0] == "jni" and parts[2].endswith(".so")
        }


def gradle_home(root: Path, corpus: Mapping[str, Path]) -> Path:
    """A Gradle user home whose module cache holds the corpus AARs (symlinked), as a build leaves it:
    ``caches/modules-2/files-2.1/<group>/<artifact>/<version>/<sha1>/<artifact>-<version>.aar``."""
    files = root / "caches" / "modules-2" / "files-2.1"
    for coordinate, aar in corpus.items():
        group, artifact, version = coordinate.split(":")
        sha1 = hashlib.sha1(aar.read_bytes()).hexdigest()
        target = files / group / artifact / version / sha1 / f"{artifact}-{version}.aar"
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            target.symlink_to(aar)
    return root


def write_apk(path: Path, libraries: Mapping[tuple[str, str], bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("AndroidManifest.xml", b"")
        archive.writestr("classes.dex", b"dex\n035\0")
        for (abi, name), data in sorted(libraries.items()):
            archive.writestr(f"lib/{abi}/{name}", data)
    return path


@cache
def _dyn_syms(digest: str, path: Path) -> tuple[frozenset[str], frozenset[str]]:
    done = subprocess.run(
        [READELF, "--elf-output-style=JSON", "--dyn-syms", str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    (view,) = json.loads(done.stdout)
    exports: set[str] = set()
    imports: set[str] = set()
    for entry in view["DynamicSymbols"]:
        symbol = entry["Symbol"]
        name = symbol["Name"]["Name"].split("@", 1)[0]
        binding = symbol["Binding"]["Value"]
        assert binding != UNIQUE, f"{path}: {name} is GNU_UNIQUE"
        if symbol["Section"]["Value"] == 0:
            if name and binding in EXPORT_BINDINGS:
                imports.add(name)
        elif binding in EXPORT_BINDINGS and symbol["Other"]["Value"] & 3 in (0, 3):
            exports.add(name)
    return frozenset(exports), frozenset(imports)


def readelf_symbols(data: bytes, scratch: Path) -> tuple[frozenset[str], frozenset[str]]:
    """(exports, imports) of an ELF image by llvm-readelf: defined GLOBAL/WEAK DEFAULT/PROTECTED,
    and named undefined GLOBAL/WEAK."""
    digest = hashlib.sha256(data).hexdigest()
    path = scratch / f"{digest}.so"
    if not path.exists():
        path.write_bytes(data)
    return _dyn_syms(digest, path)


SCHEMA_STRING = re.compile(r"^\s*\[\s*[0-9a-f]+\]\s(?:([A-Za-z_]\w*)::)?([A-Za-z_]\w*)(?:\.(\w+))?\(.*\)\s*->")
"""A line of ``llvm-readelf --string-dump`` that reads as a whole operator schema string."""


def readelf_schemas(path: Path) -> set[str]:
    """``ns::name[.overload]`` of every whole ``.rodata`` string of ``path`` that reads as an
    operator schema, by llvm-readelf (``aten`` when the schema names no namespace)."""
    dump = subprocess.run(
        [READELF, "--string-dump=.rodata", str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    ).stdout
    found = set()
    for line in dump.splitlines():
        match = SCHEMA_STRING.match(line)
        if match:
            name = f"{match.group(1) or 'aten'}::{match.group(2)}"
            found.add(f"{name}.{match.group(3)}" if match.group(3) else name)
    return found


def union_exports(libraries: Iterable[bytes], scratch: Path) -> frozenset[str]:
    return frozenset().union(*(readelf_symbols(data, scratch)[0] for data in libraries))


def serve_corpus(httpserver: Any, aars: Mapping[str, Path], ranges: bool) -> dict[str, int]:
    """A Maven repository on 127.0.0.1 made of the corpus AARs: maven-metadata.xml listing the
    pinned versions of each module, each AAR with its .sha1 and .sha256. With ``ranges`` it
    answers ``Range: bytes=a-b`` and ``bytes=-n`` with 206 and ``Accept-Ranges: bytes`` (as Maven
    Central does); without, it ignores Range and sends the whole file. Returns path -> bytes sent."""
    from werkzeug import Request, Response

    files: dict[str, Path | bytes] = {}
    modules: dict[str, list[str]] = {}
    for coordinate, aar in aars.items():
        group, artifact, version = coordinate.split(":")
        base = f"/{group.replace('.', '/')}/{artifact}"
        modules.setdefault(base, []).append(version)
        data = aar.read_bytes()
        files[f"{base}/{version}/{artifact}-{version}.aar"] = aar
        files[f"{base}/{version}/{artifact}-{version}.aar.sha1"] = hashlib.sha1(data).hexdigest().encode()
        files[f"{base}/{version}/{artifact}-{version}.aar.sha256"] = hashlib.sha256(data).hexdigest().encode()
    for base, versions in modules.items():
        group, artifact = base.strip("/").rsplit("/", 1)
        listed = "".join(f"<version>{v}</version>" for v in versions)
        metadata = (
            f"<metadata><groupId>{group.replace('/', '.')}</groupId><artifactId>{artifact}</artifactId>"
            f"<versioning><versions>{listed}</versions></versioning></metadata>"
        ).encode()
        files[f"{base}/maven-metadata.xml"] = metadata
        files[f"{base}/maven-metadata.xml.sha1"] = hashlib.sha1(metadata).hexdigest().encode()
    served: dict[str, int] = {}

    def handle(request: Request) -> Response:
        item = files.get(request.path)
        if item is None:
            return Response("not found", status=404)
        data = item.read_bytes() if isinstance(item, Path) else item
        asked = request.headers.get("Range", "")
        match = re.fullmatch(r"bytes=(\d*)-(\d*)", asked)
        if ranges and match and (match.group(1) or match.group(2)):
            if match.group(1):
                start = int(match.group(1))
                end = min(int(match.group(2)) if match.group(2) else len(data) - 1, len(data) - 1)
            else:
                start, end = max(0, len(data) - int(match.group(2))), len(data) - 1
            part = data[start : end + 1]
            served[request.path] = served.get(request.path, 0) + len(part)
            response = Response(part, status=206, content_type="application/octet-stream")
            response.headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
            response.headers["Accept-Ranges"] = "bytes"
            return response
        served[request.path] = served.get(request.path, 0) + len(data)
        response = Response(data, content_type="application/octet-stream")
        if ranges:
            response.headers["Accept-Ranges"] = "bytes"
        return response

    httpserver.expect_request(re.compile(".*")).respond_with_handler(handle)
    return served
