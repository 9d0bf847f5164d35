"""Measure a first and a warm online ``symaudit apk`` against a real Maven repository.

The app is an APK holding ``org.pytorch:pytorch_android:1.13.1``'s ``jni/<abi>/`` libraries (from
the pinned corpus, ``python scripts/fetch_corpus.py``), all four ABIs or those of ``--abi``.
Both runs share one temporary HOME (``XDG_CACHE_HOME`` and the Gradle home below it, and no
``SYMAUDIT_CACHE``): the first starts with no symaudit, Gradle or ~/.m2 cache at all, the warm
one finds what the first kept. Bytes are the HTTP bodies received, counted by wrapping
``requests``' ``Response.iter_content`` in the measured process (the only way symaudit reads a
body), so a checkout without byte counters (``--code``) is measured the same way.

Not part of the test suite: it talks to the real repository (Maven Central by default).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COORDINATE = "org.pytorch:pytorch_android:1.13.1"

BOOT = r"""
import json, sys, requests
counted = {"bytes": 0, "requests": 0}
original = requests.models.Response.iter_content
def iter_content(self, *args, **kwargs):
    counted["requests"] += 1
    for chunk in original(self, *args, **kwargs):
        counted["bytes"] += len(chunk)
        yield chunk
requests.models.Response.iter_content = iter_content
import atexit
atexit.register(lambda: sys.stderr.write("MEASURED " + json.dumps(counted) + "\n"))
from symaudit.cli import main
sys.argv = ["symaudit", *sys.argv[1:]]
main()
"""


def corpus_aar() -> Path:
    sys.path.insert(0, str(ROOT / "scripts"))
    import fetch_corpus

    pin = next(p for p in fetch_corpus.MAVEN_PINS if p.coordinate == COORDINATE)
    path = fetch_corpus.default_cache() / pin.name
    if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != pin.sha256:
        sys.exit(f"{path}: missing or not the pinned file; run `python scripts/fetch_corpus.py`")
    return path


def build_apk(aar: Path, out: Path, abis: list[str]) -> Path:
    with zipfile.ZipFile(aar) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as apk:
        apk.writestr("AndroidManifest.xml", b"")
        apk.writestr("classes.dex", b"dex\n035\0")
        for info in source.infolist():
            parts = info.filename.split("/")
            if (
                len(parts) == 3
                and parts[0] == "jni"
                and parts[2].endswith(".so")
                and (not abis or parts[1] in abis)
            ):
                apk.writestr(f"lib/{parts[1]}/{parts[2]}", source.read(info))
    return out


def run(code: Path, home: Path, apk: Path, repo: str | None, budget: float | None) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYMAUDIT_", "GRADLE_", "XDG_"))}
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"), PYTHONPATH=str(code))
    args = ["apk", str(apk), "--format", "json", "--min-sdk", "21"]
    if repo:
        args += ["--maven-repo", repo]
    if budget is not None:
        args += ["--network-budget", str(budget)]
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", BOOT, *args], capture_output=True, text=True, env=env, cwd=home
    )
    seconds = time.monotonic() - started
    measured = next(json.loads(line[9:]) for line in done.stderr.splitlines() if line.startswith("MEASURED "))
    report = json.loads(done.stdout) if done.stdout.strip().startswith("{") else {}
    references = report.get("references", {})
    identified = sorted(
        {
            f"{lib['abi']}: {lib['reference']['coordinate']} ({lib['reference']['match']})"
            for lib in report.get("libraries", [])
            if lib["name"] == "libpytorch_jni.so" and lib.get("reference")
        }
    )
    return {
        "exit": done.returncode,
        "seconds": round(seconds, 1),
        "bytes": measured["bytes"],
        "responses": measured["requests"],
        "loaded": references.get("loaded"),
        "problems": references.get("problems"),
        "identified": identified,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--code", type=Path, default=ROOT, help="checkout whose symaudit is run")
    parser.add_argument("--abi", action="append", default=[], help="ABIs in the APK (default: all four)")
    parser.add_argument("--maven-repo", default=None, help="repository (default: symaudit's, Maven Central)")
    parser.add_argument("--network-budget", type=float, default=None)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="symaudit-first-") as scratch:
        home = Path(scratch) / "home"
        home.mkdir()
        apk = build_apk(corpus_aar(), Path(scratch) / "app.apk", options.abi)
        for label in ("first", "warm"):
            result = run(options.code.resolve(), home, apk, options.maven_repo, options.network_budget)
            print(json.dumps({"run": label, "abis": options.abi or "all", **result}, indent=1), flush=True)


if __name__ == "__main__":
    main()
