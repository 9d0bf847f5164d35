"""What ``symaudit refs fetch|list|show`` do with a :class:`ReferenceStore`; the CLI parses the
options and prints the lines these return."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

from symaudit.errors import InputError, SymauditError
from symaudit.maven.coordinates import Coordinate
from symaudit.references.manifest import to_json
from symaudit.references.store import ReferenceStore


def fetch(store: ReferenceStore, texts: Sequence[str]) -> Iterator[tuple[str, bool]]:
    """(line, is an error) per version fetched of the coordinates ``texts`` (all parsed first).
    With one coordinate and one version a failure raises; otherwise it is a line and the others
    are still fetched."""
    coordinates = [Coordinate.parse(text) for text in texts]
    for coordinate in coordinates:
        versions = [coordinate.version] if coordinate.version else store.versions(coordinate)
        for version in versions:
            wanted = coordinate.with_version(version)
            try:
                manifest = store.manifest(wanted)
            except SymauditError as exc:
                if len(coordinates) == 1 and len(versions) == 1:
                    raise
                yield f"symaudit: error: {exc}", True
                continue
            abis = ", ".join(manifest.abis) or "no native libraries"
            yield f"{wanted}  sha256:{manifest.sha256[:16]}  {len(manifest.libraries)} libraries ({abis})", False


def listing(store: ReferenceStore) -> str:
    """The references in the cache, one line each."""
    cache = store.client.cache
    rows = []
    for coordinate, entry in cache.indexed():
        manifest = "manifest" if cache.manifest_path(entry["sha256"]).is_file() else "no manifest"
        rows.append(f"{coordinate}  sha256:{str(entry['sha256'])[:16]}  {entry.get('origin', '?')}  {manifest}")
    return "\n".join(rows) if rows else f"no references cached in {cache.root}"


def show(store: ReferenceStore, coordinate: str, abi: str | None, fmt: str) -> str:
    """A reference's libraries (only ``abi``'s when given) as text or JSON."""
    parsed = Coordinate.parse(coordinate)
    if parsed.version is None:
        raise InputError(f"{coordinate}: name a version (group:artifact:version)")
    manifest = store.manifest(parsed)
    libraries = [lib for lib in manifest.libraries if abi is None or lib.abi == abi]
    if abi is not None and not libraries:
        raise InputError(f"{parsed}: no library for ABI {abi} (found: {', '.join(manifest.abis)})")
    if fmt == "json":
        data = to_json(manifest)
        data["libraries"] = [d for d in data["libraries"] if abi is None or d["abi"] == abi]
        return json.dumps(data, indent=2)
    lines = [f"{manifest.coordinate}  sha256:{manifest.sha256}"]
    for lib in libraries:
        lines.append(
            f"  {lib.abi}/{lib.name}  soname={lib.soname}  ndk={lib.ndk or '?'}  "
            f"exports={len(lib.exports)}  imports={len(lib.imports)}  needed={','.join(lib.needed)}"
        )
    return "\n".join(lines)
