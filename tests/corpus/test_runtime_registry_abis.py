"""The operator registry symaudit reads from each ABI's build of one real pytorch_android release
is the same on all four ABIs, and equal to an independent oracle: the schema strings that
``llvm-readelf-19 --string-dump=.rodata`` prints for the x86_64 build (whose linker keeps every
literal whole). The arm64 builds store about a hundred schema literals only as tails of longer
ones (``cos_(...)`` inside ``acos_(...)``); symaudit must find those by the code that refers to
them, without taking a name that merely ends another one (``_scaled_dot_product_attention``).
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest

from tests.corpus.maven import ABIS, maven_corpus, readelf_schemas
from tests.required import need_tools

RUNTIMES = {
    "org.pytorch:pytorch_android:1.9.0": "libpytorch_jni.so",
    "org.pytorch:pytorch_android:1.10.0": "libpytorch_jni.so",
    "org.pytorch:pytorch_android:1.13.1": "libpytorch_jni.so",
    "org.pytorch:pytorch_android_lite:1.9.0": "libpytorch_jni_lite.so",
    "org.pytorch:pytorch_android_lite:1.12.2": "libpytorch_jni_lite.so",
}
@pytest.mark.parametrize("coordinate", sorted(RUNTIMES))
def test_every_abi_registers_what_the_x86_64_build_stores_whole(coordinate: str, tmp_path: Path) -> None:
    need_tools("llvm-readelf-19")
    from symaudit.elf.reader import read_elf
    from symaudit.torchmodel.runtime import registered_operators

    library = RUNTIMES[coordinate]
    with zipfile.ZipFile(maven_corpus()[coordinate]) as archive:
        blobs = {abi: archive.read(f"jni/{abi}/{library}") for abi in ABIS}
    x86_64 = tmp_path / library
    x86_64.write_bytes(blobs["x86_64"])
    oracle = readelf_schemas(x86_64)
    assert len(oracle) > 2000
    for abi, blob in blobs.items():
        found = registered_operators(blob, read_elf(blob, library)).qualified
        assert found == oracle, (abi, sorted(oracle - found)[:10], sorted(found - oracle)[:10])
    assert "aten::scaled_dot_product_attention" not in oracle


def test_arm64_tail_merged_literals_are_found_by_their_references(tmp_path: Path) -> None:
    """The phase-1 false alarms: on arm64 1.13.1 these literals have no string start of their own."""
    from symaudit.elf.reader import read_elf
    from symaudit.torchmodel.runtime import registered_operators

    with zipfile.ZipFile(maven_corpus()["org.pytorch:pytorch_android:1.13.1"]) as archive:
        blob = archive.read("jni/arm64-v8a/libpytorch_jni.so")
    for tail, before in ((b"dropout_(Tensor(a!) self", b"feature_"), (b"logsumexp(Tensor self", b"special_")):
        at = [m.start() for m in re.finditer(re.escape(tail), blob)]
        assert at and all(blob[a - 1] != 0 for a in at), tail  # stored only inside longer literals
        assert any(blob[a - len(before) : a] == before for a in at), tail
    found = registered_operators(blob, read_elf(blob, "libpytorch_jni.so"))
    assert {"aten::dropout_", "aten::logsumexp", "aten::median.dim", "aten::broadcast_to"} <= found.qualified
    assert "aten::_scaled_dot_product_attention" in found.qualified
    assert "aten::scaled_dot_product_attention" not in found.names
