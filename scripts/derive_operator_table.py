"""Derive "the first release that registers it" from the real runtimes of the pinned corpus.

Reads ``jni/<abi>/libpytorch_jni.so`` of every pinned ``org.pytorch:pytorch_android`` AAR
(``scripts/fetch_corpus.py``'s ``MAVEN_PINS``, cached by ``python scripts/fetch_corpus.py``) with
symaudit's own ELF reader and operator-registry scan (``symaudit/torchmodel/runtime.py``), and
writes, into the ``operators`` of ``symaudit/data/torch_runtime_versions.json``, every operator
name that no ABI's build of the oldest pinned release registers, with the first pinned release
that registers it on some ABI. The full runtime is used, not the lite one: lite builds
are selective, so a lite release lacking an operator says nothing about the release.

Entries the script did not derive (``"derived": false``, e.g. an operator no pinned runtime
registers, documented from another source) are kept as they are.

``--check`` regenerates the table in memory and exits 1 if the committed one differs.
Usage: ``python scripts/derive_operator_table.py [--check] [--cache DIR]``.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from symaudit.elf.reader import read_elf  # noqa: E402
from symaudit.maven.coordinates import version_key  # noqa: E402
from symaudit.torchmodel.runtime import registered_operators  # noqa: E402

TABLE = ROOT / "symaudit" / "data" / "torch_runtime_versions.json"
MODULE = ("org.pytorch", "pytorch_android")
LIBRARY = "libpytorch_jni.so"


def _fetch_corpus() -> Any:
    spec = importlib.util.spec_from_file_location("fetch_corpus", ROOT / "scripts" / "fetch_corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def registries(cache: Path) -> dict[str, dict[str, frozenset[str]]]:
    """version -> ABI -> operator names registered by that release's libpytorch_jni.so."""
    fetch_corpus = _fetch_corpus()
    found: dict[str, dict[str, frozenset[str]]] = {}
    for pin in fetch_corpus.MAVEN_PINS:
        if (pin.group, pin.artifact) != MODULE:
            continue
        path = cache / pin.name
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != pin.sha256:
            raise SystemExit(
                f"derive_operator_table: {path} does not match its pin; run scripts/fetch_corpus.py"
            )
        per_abi: dict[str, frozenset[str]] = {}
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                parts = info.filename.split("/")
                if len(parts) == 3 and parts[0] == "jni" and parts[2] == LIBRARY:
                    blob = archive.read(info)
                    per_abi[parts[1]] = registered_operators(blob, read_elf(blob, LIBRARY)).names
        found[pin.version] = per_abi
    return found


def derive(found: dict[str, dict[str, frozenset[str]]]) -> dict[str, dict[str, Any]]:
    versions = sorted(found, key=version_key)
    if len(versions) < 2:
        raise SystemExit("derive_operator_table: needs at least two pinned pytorch_android releases")
    # Any ABI's build: the arm64-v8a builds store some schemas as tails of longer ones (string
    # tail merging), where the registry scan does not see them; the other builds store them whole.
    anywhere = {v: frozenset.union(*found[v].values()) for v in versions}
    table: dict[str, dict[str, Any]] = {}
    for index, version in enumerate(versions[1:], start=1):
        for name in sorted(anywhere[version] - anywhere[versions[0]]):
            if name not in table:
                # absent_in: the pinned release before ``since``, no build of which registers it;
                # the operator arrived after it, at ``since`` or earlier.
                table[name] = {"since": version, "absent_in": versions[index - 1], "derived": True}
    return table


def merged(current: dict[str, Any], derived: dict[str, dict[str, Any]]) -> dict[str, Any]:
    kept = {
        name: entry for name, entry in current.get("operators", {}).items() if entry.get("derived") is False
    }
    operators = {**derived, **kept}
    releases = sorted(
        {entry["absent_in"] for entry in derived.values()} | {e["since"] for e in derived.values()},
        key=version_key,
    )
    about = (
        "Entries with derived=true come from the operator registries of the libpytorch_jni.so of every pinned "
        f"org.pytorch:pytorch_android release ({', '.join(releases)}; scripts/derive_operator_table.py): "
        "'since' is the first of them whose build for some ABI registers the operator, 'absent_in' the one "
        "before it, no build of which registers it; releases between the two were not read. Other entries name their own source."
    )
    return {**current, "operators_about": about, "operators": dict(sorted(operators.items()))}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed table differs")
    parser.add_argument("--cache", type=Path, default=None, help="corpus cache (default as fetch_corpus.py)")
    args = parser.parse_args(argv)
    cache = args.cache or _fetch_corpus().default_cache()
    current = json.loads(TABLE.read_text(encoding="utf-8"))
    text = json.dumps(merged(current, derive(registries(cache))), indent=2) + "\n"
    if args.check:
        if TABLE.read_text(encoding="utf-8") != text:
            print(
                f"derive_operator_table: {TABLE} is not what the corpus gives; rerun without --check",
                file=sys.stderr,
            )
            return 1
        return 0
    TABLE.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
