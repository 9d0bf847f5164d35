"""Mutated inputs through the whole CLI, in process: whatever the bytes, the run ends with a JSON
report that validates (exit 0 or 1) or with one line naming the input (exit 2); any other
exception, a traceback or an "internal error" is a bug.

Three targets: the bytes of a fixture APK (the zip structure), the bytes of one stored library
inside an otherwise valid APK (the ELF reader, with every other library still audited), and
loose ``.so`` files. Edits are biased towards the few bytes that carry structure (headers, the
central directory), which uniform positions would rarely hit.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import struct
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symaudit.cli import main
from tests.required import built

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"
SCHEMA = json.loads((ROOT / "symaudit" / "schemas" / "report-1.json").read_text())
MUTATION_SETTINGS = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _fixture(relative: str) -> Path:
    return built(FIXTURES / relative)


def _bytes_or_none(relative: str) -> bytes | None:
    path = FIXTURES / relative
    return path.read_bytes() if path.exists() else None


# Read at import, so strategies can be built from them; each test skips (or fails) when missing.
CLEAN_APK = _bytes_or_none("packages/clean.apk")
LOOSE_LIBRARIES = {
    relative: _bytes_or_none(relative)
    for relative in (
        "libs/arm64-v8a/wenet-new/libwenet.so",  # ELF64, versioned imports
        "libs/armeabi-v7a/cxx-new/libc++_shared.so",  # ELF32, exports
        "libs/x86_64/stripped/libfbjni.so",  # no section headers: PT_DYNAMIC only
    )
}


@pytest.fixture(autouse=True, scope="module")
def _user_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """As users run it (SYMAUDIT_DEBUG would turn the one-line errors into tracebacks), without
    network, reference lookups, this machine's NDK, or a config file found above the cwd."""
    with pytest.MonkeyPatch.context() as patch:
        for name in (
            "SYMAUDIT_DEBUG",
            "SYMAUDIT_MAVEN_REPOS",
            "ANDROID_NDK_HOME",
            "ANDROID_NDK_ROOT",
            "ANDROID_HOME",
        ):
            patch.delenv(name, raising=False)
        patch.setenv("SYMAUDIT_OFFLINE", "1")
        patch.setenv("SYMAUDIT_REFERENCES", "0")
        patch.chdir(tmp_path_factory.mktemp("cwd"))
        yield


@dataclass
class Outcome:
    code: int
    report: dict | None


def audit(command: str, data: bytes, name: str) -> Outcome:
    """``symaudit <command> <file holding data> --format json`` in process, checked against the
    contract; returns the exit code and the report (None for exit 2)."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, name)
        with open(path, "wb") as handle:
            handle.write(data)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main([command, path, "--format", "json"])
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else -1
    stdout, stderr = out.getvalue(), err.getvalue()
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr
    if code == 2:
        lines = stderr.splitlines()
        assert len(lines) == 1, stderr
        assert lines[0].startswith(f"symaudit: error: {path}"), lines[0]
        assert stdout == ""
        return Outcome(code, None)
    assert code in (0, 1), (code, stderr)
    assert stderr == ""
    report = json.loads(stdout)
    jsonschema.validate(report, SCHEMA)
    return Outcome(code, report)


# --- edits ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Edit:
    kind: str  # flip, overwrite, truncate, insert
    position: int
    payload: bytes = b""

    def apply(self, data: bytearray) -> None:
        position = min(self.position, len(data))
        if self.kind == "flip" and position < len(data):
            data[position] ^= self.payload[0] or 0x80
        elif self.kind == "overwrite":
            data[position : position + len(self.payload)] = self.payload
        elif self.kind == "truncate":
            del data[position:]
        elif self.kind == "insert":
            data[position:position] = self.payload


def _words(size: int) -> list[bytes]:
    """Values that break size and offset arithmetic, as 32- and 64-bit little-endian words."""
    values = (0, 1, size - 1, size, size + 1, 0x7FFF_FFFF, 0xFFFF_FFFF, 1 << 63, (1 << 64) - 1)
    return [
        struct.pack(fmt, value & mask)
        for value in values
        for fmt, mask in (("<I", 0xFFFF_FFFF), ("<Q", (1 << 64) - 1))
    ]


def _edits(hot_spots: list[tuple[int, int]], size: int) -> st.SearchStrategy[list[Edit]]:
    """One to four edits, each at a position inside a hot spot ``(start, end)`` or anywhere."""
    regions = [*hot_spots, (0, size)]
    position = st.sampled_from(regions).flatmap(lambda region: st.integers(region[0], max(region)))
    edit = st.one_of(
        st.builds(Edit, st.just("flip"), position, st.binary(min_size=1, max_size=1)),
        st.builds(Edit, st.just("overwrite"), position, st.binary(min_size=1, max_size=16)),
        st.builds(Edit, st.just("overwrite"), position, st.sampled_from(_words(size))),
        st.builds(Edit, st.just("truncate"), position),
        st.builds(Edit, st.just("insert"), position, st.binary(min_size=1, max_size=16)),
    )
    return st.lists(edit, min_size=1, max_size=4)


def _mutated(base: bytes, edits: list[Edit]) -> bytes:
    data = bytearray(base)
    for edit in edits:
        edit.apply(data)
    return bytes(data)


def _zip_hot_spots(data: bytes) -> list[tuple[int, int]]:
    """Every local header and the central directory through the end record."""
    if not data:
        return []
    spots = []
    position = data.find(b"PK\x03\x04")
    while position != -1:
        spots.append((position, position + 30))
        position = data.find(b"PK\x03\x04", position + 1)
    central = data.find(b"PK\x01\x02")
    spots.append((central if central != -1 else len(data) - 22, len(data) - 1))
    return spots


def _elf_hot_spots(data: bytes) -> list[tuple[int, int]]:
    """The ELF header, the program headers, and each PT_DYNAMIC, read by hand (little-endian)."""
    if len(data) < 64 or data[:4] != b"\x7fELF":
        return []
    if data[4] == 2:
        phoff, phentsize, phnum = (
            struct.unpack_from("<Q", data, 0x20)[0],
            *struct.unpack_from("<HH", data, 0x36),
        )
        entry, offset_at = "<IIQQQQQQ", (2, 5)
    else:
        phoff, phentsize, phnum = (
            struct.unpack_from("<I", data, 0x1C)[0],
            *struct.unpack_from("<HH", data, 0x2A),
        )
        entry, offset_at = "<IIIIIIII", (1, 4)
    spots = [(0, 63), (phoff, phoff + phentsize * phnum)]
    for index in range(phnum):
        fields = struct.unpack_from(entry, data, phoff + index * phentsize)
        if fields[0] == 2:  # PT_DYNAMIC
            spots.append((fields[offset_at[0]], fields[offset_at[0]] + fields[offset_at[1]]))
    return [(start, min(end, len(data) - 1)) for start, end in spots if start < len(data)]


# --- the APK as bytes --------------------------------------------------------------------------


@MUTATION_SETTINGS
@given(st.data())
def test_mutated_apk_bytes_keep_the_contract(data: st.DataObject) -> None:
    base = CLEAN_APK if CLEAN_APK is not None else _fixture("packages/clean.apk").read_bytes()
    edits = data.draw(_edits(_zip_hot_spots(base), len(base)), label="edits")
    audit("apk", _mutated(base, edits), "app.apk")


# --- one stored library inside a valid APK -----------------------------------------------------


def _library_members(apk: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(apk)) as archive:
        return sorted(i.filename for i in archive.infolist() if i.filename.startswith("lib/"))


def _replaced(apk: bytes, member: str, library: bytes) -> bytes:
    """``apk`` re-zipped with ``member`` holding ``library``: a valid zip (CRC, sizes) around a
    mutated ELF, stored as Android wants native libraries."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(apk)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            target.writestr(info, library if info.filename == member else source.read(info))
    return out.getvalue()


@MUTATION_SETTINGS
@given(st.data())
def test_mutated_library_inside_valid_apk_is_at_worst_a_corrupt_library(data: st.DataObject) -> None:
    base = CLEAN_APK if CLEAN_APK is not None else _fixture("packages/clean.apk").read_bytes()
    member = data.draw(st.sampled_from(_library_members(base)), label="member")
    with zipfile.ZipFile(io.BytesIO(base)) as archive:
        library = archive.read(member)
    edits = data.draw(_edits(_elf_hot_spots(library), len(library)), label="edits")
    outcome = audit("apk", _replaced(base, member, _mutated(library, edits)), "app.apk")
    assert outcome.report is not None, "a damaged library must not stop the run"
    abi, name = member.split("/")[1:]
    others = [lib for lib in outcome.report["libraries"] if (lib["abi"], lib["name"]) != (abi, name)]
    assert others and all(lib["error"] is None for lib in others)  # the rest is still audited
    broken = [f for f in outcome.report["findings"] if f["rule"] == "corrupt-library"]
    assert all((f["abi"], f["library"]) == (abi, name) for f in broken)


# --- loose files --------------------------------------------------------------------------------


@MUTATION_SETTINGS
@given(st.data())
def test_mutated_loose_library_keeps_the_contract(data: st.DataObject) -> None:
    relative = data.draw(st.sampled_from(sorted(LOOSE_LIBRARIES)), label="library")
    base = LOOSE_LIBRARIES[relative] or _fixture(relative).read_bytes()
    edits = data.draw(_edits(_elf_hot_spots(base), len(base)), label="edits")
    mutated = _mutated(base, edits)
    outcome = audit("libs", mutated, os.path.basename(relative))
    if mutated[:2] != b"PK":  # only a file that looks like a zip is judged as one (exit 2)
        assert outcome.report is not None
