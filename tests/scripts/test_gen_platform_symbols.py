"""scripts/gen_platform_symbols.py: the map syntax as soong reads it, and the committed data's provenance.

CI cannot fetch the GitHub snapshots the data is generated from, so there the committed data is
checked against the committed manifest (the sha256 of every input file and of the output). The
bit-for-bit regeneration from the snapshots (``scripts/gen_platform_symbols.py --check``) is a
developer check, not a test: no CI machine can have its inputs, and a test may not skip in CI.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "gen_platform_symbols.py"
MANIFEST = ROOT / "scripts" / "platform_symbols_sources.json"
DATA = ROOT / "symaudit" / "data" / "platform_symbols.json"


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_platform_symbols", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


gen = _load_script()

SAMPLE = """\
# a comment line
LIBX {
  global:
    plain;
    tagged; # introduced=24
    only_arm; # arm
    per_arch; # introduced=16 introduced-arm64=23 introduced-x64_64=28
    a_var; # var
    a_weak; # weak
    codename; # introduced=Tiramisu
    hidden_from_stubs; # apex llndk introduced=29
    system_only; # systemapi
    llndk_versioned; # llndk=202404
    late_arm; # arm versioned=24
    not_yet; # future
    mips_only; # mips
    extern "C++" {
      ignored::cpp*;
    };
  local:
    *;
};

LIBX_N { # introduced-arm64=24 introduced-x86_64=24
  global:
    n_plain;
    n_tagged; # introduced=26
} LIBX;

LIBX_PRIVATE {
  global:
    private_one; # arm
};

LIBX_DEPRECATED { # arm platform-only
  global: # arm
    gone_soon;
};
"""


def _table(text: str = SAMPLE) -> dict[str, object]:
    return gen.finish(gen.library_table(gen.parse_map(text)))


def _row(name: str) -> list[object]:
    symbols = _table()["symbols"]
    assert isinstance(symbols, dict)
    return symbols[name]  # type: ignore[no-any-return]


def test_untagged_symbols_have_no_level_and_live_on_every_arch() -> None:
    assert _row("plain") == [0, 0, 0]


def test_introduced_and_codenames_decode_to_levels() -> None:
    assert _row("tagged") == [0, 0, 24]
    assert _row("codename") == [0, 0, 33]


def test_arch_tags_restrict_and_arch_levels_override() -> None:
    assert _row("only_arm") == [0, 0, [0, None, None, None, None]]
    # arm, arm64, x86, x86_64, riscv64: the misspelt introduced-x64_64 is ignored, as soong does.
    assert _row("per_arch") == [0, 0, [16, 23, 16, 16, 16]]
    assert "mips_only" not in _table()["symbols"]  # type: ignore[operator]


def test_var_weak_and_versioned_are_kept() -> None:
    assert _row("a_var") == [0, gen.FLAG_VAR, 0]
    assert _row("a_weak") == [0, gen.FLAG_WEAK, 0]
    assert _row("late_arm") == [0, 0, [0, None, None, None, None], 24]


def test_mode_tags_mark_device_exports_hidden_from_the_stubs() -> None:
    assert _row("hidden_from_stubs") == [0, gen.FLAG_NOT_STUB, 29]
    assert _row("system_only") == [0, gen.FLAG_NOT_STUB, 0]
    assert _row("llndk_versioned") == [0, gen.FLAG_NOT_STUB, 0]


def test_future_symbols_get_the_future_level() -> None:
    assert _row("not_yet") == [0, 0, gen.FUTURE]


def test_node_levels_apply_to_their_symbols() -> None:
    assert _row("n_plain") == [1, 0, [0, 24, 0, 24, 0]]
    assert _row("n_tagged") == [1, 0, 26]


def test_private_nodes_and_platform_only_are_flagged_private() -> None:
    assert _row("private_one") == [2, gen.FLAG_PRIVATE, [0, None, None, None, None]]
    assert _row("gone_soon") == [3, gen.FLAG_PRIVATE, [0, None, None, None, None]]


def test_c_plus_plus_blocks_and_local_entries_are_not_exports() -> None:
    symbols = _table()["symbols"]
    assert isinstance(symbols, dict)
    assert not any("cpp" in name or name == "*" for name in symbols)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("LIBX {\n  global:\n    f; # shiny\n};\n", "unknown tag 'shiny'"),
        ("LIBX {\n  global:\n    f; # introduced=Zebra\n};\n", "unknown API codename 'Zebra'"),
        ("LIBX {\n  global:\n    f*;\n};\n", "wildcard"),
        ("LIBX {\n  global:\n    f;\n", "not closed"),
        ("f;\n", "unexpected top-level line"),
        ("LIBX {\n  weird:\n    f;\n};\n", "unknown scope label"),
    ],
)
def test_what_soong_would_refuse_is_refused(text: str, message: str) -> None:
    with pytest.raises(gen.MapError, match=message):
        gen.library_table(gen.parse_map(text))


def test_a_removing_commit_adds_rows_with_the_first_release_without_them() -> None:
    before = gen.parse_map("LIBX {\n  global:\n    moved; # arm\n    dropped; # arm\n    stays;\n};\n")
    after = gen.parse_map(
        "LIBX {\n  global:\n    stays;\n};\nLIBX_R { # introduced=30\n  global:\n    moved;\n};\n"
    )
    table = gen.library_table(after)
    gen.add_removals(table, before, after, 30)
    symbols = gen.finish(table)["symbols"]
    assert symbols["dropped"] == [0, 0, [0, None, None, None, None], None, 30]
    assert symbols["moved"] == [[1, 0, 30], [0, 0, [0, None, None, None, None], None, 30]]
    assert symbols["stays"] == [0, 0, 0]


# -- provenance of the committed data ---------------------------------------------------------------


def test_committed_data_is_the_output_the_manifest_names() -> None:
    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    assert hashlib.sha256(DATA.read_bytes()).hexdigest() == manifest["output_sha256"]


def test_each_library_names_the_pinned_source_of_the_manifest() -> None:
    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    data = json.loads(DATA.read_text(encoding="utf-8"))
    libraries = [s["library"] for s in manifest["sources"]]
    assert len(set(libraries)) == len(libraries)
    assert sorted(data["libraries"]) == sorted(libraries)
    for source in manifest["sources"]:
        recorded = data["libraries"][source["library"]]["source"]
        for key in ("repo", "commit", "path", "sha256", "snapshot_api"):
            assert recorded[key] == source[key], (source["library"], key)
        assert len(source["sha256"]) == 64 and len(source["commit"]) == 40
        removals = [c["commit"] for c in manifest["history"] if c["library"] == source["library"]]
        assert [r["commit"] for r in recorded["removals"]] == removals


def test_the_data_is_rendered_as_the_script_renders_it() -> None:
    data = json.loads(DATA.read_text(encoding="utf-8"))
    assert gen.render(data) == DATA.read_bytes()


def test_data_fits_the_size_budget() -> None:
    assert DATA.stat().st_size < 2 * 1024 * 1024
