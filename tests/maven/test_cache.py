"""symaudit's cache serves only what it can vouch for, heals what is corrupt, sweeps what a killed
run left, and a cache that cannot be written never fails an audit (issue 13).

CI runs as root, which ``chmod`` does not stop, so "cannot write" is made in ways that hold for
root too: a cache path under a regular file (``NotADirectoryError``), and a file-size limit
(``RLIMIT_FSIZE``: writes fail with ``EFBIG``, as on a full disk).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from symaudit.maven.cache import Cache, atomic_file, sweep_parts
from symaudit.maven.client import OfflineError
from symaudit.maven.coordinates import Coordinate
from symaudit.references.store import ReferenceStore
from tests.maven.server import MAVEN, MavenServer, trickling
from tests.required import skip_or_fail
from tests.symaudit_cli import ROOT, run

TORCH_210 = Coordinate.parse("org.pytorch:pytorch_android:2.1.0")
AAR_210 = "/org/pytorch/pytorch_android/2.1.0/pytorch_android-2.1.0.aar"
SHA256_210 = (MAVEN / AAR_210.lstrip("/")).with_suffix(".aar.sha256").read_text().split()[0]
WENET = str(ROOT / "fixtures" / "packages" / "wenet-new-runtime.apk")
UNSET = ("SYMAUDIT_OFFLINE", "SYMAUDIT_MAVEN_REPOS", "SYMAUDIT_REFERENCES", "SYMAUDIT_NETWORK_BUDGET")


def _flip_byte(path: Path, offset: int = 100) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def _artifact(tmp_path: Path) -> Path:
    return tmp_path / "cache" / "artifacts/org.pytorch/pytorch_android/2.1.0/pytorch_android-2.1.0.aar"


# --- in process ----------------------------------------------------------------------------


def test_a_corrupt_cached_artifact_is_removed_and_downloaded_again(
    make_client, maven: MavenServer, tmp_path: Path
) -> None:
    assert make_client().resolve(TORCH_210).origin == "download"
    cached = _artifact(tmp_path)
    assert Path(f"{cached}.sha256").read_text().strip() == SHA256_210
    _flip_byte(cached)
    client = make_client()
    healed = client.resolve(TORCH_210)
    assert (healed.origin, healed.sha256) == ("download", SHA256_210)
    assert hashlib.sha256(cached.read_bytes()).hexdigest() == SHA256_210
    assert len(client.cache.healed) == 1 and "corrupt cached artifact" in client.cache.healed[0]
    assert make_client().resolve(TORCH_210).origin == "cache"  # healed for good


def test_offline_a_corrupt_artifact_is_dropped_and_reported(
    make_client, maven: MavenServer, tmp_path: Path
) -> None:
    make_client().resolve(TORCH_210)
    _flip_byte(_artifact(tmp_path))
    with pytest.raises(OfflineError, match="its corrupt copy in the symaudit cache was removed"):
        make_client(offline=True).resolve(TORCH_210)
    assert not _artifact(tmp_path).exists()


def test_an_artifact_without_its_recorded_digest_is_not_served(
    make_client, maven: MavenServer, tmp_path: Path
) -> None:
    make_client().resolve(TORCH_210)
    Path(f"{_artifact(tmp_path)}.sha256").unlink()
    assert make_client().resolve(TORCH_210).origin == "download"


def test_a_manifest_changed_in_place_is_rebuilt(make_client, maven: MavenServer, tmp_path: Path) -> None:
    first = ReferenceStore(make_client()).manifest(TORCH_210)
    path = tmp_path / "cache" / "manifests" / f"{SHA256_210}.json"
    # Valid JSON with a plausible lie in it: only the recorded digest can tell.
    text = path.read_text()
    export = next(name for name in json.loads(text.split(',"data":', 1)[1][:-2])["libraries"][0]["exports"])
    path.write_text(text.replace(f'"{export}"', f'"{export}X"', 1))
    client = make_client()
    assert ReferenceStore(client).manifest(TORCH_210) == first
    assert any("manifests" in line for line in client.cache.healed)
    assert f'"{export}X"' not in path.read_text()


def test_every_json_file_carries_the_digest_of_its_payload(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    cache.store_index(TORCH_210, {"sha256": "ab" * 32, "origin": "download"})
    raw = next((tmp_path / "index").rglob("*.json")).read_bytes()
    outer = json.loads(raw)
    payload = json.dumps(outer["data"], sort_keys=True, separators=(",", ":")).encode()
    assert outer["sha256"] == hashlib.sha256(payload).hexdigest()
    assert cache.index(TORCH_210) == {"sha256": "ab" * 32, "origin": "download"}
    next((tmp_path / "index").rglob("*.json")).write_bytes(raw.replace(b"download", b"gradle"))
    assert cache.index(TORCH_210) is None and not list((tmp_path / "index").rglob("*.json"))


def test_a_live_part_file_is_kept_and_a_stale_one_swept(tmp_path: Path) -> None:
    stale = tmp_path / "artifacts" / ".x.aar.abc.part"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"half")
    old = time.time() - 60
    os.utime(stale, (old, old))
    with atomic_file(tmp_path / "artifacts" / "y.aar") as handle:  # a writer holding its lock
        live = Path(handle.name)
        os.utime(live, (old, old))
        assert sweep_parts(tmp_path) == [stale]
        assert live.exists() and not stale.exists()
    assert not live.exists() and (tmp_path / "artifacts" / "y.aar").exists()


# --- end to end ----------------------------------------------------------------------------


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "HOME": str(tmp_path / "home"),
        "SYMAUDIT_CACHE": str(tmp_path / "cache"),
        "GRADLE_USER_HOME": str(tmp_path / "gradle"),
    }


def _report(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 1, result.stderr  # the unresolved symbol; never 2
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def _without_paths(report: dict[str, Any]) -> str:
    return json.dumps(
        {k: v for k, v in report.items() if k not in ("input", "inputs", "tool")}, sort_keys=True
    )


def test_a_corrupted_cache_heals_on_the_next_run(
    env: dict[str, str], maven: MavenServer, tmp_path: Path
) -> None:
    args = ("apk", WENET, "--format", "json", "--maven-repo", maven.url)
    first = _report(run(*args, env=env, unset=UNSET))
    assert "references-unavailable" not in {f["rule"] for f in first["findings"]}
    cache = tmp_path / "cache"
    for aar in cache.rglob("*.aar"):
        _flip_byte(aar)
    for manifest in (cache / "manifests").glob("*.json"):
        manifest.write_text(manifest.read_text()[:-40])  # cut short, as by a full disk
    sent = len(maven.requests)
    healed = _report(run(*args, env=env, unset=UNSET))
    assert _without_paths(healed) == _without_paths(first)
    assert [r for r in maven.requests[sent:] if r.endswith(".aar")]  # downloaded again
    sent = len(maven.requests)
    assert _without_paths(_report(run(*args, env=env, unset=UNSET))) == _without_paths(first)
    assert maven.requests[sent:] == []  # and healthy from then on


def test_a_cache_that_cannot_be_created_does_not_fail_the_audit(
    env: dict[str, str], maven: MavenServer, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    env = {**env, "SYMAUDIT_CACHE": str(blocker / "cache")}  # even root cannot mkdir under a file
    report = _report(run("apk", WENET, "--format", "json", "--maven-repo", maven.url, env=env, unset=UNSET))
    [note] = [f for f in report["findings"] if f["rule"] == "references-unavailable"]
    assert note["severity"] == "info"
    assert sum("cannot write" in p for p in note["problems"]) == 1
    assert "SYMAUDIT_CACHE" in note["problems"][0]
    assert not [r for r in maven.requests if r.endswith(".aar")]  # nothing downloaded to be lost


def _limit_file_size() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_FSIZE, (16 * 1024, 16 * 1024))


def test_a_full_cache_does_not_fail_the_audit(
    env: dict[str, str], maven: MavenServer, tmp_path: Path
) -> None:
    if not hasattr(os, "fork"):
        skip_or_fail("RLIMIT_FSIZE needs a POSIX system")
    full = {**os.environ, **env, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    for name in (*UNSET, "SYMAUDIT_DEBUG"):
        full.pop(name, None)
    result = subprocess.run(
        [sys.executable, "-m", "symaudit.cli", "apk", WENET, "--format", "json", "--maven-repo", maven.url],
        capture_output=True,
        text=True,
        env=full,
        timeout=120,
        preexec_fn=_limit_file_size,  # the AARs (~40 KB) cannot be written; small JSON files can
    )
    report = _report(result)
    [note] = [f for f in report["findings"] if f["rule"] == "references-unavailable"]
    assert sum("cannot write (File too large)" in p for p in note["problems"]) == 1
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.name.endswith((".part", ".aar"))]


def test_a_part_file_left_by_a_killed_download_is_swept_by_the_next_run(
    env: dict[str, str], maven: MavenServer, tmp_path: Path
) -> None:
    maven.faults[AAR_210] = [trickling(pieces=100_000, pause=0.05, released=maven.released)]
    full = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
    for name in (*UNSET, "SYMAUDIT_DEBUG"):
        full.pop(name, None)
    fetch = subprocess.Popen(
        [sys.executable, "-m", "symaudit.cli", "refs", "fetch", str(TORCH_210), "--maven-repo", maven.url],
        env=full,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    folder = _artifact(tmp_path).parent
    try:
        deadline = time.monotonic() + 60
        while AAR_210 not in maven.requests and time.monotonic() < deadline:  # the download is on
            time.sleep(0.05)
        [part] = folder.glob(".*.part")
    finally:
        fetch.send_signal(signal.SIGKILL)
        fetch.wait(30)
    assert part.exists()  # what a killed run leaves behind
    old = time.time() - 60
    os.utime(part, (old, old))
    result = run("refs", "fetch", str(TORCH_210), "--maven-repo", maven.url, env=env, unset=UNSET)
    assert result.returncode == 0, result.stderr
    assert not part.exists() and not list(folder.glob(".*.part"))
    assert hashlib.sha256(_artifact(tmp_path).read_bytes()).hexdigest() == SHA256_210
