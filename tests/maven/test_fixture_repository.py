"""``fixtures/maven`` is what ``scripts/build_maven_fixtures.py`` builds, byte for byte, and its
checksum files and metadata agree with the artifacts."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

from symaudit.maven.client import parse_metadata
from tests.required import need_tools

ROOT = Path(__file__).resolve().parents[2]
MAVEN = ROOT / "fixtures" / "maven"
TOOLS = ("clang-19", "ld.lld-19", "llvm-objcopy-19")


def test_checksums_and_metadata_agree_with_the_artifacts() -> None:
    artifacts = (
        sorted(MAVEN.rglob("*.aar"))
        + sorted(MAVEN.rglob("*.pom"))
        + sorted(MAVEN.rglob("maven-metadata.xml"))
    )
    assert len(list(MAVEN.rglob("*.aar"))) == 6
    for path in artifacts:
        data = path.read_bytes()
        assert Path(f"{path}.sha1").read_text().split()[0] == hashlib.sha1(data).hexdigest()
        if path.suffix == ".aar":
            assert Path(f"{path}.sha256").read_text().split()[0] == hashlib.sha256(data).hexdigest()
    for metadata in MAVEN.rglob("maven-metadata.xml"):
        versions = parse_metadata(metadata.read_bytes(), str(metadata))
        assert versions == sorted(p.name for p in metadata.parent.iterdir() if p.is_dir())


def test_rebuild_reproduces_the_committed_repository() -> None:
    need_tools(*TOOLS)
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_maven_fixtures.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
