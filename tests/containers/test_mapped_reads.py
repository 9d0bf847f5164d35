"""Stored libraries are mapped and hashed from positional reads; where the platform has no
``os.pread`` (Windows) the buffered path gives the same answers."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

import symaudit.containers as containers
from symaudit.containers import archive, digests, open_package

APK = Path(__file__).resolve().parents[2] / "fixtures" / "packages" / "clean.apk"


def _expected() -> dict[str, str]:
    with zipfile.ZipFile(APK) as zf:
        return {
            i.filename: hashlib.sha256(zf.read(i)).hexdigest()
            for i in zf.infolist()
            if i.filename.endswith(".so")
        }


def test_mapped_view_and_digest_match_the_member() -> None:
    expected = _expected()
    with open_package([str(APK)]) as package:
        for entry in package.libraries():
            mapped = package.read_mapped(entry)  # type: ignore[attr-defined]
            assert mapped is not None
            try:
                assert bytes(mapped.view) == package.read(entry)
                assert mapped.digest.value() == expected[entry.path]
            finally:
                mapped.release()


def test_without_pread_the_buffered_path_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archive, "HAS_PREAD", False)
    monkeypatch.setattr(digests, "HAS_PREAD", False)
    monkeypatch.setattr(containers, "HAS_PREAD", False)
    with open_package([str(APK)]) as package:
        assert package.sha256 == hashlib.sha256(APK.read_bytes()).hexdigest()
        assert all(package.read_mapped(e) is None for e in package.libraries())  # type: ignore[attr-defined]


def test_a_stored_member_with_a_bad_crc_is_corrupt(tmp_path: Path) -> None:
    from symaudit.audit import audit_package

    raw = bytearray(APK.read_bytes())
    with zipfile.ZipFile(APK) as zf:
        info = next(i for i in zf.infolist() if i.filename == "lib/arm64-v8a/libfbjni.so")
    with open_package([str(APK)]) as package:
        entry = next(e for e in package.libraries() if e.path == info.filename)
        assert entry.data_offset is not None
        at = entry.data_offset + info.file_size - 1  # last byte: parsing still succeeds
    raw[at] ^= 0xFF
    broken = tmp_path / "broken.apk"
    broken.write_bytes(bytes(raw))
    with open_package([str(broken)]) as package:
        report = audit_package(package)
    corrupt = [f for f in report.findings if f.rule == "corrupt-library"]
    assert [(f.abi, f.library) for f in corrupt] == [("arm64-v8a", "libfbjni.so")]
    assert "bad CRC-32" in corrupt[0].message
