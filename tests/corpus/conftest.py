"""Real third-party AARs from the npm corpus (``python scripts/fetch_corpus.py`` fetches them).

The cache is ``$SYMAUDIT_CORPUS`` or ``~/.cache/symaudit/corpus/``; its ``manifest.json`` names
each AAR and its sha256. Without a populated cache these tests skip, and fail instead under
``SYMAUDIT_REQUIRE_ALL`` (as in CI), so a green CI run means they ran.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from tests.required import skip_or_fail

READELF = "llvm-readelf-19"


def corpus_dir() -> Path:
    configured = os.environ.get("SYMAUDIT_CORPUS")
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "symaudit" / "corpus"


@pytest.fixture(scope="session")
def corpus() -> dict[str, Path]:
    """Cache file name -> path of every AAR the manifest lists, each checked against its sha256."""
    root = corpus_dir()
    hint = "run `python scripts/fetch_corpus.py`"
    try:
        manifest = json.loads((root / "manifest.json").read_text())
    except (OSError, ValueError):
        skip_or_fail(f"no corpus manifest in {root}: {hint}")
    found: dict[str, Path] = {}
    for entry in manifest["files"]:
        path = root / entry["name"]
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            skip_or_fail(f"{path} is missing: {hint}")
        if digest != entry["sha256"]:
            skip_or_fail(f"{path} does not match its manifest sha256: {hint}")
        found[entry["name"]] = path
    return found


@pytest.fixture(scope="session")
def readelf() -> str:
    path = shutil.which(READELF)
    if path is None:
        skip_or_fail(f"{READELF} is not installed (Debian: apt-get install llvm-19)")
    assert path is not None
    return path
