"""App facts from AndroidManifest.xml in its three encodings, read from the committed fixtures."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symaudit.containers import open_package
from symaudit.containers.android_manifest import AppFacts, ManifestError, app_facts, parse_manifest

PACKAGES = Path(__file__).resolve().parents[2] / "fixtures" / "packages"
EXPECTED = AppFacts("org.example.wenet", 21, 34, False)


def _member(package: str, name: str) -> bytes:
    with zipfile.ZipFile(PACKAGES / package) as archive:
        return archive.read(name)


@pytest.mark.parametrize(
    ("package", "member"),
    [("clean.apk", "AndroidManifest.xml"), ("clean.aab", "base/manifest/AndroidManifest.xml")],
)
def test_binary_and_protobuf_manifests(package: str, member: str) -> None:
    data = _member(package, member)
    assert data[:1] in (b"\x03", b"\x0a")  # AXML chunk type / protobuf field 1
    assert parse_manifest(data) == EXPECTED


def test_text_manifest_of_an_aar() -> None:
    facts = parse_manifest(_member("pytorch_android-new.aar", "AndroidManifest.xml"))
    assert facts.package is not None and facts.extract_native_libs is None


@pytest.mark.parametrize(
    ("name", "source"),
    [
        ("clean.apk", "AndroidManifest.xml"),
        ("clean.aab", "base/manifest/AndroidManifest.xml"),
        ("clean.apks", None),  # the base split's manifest
    ],
)
def test_app_facts_find_the_manifest_in_each_package(name: str, source: str | None) -> None:
    with open_package([str(PACKAGES / name)]) as package:
        facts = app_facts(package)
    assert facts is not None and facts.min_sdk == 21 and facts.problem is None
    assert facts.min_sdk_source is not None
    if source is not None:
        assert facts.min_sdk_source == source
    else:
        assert facts.min_sdk_source.endswith("!/AndroidManifest.xml")


def test_min_sdk_option_wins_and_says_so() -> None:
    with open_package([str(PACKAGES / "clean.apk")]) as package:
        facts = app_facts(package, min_sdk=26)
    assert facts is not None and facts.min_sdk == 26 and facts.min_sdk_source == "--min-sdk"
    assert facts.target_sdk == 34  # the rest still comes from the manifest
    with open_package([str(PACKAGES / "clean-folder")]) as package:
        assert app_facts(package) is None
        assert app_facts(package, min_sdk=23) == AppFacts(min_sdk=23, min_sdk_source="--min-sdk")


@pytest.mark.parametrize(
    "data",
    [
        b"\x03\x00\x08\x00\x20\x00\x00\x00\x01\x00\x1c\x00\xff\xff\x00\x00" + bytes(16),
        b"\x0a\xff\xff\xff\xff\x0f",
        b"\x0a\x05\x1a\x10abc",
        b"<manifest",
    ],
)
def test_malformed_manifests_raise_manifest_error(data: bytes) -> None:
    with pytest.raises(ManifestError):
        parse_manifest(data)


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_manifests_parse_or_raise_manifest_error(data: st.DataObject) -> None:
    source = data.draw(st.sampled_from(["clean.apk", "clean.aab"]))
    member = "AndroidManifest.xml" if source == "clean.apk" else "base/manifest/AndroidManifest.xml"
    raw = bytearray(_member(source, member))
    for _ in range(data.draw(st.integers(1, 8))):
        position = data.draw(st.integers(0, len(raw) - 1))
        raw[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(raw)))
    try:
        facts = parse_manifest(bytes(raw[:cut]))
    except ManifestError as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert isinstance(facts, AppFacts)
