#!/usr/bin/env python3
"""Generate symaudit/data/platform_symbols.json from the NDK stub map files of the platform libraries.

The NDK's stub libraries (``sysroot/usr/lib/<triple>/<api>/libc.so`` ...) are generated from the
``*.map.txt`` version scripts that also link the real libraries on the device. This script reads
those files from pinned git snapshots and writes, per library and per architecture, every symbol
the device library exports, the API level that introduced it, its version node, and whether it is
a variable or weak, so symaudit can judge platform symbols without an NDK.

Inputs (``scripts/platform_symbols_sources.json``): per library a repository, a commit, a path in it
and the sha256 of the file's bytes. The snapshots are bare git directories as the search tool's
``fetch`` leaves them (``<mirrors>/<owner>+<name>/repo``); the files are read with
``git show <commit>:<path>``. Fetch sources used (``fetch github:<repo>``):

    aosp-mirror/platform_bionic                      731631f3  libc libm libdl libstdc++
    aosp-mirror/platform_external_zlib               f29fc757  libz
    aosp-mirror/platform_system_core                 a3b721a3  libsync
    WangTingMan/android_system_logging               2d7adfd9  liblog (AOSP history; the aosp-mirror
                                                               copy could not be fetched)
    LineageOS/android_frameworks_native              27bc1ca1  EGL, GLESv1_CM/v2/v3, vulkan,
                                                               nativewindow, binder_ndk (Android 15)
    LineageOS/android_frameworks_av                  15219fb1  mediandk, camera2ndk, aaudio (Android 15)
    msft-mirror-aosp/platform.frameworks.wilhelm     22c44bb5  OpenSLES, OpenMAXAL
    pixeldust-project-caf/android_packages_modules_NeuralNetworks  690f68ca  neuralnetworks
    GrapheneOS-Archive/platform_external_icu         55c400a0  icu (Android 13)
    riscv-android-src/platform-libnativehelper       8bb3723b  nativehelper (Android 12)
    Ankits-lab/frameworks_base                       150a9240  android, jnigraphics, amidi (Android 11:
                                                               frameworks/base is too large to fetch)

Usage::

    python scripts/gen_platform_symbols.py [--mirrors DIR]          # write the data + manifest hashes
    python scripts/gen_platform_symbols.py [--mirrors DIR] --check  # regenerate, compare bit for bit

``--mirrors`` defaults to ``$SYMAUDIT_MIRRORS`` or ``/work/.mirror``.

How the map syntax is read (the rules of soong's ``cc/symbolfile``, which generates the stubs):

* ``NAME { # tags`` opens a version node, ``} BASE;`` closes it; ``global:``/``local:`` switch the
  scope; only ``global`` entries are exported; ``extern "C++" { ... }`` blocks are skipped (soong
  skips them too: they hold only platform C++ names). Lines starting with ``#`` are comments; the tags
  of an entry are the words after its first ``#`` (a further ``#`` is ignored).
* ``introduced=N``: first API level. ``introduced-<arch>=N`` overrides it on that architecture.
  Codenames (``introduced=Q``, ``UpsideDownCake`` ...) map through CODENAMES below; ``current`` and
  the old ``future`` tag mean "not in any released API" (level 10000, soong's FUTURE_API_LEVEL).
  A node's tags apply to all its symbols: a symbol's level on an architecture is the larger of
  its node's and its own; no tag means "since the library exists".
* Bare architecture names (``arm arm64 x86 x86_64 riscv64``, and the retired ``mips mips64``):
  the node or symbol exists only on those architectures. ``introduced-mips=`` tags are ignored.
  An ``introduced-<arch>`` tag naming no architecture (bionic has one ``introduced-x64_64=28``)
  is ignored as soong ignores it.
* ``var``: a data object. ``weak``: a weak definition in the stub.
* ``versioned=N``: the symbol carries its version node from API N on; before that the device
  exported it unversioned (or under a private node), which an unversioned import still finds.
* ``apex``, ``systemapi``, ``llndk`` (also ``llndk=V``, ``llndk-deprecated=V``): not in the NDK
  stubs, but the device library exports them (the map file is the real library's version script).
  Kept with the ``not_stub`` flag.
* Nodes named ``*_PRIVATE`` or ``*_PLATFORM`` and ``platform-only`` entries: not NDK API, exported by
  today's device library with no API level attached; kept with the ``private`` flag.
* The map syntax has no removal tag. Removals come from ``history`` in the manifest: a commit that
  stopped exporting something, checked to be in the release tag ``first_release_tag`` and not in
  ``previous_release_tag``; each (symbol, node, arch) the file had before the commit and not after
  becomes a row with ``removed`` = ``removed_api``.
* Any other tag is an error, so a new tag is noticed instead of misread.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "scripts" / "platform_symbols_sources.json"
SCHEMA = "symaudit.platform-symbols/1"

# soong cc/symbolfile ALL_ARCHITECTURES; the data's per-architecture lists follow this order.
ARCHES = ("arm", "arm64", "x86", "x86_64", "riscv64")
RETIRED_ARCHES = ("mips", "mips64")

# Finalized codenames -> API level (Android's Build.VERSION_CODES; soong android/api_levels.go).
CODENAMES = {
    "G": 9,
    "I": 14,
    "J": 16,
    "J-MR1": 17,
    "J-MR2": 18,
    "K": 19,
    "L": 21,
    "L-MR1": 22,
    "M": 23,
    "N": 24,
    "N-MR1": 25,
    "O": 26,
    "O-MR1": 27,
    "P": 28,
    "Q": 29,
    "R": 30,
    "S": 31,
    "Sv2": 32,
    "Tiramisu": 33,
    "UpsideDownCake": 34,
    "VanillaIceCream": 35,
    "Baklava": 36,
}
FUTURE = 10000

FLAG_VAR = 1
FLAG_WEAK = 2
FLAG_NOT_STUB = 4
FLAG_PRIVATE = 8
MODE_TAGS = ("apex", "systemapi", "llndk")


class MapError(ValueError):
    pass


@dataclass(frozen=True)
class Entry:
    name: str
    tags: tuple[str, ...]


@dataclass(frozen=True)
class Node:
    name: str
    tags: tuple[str, ...]
    symbols: tuple[Entry, ...]


def _tags(line: str) -> tuple[str, ...]:
    _, _, comment = line.partition("#")
    return tuple(word for word in comment.split() if word != "#")


def parse_map(text: str) -> list[Node]:
    """The version nodes of a map file, with the global entries of each."""
    nodes: list[Node] = []
    lines = [line for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    i = 0
    while i < len(lines):
        line = lines[i]
        if "{" not in line:
            raise MapError(f"unexpected top-level line: {line.strip()!r}")
        name = line.split("{")[0].strip()
        tags = _tags(line)
        entries: list[Entry] = []
        scope_global = True
        in_cpp = False
        i += 1
        while True:
            if i >= len(lines):
                raise MapError(f"node {name} is not closed")
            line = lines[i]
            i += 1
            if "}" in line:
                if in_cpp:
                    in_cpp = False
                    continue
                break
            if 'extern "C++"' in line:
                in_cpp = True
            elif in_cpp:
                continue
            elif ":" in line.split("#")[0]:
                label = line.split(":")[0].strip()
                if label not in ("global", "local"):
                    raise MapError(f"unknown scope label {label!r} in node {name}")
                scope_global = label == "global"
            elif scope_global:
                symbol, sep, _ = line.strip().partition(";")
                if not sep:
                    raise MapError(f"entry without ';' in node {name}: {line.strip()!r}")
                if "*" in symbol:
                    raise MapError(f"wildcard in the global scope of node {name}: {symbol!r}")
                entries.append(Entry(symbol.strip(), _tags(line)))
        nodes.append(Node(name, tags, tuple(entries)))
    return nodes


def _level(value: str) -> int:
    if value.isdigit():
        return int(value)
    if value == "current":
        return FUTURE
    if value in CODENAMES:
        return CODENAMES[value]
    raise MapError(f"unknown API codename {value!r} (add it to CODENAMES with its source)")


def _check_tag(tag: str) -> None:
    key = tag.split("=", 1)[0]
    if tag in ARCHES or tag in RETIRED_ARCHES or tag in ("var", "weak", "platform-only", "future"):
        return
    if tag in MODE_TAGS or key in ("llndk", "llndk-deprecated"):
        return
    if "=" in tag and (key in ("introduced", "versioned") or key.startswith("introduced-")):
        _level(tag.split("=", 1)[1])
        return
    raise MapError(f"unknown tag {tag!r}")


def _on_arch(tags: tuple[str, ...], arch: str) -> bool:
    named = [tag for tag in tags if tag in ARCHES or tag in RETIRED_ARCHES]
    return not named or arch in named


def _introduced(tags: tuple[str, ...], arch: str) -> int:
    """The level a tag set gives on ``arch`` (0: no tag, available since the library exists)."""
    if "future" in tags:
        return FUTURE
    common = 0
    for tag in tags:
        key, _, value = tag.partition("=")
        if key == f"introduced-{arch}":
            return _level(value)
        if key == "introduced":
            common = _level(value)
    return common


def _mode(tags: tuple[str, ...]) -> bool:
    return any(tag.split("=", 1)[0] in ("apex", "systemapi", "llndk", "llndk-deprecated") for tag in tags)


def library_table(nodes: list[Node]) -> dict[str, object]:
    """One library's data: node names and, per symbol, ``[node, flags, introduced(, versioned)]``.

    ``introduced`` is one number when the symbol has the same level on every architecture, else a
    list in ARCHES order with ``null`` where the symbol does not exist. A name exported by two nodes
    (on different architectures, or public and private) maps to a list of such rows.
    """
    node_names = [node.name for node in nodes]
    symbols: dict[str, list[list[object]]] = {}
    for index, node in enumerate(nodes):
        for tag in node.tags:
            _check_tag(tag)
        node_private = node.name.endswith(("_PRIVATE", "_PLATFORM")) or "platform-only" in node.tags
        for entry in node.symbols:
            for tag in entry.tags:
                _check_tag(tag)
            tags = node.tags + entry.tags
            flags = 0
            if "var" in entry.tags:
                flags |= FLAG_VAR
            if "weak" in entry.tags:
                flags |= FLAG_WEAK
            if node_private or "platform-only" in entry.tags:
                flags |= FLAG_PRIVATE
            elif _mode(tags):
                flags |= FLAG_NOT_STUB
            levels: list[int | None] = []
            for arch in ARCHES:
                if _on_arch(node.tags, arch) and _on_arch(entry.tags, arch):
                    levels.append(max(_introduced(node.tags, arch), _introduced(entry.tags, arch)))
                else:
                    levels.append(None)
            if all(level is None for level in levels):
                continue  # only on a retired architecture
            introduced: object = levels[0] if len(set(levels)) == 1 else levels
            row: list[object] = [index, flags, introduced]
            versioned = [tag.split("=", 1)[1] for tag in entry.tags if tag.startswith("versioned=")]
            if versioned:
                row.append(_level(versioned[0]))
            symbols.setdefault(entry.name, []).append(row)
    return {"nodes": node_names, "symbols": symbols}


def _arch_levels(row: list[object]) -> list[object]:
    levels = row[2]
    return list(levels) if isinstance(levels, list) else [levels] * len(ARCHES)


def add_removals(table: dict[str, object], before: list[Node], after: list[Node], removed_api: int) -> None:
    """Add to ``table`` what a commit stopped exporting: each (symbol, node, arch) of ``before``
    that ``after`` lacks becomes a row with ``removed`` = the first release without it."""
    old = library_table(before)
    new = library_table(after)
    old_nodes, new_nodes = old["nodes"], new["nodes"]
    nodes = table["nodes"]
    symbols = table["symbols"]
    assert isinstance(old_nodes, list) and isinstance(new_nodes, list) and isinstance(nodes, list)
    assert isinstance(symbols, dict)
    kept = {
        (name, new_nodes[row[0]], arch)
        for name, rows in new["symbols"].items()  # type: ignore[attr-defined]
        for row in rows
        for arch, level in zip(ARCHES, _arch_levels(row), strict=True)
        if level is not None
    }
    for name, rows in old["symbols"].items():  # type: ignore[attr-defined]
        for row in rows:
            node = old_nodes[row[0]]
            levels = [
                level if level is not None and (name, node, arch) not in kept else None
                for arch, level in zip(ARCHES, _arch_levels(row), strict=True)
            ]
            if all(level is None for level in levels):
                continue
            if node not in nodes:
                nodes.append(node)
            introduced: object = levels[0] if len(set(levels)) == 1 else levels
            versioned = row[3] if len(row) > 3 else None
            symbols.setdefault(name, []).append(
                [nodes.index(node), row[1], introduced, versioned, removed_api]
            )


def finish(table: dict[str, object]) -> dict[str, object]:
    symbols = table["symbols"]
    assert isinstance(symbols, dict)
    return {
        "nodes": table["nodes"],
        "symbols": {name: rows[0] if len(rows) == 1 else rows for name, rows in sorted(symbols.items())},
    }


def render(data: dict[str, object]) -> bytes:
    """Stable JSON: one symbol per line, so a regenerated file diffs by symbol."""
    libraries = data["libraries"]
    assert isinstance(libraries, dict)
    head = {key: value for key, value in data.items() if key != "libraries"}
    out = ["{"]
    for key, value in head.items():
        out.append(f"{json.dumps(key)}: {json.dumps(value, sort_keys=True)},")
    out.append('"libraries": {')
    for li, (lib, table) in enumerate(sorted(libraries.items())):
        out.append(f"{json.dumps(lib)}: {{")
        out.append(f'"source": {json.dumps(table["source"], sort_keys=True)},')
        out.append(f'"nodes": {json.dumps(table["nodes"])},')
        out.append('"symbols": {')
        items = list(table["symbols"].items())
        for si, (name, row) in enumerate(items):
            comma = "," if si + 1 < len(items) else ""
            out.append(f"{json.dumps(name)}: {json.dumps(row, separators=(',', ':'))}{comma}")
        out.append("}")
        out.append("}," if li + 1 < len(libraries) else "}")
    out.append("}")
    out.append("}")
    return ("\n".join(out) + "\n").encode("utf-8")


def read_source(mirrors: Path, source: dict[str, object]) -> bytes:
    owner, name = str(source["repo"]).split("/")
    git_dir = mirrors / f"{owner}+{name}" / "repo"
    if not git_dir.is_dir():
        raise SystemExit(f"{git_dir}: snapshot missing (fetch github:{source['repo']})")
    proc = subprocess.run(
        ["git", "--git-dir", str(git_dir), "show", f"{source['commit']}:{source['path']}"],
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(
            f"{git_dir}: cannot read {source['commit']}:{source['path']}: {proc.stderr.decode().strip()}"
        )
    return proc.stdout


def _git(git_dir: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", "--git-dir", str(git_dir), *args], capture_output=True, check=False)


def read_change(mirrors: Path, change: dict[str, object], verify: bool) -> tuple[bytes, bytes]:
    """The map file before and after a removing commit, after checking which release first has it."""
    owner, name = str(change["repo"]).split("/")
    git_dir = mirrors / f"{owner}+{name}" / "repo"
    commit = str(change["commit"])
    first, previous = str(change["first_release_tag"]), str(change["previous_release_tag"])
    if _git(git_dir, "merge-base", "--is-ancestor", commit, first).returncode != 0:
        raise SystemExit(f"{change['repo']}: {commit} is not in {first}")
    if _git(git_dir, "merge-base", "--is-ancestor", commit, previous).returncode == 0:
        raise SystemExit(f"{change['repo']}: {commit} is already in {previous}")
    before = read_source(mirrors, {**change, "commit": f"{commit}^"})
    after = read_source(mirrors, change)
    if verify:
        for label, blob in (("sha256_before", before), ("sha256_after", after)):
            if hashlib.sha256(blob).hexdigest() != change[label]:
                raise SystemExit(
                    f"{change['repo']}@{commit}:{change['path']}: {label} differs from the manifest"
                )
    return before, after


def generate(mirrors: Path, manifest: dict[str, object], verify_sources: bool) -> tuple[bytes, list[str]]:
    """The data file's bytes, and the sha256 of each source in manifest order."""
    libraries: dict[str, object] = {}
    digests: list[str] = []
    sources = manifest["sources"]
    history = manifest["history"]
    assert isinstance(sources, list) and isinstance(history, list)
    for source in sources:
        raw = read_source(mirrors, source)
        digest = hashlib.sha256(raw).hexdigest()
        if verify_sources and digest != source["sha256"]:
            raise SystemExit(f"{source['repo']}:{source['path']}: sha256 {digest} differs from the manifest")
        digests.append(digest)
        try:
            table = library_table(parse_map(raw.decode("utf-8")))
        except MapError as exc:
            raise SystemExit(f"{source['repo']}:{source['path']}: {exc}") from None
        for change in history:
            if change["library"] != source["library"]:
                continue
            before, after = read_change(mirrors, change, verify_sources)
            digests.append(hashlib.sha256(before).hexdigest())
            digests.append(hashlib.sha256(after).hexdigest())
            try:
                add_removals(
                    table,
                    parse_map(before.decode("utf-8")),
                    parse_map(after.decode("utf-8")),
                    change["removed_api"],
                )
            except MapError as exc:
                raise SystemExit(f"{change['repo']}@{change['commit']}:{change['path']}: {exc}") from None
        table = finish(table)
        libraries[str(source["library"])] = {
            "source": {
                "repo": source["repo"],
                "commit": source["commit"],
                "path": source["path"],
                "sha256": digest,
                "snapshot_api": source["snapshot_api"],
                "removals": [
                    {
                        key: change[key]
                        for key in ("repo", "commit", "path", "removed_api", "first_release_tag")
                    }
                    for change in history
                    if change["library"] == source["library"]
                ],
            },
            **table,
        }
    data: dict[str, object] = {
        "schema": SCHEMA,
        "source": (
            "Generated by scripts/gen_platform_symbols.py from the NDK stub map files (*.map.txt) named "
            "in each library's source; README 'Platform symbol data' explains the fields."
        ),
        "row": (
            "symbols map a name to a row, or to a list of rows when several nodes export it: [node index, "
            "flags, introduced (one level for every arch, or one per entry of 'arches' with null where the "
            "symbol does not exist; 0 = since the library exists; future_api = unreleased), versioned "
            "(optional: from this level the symbol carries its node), removed (optional: first API level "
            "without this export)]"
        ),
        "arches": list(ARCHES),
        "future_api": FUTURE,
        "flags": {"var": FLAG_VAR, "weak": FLAG_WEAK, "not_stub": FLAG_NOT_STUB, "private": FLAG_PRIVATE},
        "libraries": libraries,
    }
    return render(data), digests


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--mirrors", type=Path, default=Path(os.environ.get("SYMAUDIT_MIRRORS", "/work/.mirror"))
    )
    parser.add_argument("--check", action="store_true", help="regenerate and compare with the committed data")
    args = parser.parse_args(argv)
    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    output = ROOT / manifest["output"]
    blob, digests = generate(args.mirrors, manifest, verify_sources=args.check)
    if args.check:
        if not output.exists() or output.read_bytes() != blob:
            print(f"{output}: differs from what {MANIFEST.name}'s sources generate", file=sys.stderr)
            return 1
        if hashlib.sha256(blob).hexdigest() != manifest["output_sha256"]:
            print(f"{MANIFEST}: output_sha256 is stale", file=sys.stderr)
            return 1
        print(f"{output.relative_to(ROOT)}: regenerated bit for bit from {len(digests)} map files")
        return 0
    output.write_bytes(blob)
    for change in manifest["history"]:
        before, after = read_change(args.mirrors, change, verify=False)
        change["sha256_before"] = hashlib.sha256(before).hexdigest()
        change["sha256_after"] = hashlib.sha256(after).hexdigest()
    for source in manifest["sources"]:
        source["sha256"] = hashlib.sha256(read_source(args.mirrors, source)).hexdigest()
    manifest["output_sha256"] = hashlib.sha256(blob).hexdigest()
    MANIFEST.write_text(_manifest_text(manifest), encoding="utf-8")
    print(f"wrote {output.relative_to(ROOT)} ({len(blob)} bytes) and {MANIFEST.relative_to(ROOT)}")
    return 0


def _manifest_text(manifest: dict[str, object]) -> str:
    lines = ["{"]
    for key in ("about", "output", "output_sha256"):
        lines.append(f"  {json.dumps(key)}: {json.dumps(manifest[key])},")
    lines.append('  "sources": [')
    sources = manifest["sources"]
    assert isinstance(sources, list)
    for i, source in enumerate(sources):
        lines.append("    " + json.dumps(source) + ("," if i + 1 < len(sources) else ""))
    lines.append("  ],")
    lines.append('  "history": [')
    history = manifest["history"]
    assert isinstance(history, list)
    for i, change in enumerate(history):
        lines.append("    " + json.dumps(change) + ("," if i + 1 < len(history) else ""))
    lines.append("  ]")
    lines.append("}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
