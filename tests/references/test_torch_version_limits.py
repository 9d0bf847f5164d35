"""The committed version limits follow from their recorded versions.h excerpts (scripts/torch_version_limits.py)."""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from symaudit.torchmodel.versions import limits_for

ROOT = Path(__file__).resolve().parents[2]
TABLE = json.loads((ROOT / "symaudit" / "data" / "torch_runtime_versions.json").read_text())


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "torch_version_limits", ROOT / "scripts" / "torch_version_limits.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


limits_script = _script()


def test_committed_table_is_consistent(capsys: pytest.CaptureFixture[str]) -> None:
    assert limits_script.main([]) == 0, capsys.readouterr().err


def test_every_row_names_a_tag_and_path_or_is_a_measurement() -> None:
    for row in TABLE["versions"]:
        assert "inferred" not in json.dumps(row).lower(), row["since"]
        if row.get("measured"):
            continue
        assert row["tag"] == f"v{row['since']}" and row["path"] == "caffe2/serialize/versions.h"
        assert len(row["header_sha256"]) == 64 and row["excerpt"]
    tagged = {row["since"] for row in TABLE["versions"] if "tag" in row}
    # Every pytorch_android release Maven Central publishes, and the pinned corpus releases.
    assert {"1.8.0", "1.9.0", "1.10.0", "1.12.1", "1.13.1"} <= tagged


def test_a_row_that_disagrees_with_its_excerpt_is_reported() -> None:
    row = copy.deepcopy(next(r for r in TABLE["versions"] if r["since"] == "1.13.1"))
    row["max_bytecode_version"] = 10
    assert limits_script.check_row(row) == ["row 1.13.1: max_bytecode_version is 10, the excerpt says 9"]
    row = copy.deepcopy(row)
    del row["tag"]
    assert limits_script.check_row(row) == ["row 1.13.1: neither a tag nor a measurement"]


HEADER = """#pragma once
#define ENABLE_UPGRADERS {flag}
constexpr uint64_t kMinSupportedFileFormatVersion = 0x1L;
#if ENABLE_UPGRADERS
constexpr uint64_t kMaxSupportedFileFormatVersion = 0x9L;
#else
constexpr uint64_t kMaxSupportedFileFormatVersion = 0x6L;
#endif
#if ENABLE_UPGRADERS
constexpr uint64_t kProducedFileFormatVersion = 0x9L;
#else
constexpr uint64_t kProducedFileFormatVersion = 0x3L;
#endif
// constexpr uint64_t kProducedBytecodeVersion = 0x1L;  (a comment, not a definition)
constexpr uint64_t kProducedBytecodeVersion = 0x7L;
constexpr uint64_t kMinSupportedBytecodeVersion = 0x3L;
"""


@pytest.mark.parametrize(("flag", "max_ff", "produced_ff"), [("true", 9, 9), ("false", 6, 3)])
def test_header_parser_follows_the_preprocessor_branch(flag: str, max_ff: int, produced_ff: int) -> None:
    lines = limits_script.excerpt(HEADER.format(flag=flag))
    found = limits_script.limits(limits_script.constants(lines))
    assert found["max_file_format_version"] == max_ff
    assert found["produced_file_format_version"] == produced_ff
    # No kMaxSupportedBytecodeVersion: the loader's bound is kProducedBytecodeVersion (v1.8, v1.9).
    assert (found["max_bytecode_version"], found["max_bytecode_constant"]) == (7, "kProducedBytecodeVersion")


def test_runtime_limits_come_from_the_tagged_rows() -> None:
    rows = {row["since"]: row for row in TABLE["versions"]}
    for version, row_version in (
        ("1.9.0", "1.9.0"),
        ("1.10.0", "1.10.0"),
        ("1.12.2", "1.12.1"),
        ("1.13.1", "1.13.1"),
    ):
        found = limits_for(version)
        assert found is not None
        assert found.max_bytecode_version == rows[row_version]["max_bytecode_version"]
        assert found.max_file_format_version == rows[row_version]["max_file_format_version"]
    assert limits_for("1.7.1") is None  # below the first row: not established
