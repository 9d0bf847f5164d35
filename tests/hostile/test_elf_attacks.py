"""Shared objects of a few KB (deflated) that once cost gigabytes: each loader table is read
within bounds proportional to real libraries, and a library past them is ``corrupt-library``
while the rest of the package is still audited."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.hostile import elves, payloads
from tests.hostile.bounded import ROOT, assert_held, run_bounded

FAKE_NDK = ROOT / "fixtures" / "platform" / "ndk"


def _audit(tmp_path: Path, library: bytes) -> dict[str, object]:
    """With the platform's symbol lists (the fixture NDK), so unresolved imports are findings."""
    package = payloads.write(
        tmp_path / "hostile.apk",
        payloads.apk(payloads.with_library({"lib/arm64-v8a/libhostile.so": library})),
    )
    assert package.stat().st_size < 1 << 20
    outcome = assert_held(
        run_bounded("apk", str(package), "--format", "json", "--ndk", str(FAKE_NDK), "--min-sdk", "21")
    )
    assert len(outcome.stdout) < 1 << 20, "the report must not amplify the input"
    report: dict[str, object] = json.loads(outcome.stdout)
    return report


def _library(report: dict[str, object], name: str) -> dict[str, object]:
    (record,) = [lib for lib in report["libraries"] if lib["name"] == name]  # type: ignore[attr-defined]
    return record  # type: ignore[no-any-return]


def _corrupt_reason(report: dict[str, object]) -> str:
    (finding,) = [
        f
        for f in report["findings"]
        if f["rule"] == "corrupt-library" and f["library"] == "libhostile.so"  # type: ignore[attr-defined]
    ]
    return str(finding["message"])


def test_imports_sharing_one_name_decode_it_once(tmp_path: Path) -> None:
    report = _audit(tmp_path, elves.shared_long_name(20, 16 << 10, distinct=False))
    assert _library(report, "libhostile.so")["error"] is None
    assert _library(report, "libok.so")["error"] is None


@pytest.mark.parametrize(
    ("build", "reason"),
    [
        (lambda: elves.shared_long_name(2000, 1 << 20, distinct=False), "overlap implausibly"),
        (lambda: elves.shared_long_name(2000, 1 << 20, distinct=True), "overlap implausibly"),
        (lambda: elves.many_needed(65_000, 16 << 10), "65000 DT_NEEDED entries"),
        (lambda: elves.many_needed(100, 16 << 10), "DT_NEEDED string of 16390 bytes"),
        (lambda: elves.verneed_square(65_535, 65_535), "version records"),
        (lambda: elves.verneed_square(100, 100), "reached twice"),
    ],
    ids=[
        "2000-imports-of-1-MiB",
        "2000-offsets-into-1-MiB",
        "65000-needed",
        "16-KiB-needed-name",
        "verneed-65535-squared",
        "shared-vernaux",
    ],
)
def test_tables_past_any_real_library_make_it_corrupt_and_the_rest_is_audited(
    tmp_path: Path, build: Callable[[], bytes], reason: str
) -> None:
    report = _audit(tmp_path, build())
    assert reason in _corrupt_reason(report)
    assert _library(report, "libok.so")["error"] is None


def test_forty_overlapping_note_segments_are_read_once_within_bounds(tmp_path: Path) -> None:
    report = _audit(tmp_path, elves.overlapping_notes(40, 1 << 20))
    assert _library(report, "libhostile.so")["error"] is None


def test_a_loose_library_for_a_machine_android_does_not_run_is_a_finding(tmp_path: Path) -> None:
    library = payloads.write(tmp_path / "libs390.so", elves.plain(elves.EM_S390))
    outcome = assert_held(run_bounded("libs", str(library), "--format", "json"), exits=(1,))
    (finding,) = [f for f in json.loads(outcome.stdout)["findings"] if f["rule"] == "wrong-arch"]
    assert "e_machine (22), 64-bit, which no Android ABI runs" in finding["message"]
