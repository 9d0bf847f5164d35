"""Issue 14 end to end on the real PyTorch Android AARs of Maven Central (the pinned corpus).

symaudit finds the references where a Gradle build leaves them (``GRADLE_USER_HOME``'s module
cache, symlinks to the corpus) and runs ``--offline``. Every expected value comes from
``llvm-readelf-19`` set arithmetic or from the zip bytes (tests/corpus/maven.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.corpus.maven import (
    ABIS,
    ROOT,
    gradle_home,
    jni,
    maven_corpus,
    readelf_schemas,
    readelf_symbols,
    serve_corpus,
    union_exports,
    write_apk,
)
from tests.required import need_tools

TORCH_1_9 = "org.pytorch:pytorch_android:1.9.0"
TORCH_1_10 = "org.pytorch:pytorch_android:1.10.0"
TORCH_1_13 = "org.pytorch:pytorch_android:1.13.1"
LITE_1_12 = "org.pytorch:pytorch_android_lite:1.12.2"
FBJNI = "com.facebook.fbjni:fbjni:0.2.2"
TARGETS = {
    "arm64-v8a": "aarch64-linux-android21",
    "armeabi-v7a": "armv7a-linux-androideabi21",
    "x86": "i686-linux-android21",
    "x86_64": "x86_64-linux-android21",
}
# What a libwenet-like consumer calls: torch::jit::load(std::string const&, c10::optional<Device>)
# (in every pinned release) and SimpleValue::attr(SourceRange const&, Function&, std::string const&),
# exported by 1.9.0 and 1.10.0 on every ABI and gone from 1.13.1 (llvm-readelf, asserted below).
LOAD = "_ZN5torch3jit4loadERKNSt6__ndk112basic_stringIcNS1_11char_traitsIcEENS1_9allocatorIcEEEEN3c108optionalINSA_6DeviceEEE"
ATTR = (
    "_ZN5torch3jit11SimpleValue4attrERKNS0_11SourceRangeERNS0_8FunctionERKNSt6__ndk112basic_stringIcNS7_"
    "11char_traitsIcEENS7_9allocatorIcEEEE"
)
CONSUMER = "libconsumer.so"


@pytest.fixture(scope="session")
def aars() -> dict[str, Path]:
    need_tools("llvm-readelf-19")
    return maven_corpus()


@pytest.fixture(scope="session")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("maven-corpus")


@pytest.fixture(scope="session")
def env(aars: dict[str, Path], scratch: Path) -> dict[str, str]:
    """One symaudit cache for the session: reference manifests are built once."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HOME": str(scratch / "home")}
    env["GRADLE_USER_HOME"] = str(gradle_home(scratch / "gradle", aars))
    env["SYMAUDIT_CACHE"] = str(scratch / "cache")
    for name in ("SYMAUDIT_REFERENCES", "SYMAUDIT_DEBUG", "SYMAUDIT_OFFLINE", "SYMAUDIT_MAVEN_REPOS"):
        env.pop(name, None)
    return env


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "symaudit.cli", *args], capture_output=True, text=True, env=env, timeout=600
    )


def report(env: dict[str, str], *args: str) -> dict[str, Any]:
    done = run(env, *args, "--format", "json")
    assert done.returncode in (0, 1), done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def by_library(data: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(lib["abi"], lib["name"]): lib for lib in data["libraries"]}


def test_pytorch_android_1_13_1_is_identified_exactly_on_every_abi(
    env: dict[str, str], aars: dict[str, Path], scratch: Path
) -> None:
    libraries = jni(aars[TORCH_1_13])
    apk = write_apk(scratch / "torch-1.13.1.apk", libraries)
    data = report(env, "apk", str(apk), "--offline", "--min-sdk", "21")

    # A package holding libpytorch_jni.so brings in pytorch_android and fbjni, not the lite module.
    assert set(data["references"]["loaded"]) == {c for c in aars if "pytorch_android_lite" not in c}
    # Oracle: which loaded AARs hold a byte-identical copy of each shipped library.
    holders: dict[str, set[str]] = {}
    for coordinate in data["references"]["loaded"]:
        aar = aars[coordinate]
        for (_, _), blob in jni(aar).items():
            holders.setdefault(hashlib.sha256(blob).hexdigest(), set()).add(coordinate)
    found = by_library(data)
    assert {abi for abi, _ in libraries} == set(ABIS)
    for abi in ABIS:
        runtime = found[abi, "libpytorch_jni.so"]["reference"]
        assert holders[hashlib.sha256(libraries[abi, "libpytorch_jni.so"]).hexdigest()] == {TORCH_1_13}
        assert runtime == {
            "coordinate": TORCH_1_13,
            "match": "exact",
            "similarity": 1.0,
            "coordinates": [TORCH_1_13],
        }
        for name in ("libfbjni.so", "libc++_shared.so"):
            same = holders[hashlib.sha256(libraries[abi, name]).hexdigest()]
            reference = found[abi, name]["reference"]
            assert reference["match"] == "exact" and set(reference["coordinates"]) == same, (abi, name)
    assert data["references"]["problems"] == []
    assert not [
        f for f in data["findings"] if f["rule"] in ("unresolved-symbol", "libtorch-version-mismatch")
    ]


@pytest.fixture(scope="session")
def consumer(scratch: Path) -> dict[str, bytes]:
    """ABI -> libconsumer.so, compiled by clang-19 and linked by lld-19, importing LOAD and ATTR
    with DT_NEEDED libpytorch_jni.so. lld refuses to link against the real 1.10.0 library
    (``invalid local symbol '__bss_end__' in global part of symbol table``, pytorch#129633), so it
    links against a stub defining the two names; the tests check by llvm-readelf that 1.10.0 exports them."""
    need_tools("clang-19", "ld.lld-19")
    source, stub = scratch / "consumer.c", scratch / "stub.c"
    source.write_text(
        f'extern void load(void) __asm__("{LOAD}");\n'
        f'extern void attr(void) __asm__("{ATTR}");\n'
        "void consumer_init(void) { load(); attr(); }\n"
    )
    stub.write_text(
        f'void load(void) __asm__("{LOAD}");\nvoid load(void) {{}}\n'
        f'void attr(void) __asm__("{ATTR}");\nvoid attr(void) {{}}\n'
    )
    built: dict[str, bytes] = {}
    for abi, target in TARGETS.items():
        folder = scratch / "consumer" / abi
        folder.mkdir(parents=True, exist_ok=True)
        runtime, library = folder / "libpytorch_jni.so", folder / CONSUMER
        _link(target, stub, runtime, "libpytorch_jni.so")
        _link(target, source, library, CONSUMER, runtime)
        built[abi] = library.read_bytes()
    return built


def _link(target: str, source: Path, out: Path, soname: str, *libraries: Path) -> None:
    obj = out.with_suffix(".o")
    subprocess.run(
        ["clang-19", f"--target={target}", "-fPIC", "-O1", "-c", str(source), "-o", str(obj)], check=True
    )
    subprocess.run(
        ["ld.lld-19", "-shared", "--soname", soname, str(obj), *map(str, libraries), "-o", str(out)],
        check=True,
    )


def _oracle_compatible(
    abi: str, imports: frozenset[str], aars: dict[str, Path], scratch: Path, modules: set[str]
) -> list[str]:
    fits = []
    for coordinate, aar in aars.items():
        if coordinate.rsplit(":", 1)[0] not in modules:
            continue
        libs = [blob for (lib_abi, _), blob in jni(aar).items() if lib_abi == abi]
        if libs and imports <= union_exports(libs, scratch):
            fits.append(coordinate)
    return sorted(fits, key=lambda c: (c.rsplit(":", 1)[0], [int(p) for p in c.rsplit(":", 1)[1].split(".")]))


def test_consumer_built_against_1_10_shipped_with_1_13_1_is_a_version_mismatch(
    env: dict[str, str], aars: dict[str, Path], scratch: Path, consumer: dict[str, bytes]
) -> None:
    for abi in ABIS:  # the premise, by llvm-readelf: ATTR left between 1.10.0 and 1.13.1
        old = union_exports([b for (a, _), b in jni(aars[TORCH_1_10]).items() if a == abi], scratch)
        new = union_exports([b for (a, _), b in jni(aars[TORCH_1_13]).items() if a == abi], scratch)
        assert {LOAD, ATTR} <= old and LOAD in new and ATTR not in new, abi

    shipped = jni(aars[TORCH_1_13])
    apk = write_apk(
        scratch / "consumer-on-1.13.1.apk", {**shipped, **{(abi, CONSUMER): b for abi, b in consumer.items()}}
    )
    data = report(env, "apk", str(apk), "--offline", "--min-sdk", "21")
    loaded = set(data["references"]["loaded"])
    modules = {c.rsplit(":", 1)[0] for c in loaded}
    assert loaded == {c for c in aars if c.rsplit(":", 1)[0] in modules}  # every pinned release of them
    mismatches = {f["abi"]: f for f in data["findings"] if f["rule"] == "libtorch-version-mismatch"}
    assert set(mismatches) == set(ABIS)
    for abi in ABIS:
        exports, imports = readelf_symbols(consumer[abi], scratch)
        assert imports == {LOAD, ATTR} and not exports & imports
        compatible = _oracle_compatible(abi, imports, aars, scratch, modules)
        provided = union_exports([b for (a, n), b in shipped.items() if a == abi], scratch)
        finding = mismatches[abi]
        assert finding["library"] == CONSUMER
        assert finding["built_against"] == compatible == [TORCH_1_9, TORCH_1_10]
        assert finding["shipped"] == TORCH_1_13 and finding["shipped_match"] == "exact"
        assert finding["missing"] == sorted(imports - provided) == [ATTR]
        assert by_library(data)[abi, CONSUMER]["compatible_references"] == compatible
    unresolved = {(f["abi"], f["symbol"]) for f in data["findings"] if f["rule"] == "unresolved-symbol"}
    assert unresolved == {(abi, ATTR) for abi in ABIS}


def test_the_same_consumer_shipped_with_1_10_has_no_mismatch(
    env: dict[str, str], aars: dict[str, Path], scratch: Path, consumer: dict[str, bytes]
) -> None:
    shipped = jni(aars[TORCH_1_10])
    apk = write_apk(
        scratch / "consumer-on-1.10.0.apk", {**shipped, **{(abi, CONSUMER): b for abi, b in consumer.items()}}
    )
    data = report(env, "apk", str(apk), "--offline", "--min-sdk", "21")
    rules = {f["rule"] for f in data["findings"]}
    assert "libtorch-version-mismatch" not in rules and "unresolved-symbol" not in rules
    for abi in ABIS:
        assert by_library(data)[abi, "libpytorch_jni.so"]["reference"]["coordinate"] == TORCH_1_10
        assert by_library(data)[abi, CONSUMER]["compatible_references"] == [TORCH_1_9, TORCH_1_10]


@pytest.mark.parametrize("abi", ["arm64-v8a"])
def test_diff_of_two_real_releases_matches_readelf_set_arithmetic(
    env: dict[str, str], aars: dict[str, Path], scratch: Path, abi: str
) -> None:
    done = run(env, "diff", TORCH_1_10, TORCH_1_13, "--offline", "--abi", abi, "--format", "json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    old_exports, old_imports = readelf_symbols(jni(aars[TORCH_1_10])[abi, "libpytorch_jni.so"], scratch)
    new_exports, new_imports = readelf_symbols(jni(aars[TORCH_1_13])[abi, "libpytorch_jni.so"], scratch)
    for table, old, new in (("exports", old_exports, new_exports), ("imports", old_imports, new_imports)):
        part = data[table]
        added = {s["symbol"] for s in part["added"]} | {
            s["symbol"] for c in part["changed"] for s in c["added"]
        }
        removed = {s["symbol"] for s in part["removed"]} | {
            s["symbol"] for c in part["changed"] for s in c["removed"]
        }
        assert added == new - old, table
        assert removed == old - new, table
        assert part["unchanged"] + len(part["reversioned"]) == len(old & new), table
    assert (data["a"]["exports"], data["b"]["exports"]) == (len(old_exports), len(new_exports))


def _rodata_operators(data: bytes, scratch: Path) -> set[str]:
    """Operator names of the schema strings llvm-readelf dumps from ``.rodata``."""
    path = scratch / f"{hashlib.sha256(data).hexdigest()}.so"
    if not path.exists():
        path.write_bytes(data)
    return {schema.partition(".")[0] for schema in readelf_schemas(path)}


@pytest.mark.parametrize(
    ("coordinate", "library"), [(TORCH_1_13, "libpytorch_jni.so"), (LITE_1_12, "libpytorch_jni_lite.so")]
)
def test_real_runtime_registry_lacks_scaled_dot_product_attention(
    aars: dict[str, Path], scratch: Path, coordinate: str, library: str
) -> None:
    models = ROOT / "fixtures" / "models"
    if not (models / "sdpa.ptl").is_file():
        pytest.fail(f"{models / 'sdpa.ptl'} is committed; it is missing")
    runtime = jni(aars[coordinate])["arm64-v8a", library]
    registered = _rodata_operators(runtime, scratch)
    assert "aten::scaled_dot_product_attention" not in registered
    assert {"aten::linear", "aten::relu", "aten::add"} <= registered

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "symaudit.cli",
            "model",
            str(models / "sdpa.ptl"),
            "--runtime",
            str(aars[coordinate]),
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 1, done.stderr
    data = json.loads(done.stdout)
    missing = {(f["abi"], f["symbol"]) for f in data["findings"] if f["rule"] == "model-operator-missing"}
    assert missing == {(abi, "aten::scaled_dot_product_attention") for abi in ABIS}
    plain = subprocess.run(
        [
            sys.executable,
            "-m",
            "symaudit.cli",
            "model",
            str(models / "plain.ptl"),
            "--runtime",
            str(aars[coordinate]),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert plain.returncode == 0, plain.stdout + plain.stderr


@pytest.fixture(scope="session", autouse=True)
def _no_leftovers(scratch: Path) -> Iterator[None]:
    yield
    shutil.rmtree(scratch, ignore_errors=True)  # hundreds of MB of extracted libraries


def test_derived_operator_table_is_what_the_corpus_runtimes_give() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "derive_operator_table.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr


def test_derived_operator_table_agrees_with_readelf_string_dumps(
    aars: dict[str, Path], scratch: Path
) -> None:
    """Registries by llvm-readelf's .rodata string dump of every ABI's build: a derived operator is in
    no build of 1.9.0, in some build of its 'since' release, and in no build of its 'absent_in'."""
    table = json.loads((ROOT / "symaudit" / "data" / "torch_runtime_versions.json").read_text())["operators"]
    derived = {name: entry for name, entry in table.items() if entry["derived"]}
    assert len(derived) > 100
    registry = {
        version: set().union(
            *(
                _rodata_operators(
                    jni(aars[f"org.pytorch:pytorch_android:{version}"])[abi, "libpytorch_jni.so"], scratch
                )
                for abi in ABIS
            )
        )
        for version in ("1.9.0", "1.10.0", "1.13.1")
    }
    for name, entry in derived.items():
        assert name not in registry["1.9.0"] and name not in registry[entry["absent_in"]], name
        assert name in registry[entry["since"]], name
    introduced = {
        v: {n for n in registry[v] - registry["1.9.0"] if n not in registry[p]}
        for p, v in (("1.9.0", "1.10.0"), ("1.10.0", "1.13.1"))
    }
    assert {n for n, e in derived.items() if e["since"] == "1.10.0"} == introduced["1.10.0"]
    sdpa = table["aten::scaled_dot_product_attention"]
    assert (sdpa["derived"], sdpa["since"]) == (False, "2.0.0")


def test_missing_operator_hint_names_the_derived_release(aars: dict[str, Path]) -> None:
    from symaudit.elf.reader import read_elf
    from symaudit.torchmodel.check import Runtime, check_model
    from symaudit.torchmodel.model import ModelKind, Operator, OperatorSource, TorchModel
    from symaudit.torchmodel.runtime import registered_operators

    table = json.loads((ROOT / "symaudit" / "data" / "torch_runtime_versions.json").read_text())["operators"]
    name = next(n for n, e in sorted(table.items()) if e["derived"] and e["since"] == "1.13.1")
    blob = jni(aars[TORCH_1_10])["arm64-v8a", "libpytorch_jni.so"]
    runtime = Runtime(
        "arm64-v8a", ("libpytorch_jni.so",), registered_operators(blob, read_elf(blob, "libpytorch_jni.so"))
    )
    model = TorchModel(ModelKind.LITE, "m", 8, 8, (Operator(name, ""),), OperatorSource.BYTECODE)
    [finding] = check_model("m.ptl", model, runtime)
    assert finding.rule == "model-operator-missing" and finding.symbol == name
    assert "first appeared in libtorch 1.13.1 (1.10.0 lacks it)" in finding.hint


@pytest.mark.parametrize("ranges", [True, False], ids=["server-honours-range", "server-ignores-range"])
def test_first_online_audit_fetches_what_identification_needs_and_a_warm_one_asks_nothing(
    aars: dict[str, Path], scratch: Path, tmp_path: Path, httpserver: Any, ranges: bool
) -> None:
    served = serve_corpus(httpserver, aars, ranges)
    shipped = {key: blob for key, blob in jni(aars[TORCH_1_13]).items() if key[0] == "arm64-v8a"}
    apk = write_apk(tmp_path / "torch-1.13.1.apk", shipped)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HOME": str(tmp_path / "home")}
    env.update(SYMAUDIT_CACHE=str(tmp_path / "cache"), GRADLE_USER_HOME=str(tmp_path / "gradle"))
    for name in ("SYMAUDIT_REFERENCES", "SYMAUDIT_DEBUG", "SYMAUDIT_OFFLINE", "SYMAUDIT_MAVEN_REPOS"):
        env.pop(name, None)
    url = httpserver.url_for("/").rstrip("/")

    first = report(env, "apk", str(apk), "--maven-repo", url)
    wanted = {c for c in aars if "pytorch_android_lite" not in c}
    assert set(first["references"]["loaded"]) == wanted and first["references"]["problems"] == []
    paths = {
        c: f"/{c.split(':')[0].replace('.', '/')}/{c.split(':')[1]}/{c.split(':')[2]}/{c.split(':')[1]}-{c.split(':')[2]}.aar"
        for c in wanted
    }
    assert {p for p in served if p.endswith(".aar")} == set(paths.values())
    for coordinate, path in paths.items():
        whole = aars[coordinate].stat().st_size
        if ranges:  # the zip's tail and directory, then only arm64-v8a's libraries
            with zipfile.ZipFile(aars[coordinate]) as archive:
                needed = sum(
                    i.compress_size for i in archive.infolist() if i.filename.startswith("jni/arm64-v8a/")
                )
                assert needed <= served[path] < needed + whole // 10 + 200_000, coordinate
        else:  # one whole download (the range request is answered 200 and dropped)
            assert served[path] >= whole, coordinate
    assert by_library(first)["arm64-v8a", "libpytorch_jni.so"]["reference"]["coordinate"] == TORCH_1_13
    for abi, name in shipped:  # exact: byte-identical to the release's member
        assert by_library(first)[abi, name]["reference"]["match"] == "exact"

    asked = len(httpserver.log)
    warm = report(env, "apk", str(apk), "--maven-repo", url)
    assert len(httpserver.log) == asked
    assert warm == first
    # The same audit from whole local copies (Gradle's cache) finds the same.
    local = dict(
        env, SYMAUDIT_CACHE=str(tmp_path / "local"), GRADLE_USER_HOME=str(gradle_home(tmp_path / "g", aars))
    )
    assert report(local, "apk", str(apk), "--offline")["libraries"] == first["libraries"]
