"""Benchmark: ``symaudit apk`` on libtorch-sized libraries against llvm-readelf, pyelftools, LIEF.

symaudit's claim is that auditing an APK costs less than dumping its symbol tables with
``llvm-readelf``; that is only worth something on libraries the size of those that break in the
field (a libtorch runtime exports ~100,000 mangled C++ names). This script:

1. builds, with nothing but clang-19 and lld-19, for each of the four ABIs (or reuses from
   ``~/.cache/symaudit-bench/<key>/<abi>/``, ``--out``):

   * ``libbig.so``: >= 100,000 exported functions and objects with realistic Itanium names
     (``_ZN5torch...``, ``_ZN3c10...``, ``_ZNK2at6Tensor...``, 30-150 characters), a few thousand
     imports from ``libbigdep.so``, a weak import, versioned imports (``LIBC``, ``LIBC_N``) from a
     stub ``libc.so``, DT_GNU_HASH and DT_HASH, no ``.symtab`` (``--strip-all``), like a release
     library;
   * ``libbigdep.so``, the provider of those imports, and ``libbigapp.so``, the app's own JNI
     library, which imports a few thousand of libbig.so's exports (so resolving really searches
     the big table);

2. packs the three libraries of every ABI into one APK, stored and 16 KB aligned as AGP does;

3. times whole processes, best of ``--repeat``, the runs of the tools interleaved (all four
   libbig.so in one process each, the same way symaudit gets them in one APK):

   * ``symaudit apk big.apk --format json --output /dev/null``: unzip, hash, parse, resolve and
     write the JSON report, interpreter start-up and imports included;
   * ``llvm-readelf-19 --dyn-syms --wide`` over the four libbig.so (the reference, 1.0x);
   * a naive pyelftools loop (``iter_symbols()`` collecting name, binding, section index);
   * LIEF (``lief.parse`` and the name of every dynamic symbol);

   and the peak RSS of each (``os.wait4``), less that of an idle interpreter (``python -c pass``);

4. times :func:`symaudit.elf.reader.read_elf` in-process on each libbig.so.

Targets (exit status 1 when one is missed): ``symaudit apk`` at most 0.4x the llvm-readelf time,
and its peak memory above the idle interpreter's at most 1.5x the largest packaged library.
Targets live here, never in timed tests. Ratios depend little on the machine; seconds do.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIME_TARGET = 0.4
"""``symaudit apk`` wall time / ``llvm-readelf --dyn-syms`` wall time, at most."""
MEMORY_TARGET = 1.5
DIFF_TARGET = 2.0
"""`symaudit diff` of two 100k-export builds, at most this many times the time of a process that
only parses both and decodes their names (issue 4: a diff should cost little more than parsing)."""
"""(peak RSS of ``symaudit apk`` - peak RSS of an idle interpreter) / largest library, at most."""

# ------------------------------------------------------------------------------ the libraries

GENERATOR_VERSION = 2
CODE_BYTES = 320
"""Code per exported function in the default library. Real libraries carry far more code per
dynamic symbol: torch 2.13's libtorch_cpu.so has 75,000 dynamic symbols in 434 MB (5.8 KB each);
320 bytes keeps the benchmark library 13 times more table-heavy than that."""
SEED = 20240611

ABIS = {
    # abi dir: (clang triple prefix, pointer directive, return instruction)
    "arm64-v8a": ("aarch64-linux-android", ".quad", "ret"),
    "armeabi-v7a": ("armv7a-linux-androideabi", ".long", "bx lr"),
    "x86_64": ("x86_64-linux-android", ".quad", "ret"),
    "x86": ("i686-linux-android", ".long", "ret"),
}
API_LEVEL = 21
ALIGN = 16384

# Namespaces as mangled <source-name> sequences; the first group of each family is weighted so
# the mix resembles libtorch (mostly torch::jit / at::native / c10).
NAMESPACES = (
    ("5torch", "3jit"),
    ("5torch", "3jit", "6mobile"),
    ("5torch", "3jit", "10tensorexpr"),
    ("5torch", "8autograd"),
    ("5torch", "8autograd", "9generated"),
    ("5torch", "3nn"),
    ("3c10",),
    ("3c10", "4impl"),
    ("3c10", "6detail"),
    ("2at",),
    ("2at", "6native"),
    ("2at", "5_ops"),
    ("2at", "8internal"),
    ("6caffe2",),
)
WORDS = (
    "add",
    "mul",
    "sub",
    "div",
    "conv2d",
    "conv_transpose",
    "linear",
    "matmul",
    "addmm",
    "bmm",
    "relu",
    "gelu",
    "sigmoid",
    "softmax",
    "log_softmax",
    "dropout",
    "batch_norm",
    "layer_norm",
    "embedding",
    "index_select",
    "gather",
    "scatter",
    "cat",
    "stack",
    "view",
    "reshape",
    "permute",
    "contiguous",
    "quantize",
    "dequantize",
    "packed",
    "prepack",
    "kernel",
    "impl",
    "out",
    "backward",
    "forward",
    "scalar",
    "tensor",
    "dispatch",
    "redispatch",
    "call",
    "functional",
    "inplace",
    "upsample",
    "nearest",
    "bilinear",
    "max_pool",
    "avg_pool",
    "adaptive",
    "lstm",
    "gru",
    "rnn",
    "quantized",
    "qnnpack",
    "xnnpack",
    "vulkan",
    "metal",
    "sparse",
    "dense",
    "strided",
    "empty",
    "zeros",
    "ones",
    "full",
    "arange",
    "clone",
    "copy",
    "to",
    "type",
    "device",
    "dtype",
    "layout",
)
# Parameter types: builtins and fully qualified names without substitutions, so every name is a
# valid (if not minimal) Itanium mangling.
PARAMS = (
    "i",
    "l",
    "b",
    "d",
    "f",
    "m",
    "j",
    "PKc",
    "RKN2at6TensorE",
    "RN2at6TensorE",
    "N3c108ArrayRefIlEE",
    "RKN3c106IValueE",
    "N3c1010ScalarTypeE",
    "RKN3c106ScalarE",
    "N3c108optionalIlEE",
    "N3c1013TensorOptionsE",
    "RKN5torch3jit5StackE",
    "PN5torch3jit5GraphE",
)
PREFIX_WEIGHTS = ((0.6, "namespace"), (0.25, "tensor_method"), (0.15, "object"))


def mangled_names(count: int, rng: random.Random, lengths: tuple[int, int] = (30, 150)) -> list[str]:
    """``count`` distinct mangled names, each between ``lengths`` characters long."""
    names: list[str] = []
    seen: set[str] = set()
    low, high = lengths
    while len(names) < count:
        target = min(high, max(low, int(rng.triangular(low, high, 70))))
        kind = rng.choices([k for _, k in PREFIX_WEIGHTS], [w for w, _ in PREFIX_WEIGHTS])[0]
        params = "".join(rng.choice(PARAMS) for _ in range(rng.randint(0, 4))) or "v"
        if kind == "tensor_method":
            head, tail = "_ZNK2at6Tensor", "E" + params
        elif kind == "object":
            # typeinfo / vtable-like data symbols: _ZTV / _ZTI of a nested class name
            head = rng.choice(("_ZTVN", "_ZTIN", "_ZTSN")) + "".join(rng.choice(NAMESPACES))
            tail = "E"
        else:
            head, tail = "_ZN" + "".join(rng.choice(NAMESPACES)), "E" + params
        room = target - len(head) - len(tail)
        room -= len(str(room))  # the identifier's length prefix
        if room < 3:
            continue
        ident = "_".join(rng.choice(WORDS) for _ in range(room // 4 + 2))[:room].strip("_")
        if not ident or ident[0].isdigit():
            continue
        name = f"{head}{len(ident)}{ident}{tail}"
        if name in seen or not low <= len(name) <= high:
            continue
        seen.add(name)
        names.append(name)
    return names


def _function(name: str, ret: str, body: int = 0) -> str:
    """A function symbol; ``body`` bytes of filler after the return give it a real code size."""
    filler = f"\t.skip {body}\n" if body else ""
    return f"\t.globl {name}\n\t.type {name}, %function\n{name}:\n\t{ret}\n{filler}\t.size {name}, .-{name}\n"


def _object(name: str, pointer: str) -> str:
    return f"\t.globl {name}\n\t.type {name}, %object\n\t.p2align 3\n{name}:\n\t{pointer} 0\n\t.size {name}, .-{name}\n"


def _run(command: list[str], cwd: Path) -> None:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"failed: {' '.join(command)}\n{result.stderr}")


def _link(triple: str, sources: list[Path], output: Path, extra: Iterable[str], cwd: Path) -> None:
    _run(
        [
            "clang-19",
            f"--target={triple}{API_LEVEL}",
            "-shared",
            "-nostdlib",
            "-fuse-ld=lld",
            "-Wl,--hash-style=both",
            "-Wl,--strip-all",
            "-Wl,--build-id=none",
            f"-Wl,-soname,{output.name}",
            "-o",
            str(output),
            *map(str, sources),
            *extra,
        ],
        cwd,
    )


# What build_abi makes, libbig.so last; all but libc.so (a platform library) go into the APK.
PRODUCED = ("libc.so", "libbigdep.so", "libbigapp.so", "libbig.so")
PACKAGED = ("libbig.so", "libbigdep.so", "libbigapp.so")

LIBC_VERSIONS = {
    "LIBC": (
        "malloc",
        "free",
        "calloc",
        "realloc",
        "memcpy",
        "memmove",
        "memset",
        "strlen",
        "strcmp",
        "abort",
        "pthread_mutex_lock",
        "pthread_mutex_unlock",
        "__cxa_atexit",
        "__cxa_finalize",
        "__stack_chk_fail",
        "dl_iterate_phdr",
    ),
    "LIBC_N": ("pthread_barrier_init", "pthread_barrier_wait", "getifaddrs", "freeifaddrs"),
}


def build_abi(abi: str, directory: Path, exports: int, imports: int, code_bytes: int = 0) -> Path:
    """Build libc.so, libbigdep.so, libbig.so and libbigapp.so for one ABI into ``directory``;
    return libbig.so. libbigapp.so stands for the app's own JNI library: it imports a few
    thousand of libbig.so's exports, so the audit really searches the 100,000-name table."""
    triple, pointer, ret = ABIS[abi]
    big = directory / "libbig.so"
    if big.is_file():
        return big
    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(f"{SEED}-{exports}-{imports}")  # same names for every ABI, like a real build
    names = mangled_names(exports + imports, rng)
    export_names, import_names = names[:exports], names[exports:]
    app_imports = rng.sample([n for n in export_names if not n.startswith(("_ZTV", "_ZTI", "_ZTS"))], imports)
    with tempfile.TemporaryDirectory(prefix=f"symaudit-big-{abi}-") as temp:
        work = Path(temp)
        # Versioned stub libc.
        libc_asm = "".join(_function(n, ret) for names_ in LIBC_VERSIONS.values() for n in names_)
        (work / "libc.s").write_text("\t.text\n" + libc_asm)
        nodes = list(LIBC_VERSIONS.items())
        script = "".join(
            f"{node} {{\n  global:\n"
            + "".join(f"    {n};\n" for n in syms)
            + ("  local: *;\n}};\n" if i == 0 else f"}} {nodes[i - 1][0]};\n")
            for i, (node, syms) in enumerate(nodes)
        )
        (work / "libc.map").write_text(script)
        _link(triple, [work / "libc.s"], work / "libc.so", ["-Wl,--version-script=libc.map"], work)
        # The provider of the big library's imports.
        (work / "dep.s").write_text("\t.text\n" + "".join(_function(n, ret) for n in import_names))
        _link(triple, [work / "dep.s"], work / "libbigdep.so", [], work)
        # The big library: functions and objects, then a table of pointers to every import.
        parts = ["\t.text\n"]
        parts.extend(
            _function(n, ret, code_bytes) for n in export_names if not n.startswith(("_ZTV", "_ZTI", "_ZTS"))
        )
        parts.append("\t.data\n")
        parts.extend(_object(n, pointer) for n in export_names if n.startswith(("_ZTV", "_ZTI", "_ZTS")))
        parts.append('\t.section .data.rel.ro,"aw"\n\t.p2align 3\nimport_table:\n')
        parts.extend(f"\t{pointer} {n}\n" for n in import_names)
        parts.extend(f"\t{pointer} {n}\n" for syms in LIBC_VERSIONS.values() for n in syms)
        parts.append(f"\t.weak __android_optional_hook\n\t{pointer} __android_optional_hook\n")
        (work / "big.s").write_text("".join(parts))
        _link(triple, [work / "big.s"], work / "libbig.so", ["libbigdep.so", "libc.so"], work)
        app = ["\t.text\n", _function("Java_org_example_App_run", ret), '\t.section .data.rel.ro,"aw"\n']
        app.extend(f"\t{pointer} {n}\n" for n in app_imports)
        (work / "app.s").write_text("".join(app))
        _link(triple, [work / "app.s"], work / "libbigapp.so", ["libbig.so", "libc.so"], work)
        for produced in PRODUCED:
            shutil.copyfile(work / produced, directory / f".{produced}.part")
        for produced in PRODUCED:  # libbig.so last: it marks completion
            os.replace(directory / f".{produced}.part", directory / produced)
    return big


def build_all(
    out: Path, exports: int, imports: int, abis: Iterable[str], code_bytes: int = 0
) -> dict[str, Path]:
    key = f"v{GENERATOR_VERSION}-{exports}x{imports}" + (f"-code{code_bytes}" if code_bytes else "")
    return {abi: build_abi(abi, out / key / abi, exports, imports, code_bytes) for abi in abis}


def write_apk(libraries: dict[str, Path], apk: Path) -> None:
    """An APK-shaped zip: manifest placeholder plus lib/<abi>/ stored uncompressed and 16 KB
    aligned through a zipalign-style extra field (0xD935), as AGP packages them."""
    with zipfile.ZipFile(apk, "w") as archive:
        archive.writestr("AndroidManifest.xml", b"\x03\x00\x08\x00" + bytes(4))
        archive.writestr("classes.dex", b"dex\n035\x00")
        for abi, big in libraries.items():
            for lib in PACKAGED:
                info = zipfile.ZipInfo(f"lib/{abi}/{lib}", date_time=(2024, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_STORED
                data_at = archive.fp.tell() + 30 + len(info.filename) + 6  # type: ignore[union-attr]
                pad = -data_at % ALIGN
                info.extra = struct.pack("<HHH", 0xD935, 2 + pad, ALIGN) + bytes(pad)
                archive.writestr(info, (big.parent / lib).read_bytes())


# ------------------------------------------------------------------------------- the benchmark

PYELFTOOLS = """
import sys
from elftools.elf.elffile import ELFFile
for path in sys.argv[1:]:
    with open(path, "rb") as handle:
        dynsym = ELFFile(handle).get_section_by_name(".dynsym")
        rows = [(s.name, s["st_info"]["bind"], s["st_shndx"]) for s in dynsym.iter_symbols()]
"""
LIEF = """
import sys
import lief
for path in sys.argv[1:]:
    binary = lief.parse(path)  # kept alive: iterating a temporary's symbols crashes LIEF
    names = [symbol.name for symbol in binary.dynamic_symbols]
"""


@dataclass(frozen=True)
class Run:
    label: str
    seconds: float
    """Best wall time over the repeats."""
    peak_kb: int
    """Largest ``ru_maxrss`` over the repeats."""


GNU_TIME = "/usr/bin/time"


def _readelf() -> str:
    for candidate in ("llvm-readelf-19", "llvm-readelf"):
        if shutil.which(candidate):
            return candidate
    raise SystemExit("llvm-readelf-19 / llvm-readelf not found")


def _measure_together(commands: Sequence[tuple[str, Sequence[str], int]]) -> list[Run]:
    """Best wall time and peak RSS of each ``(label, command, repeat)``, each run ``repeat``
    times as a fresh process, the runs interleaved (one run of each command in turn):
    a machine that slows down for a while then slows all of them alike, so the ratios of their
    best times hold where consecutive blocks of runs would each meet a different machine.

    The RSS comes from GNU time: a child forked from this (large) interpreter would count the
    parent's pages in its ``ru_maxrss`` until it execs. GNU time's own start-up is in the
    wall time of every tool alike.
    """
    best = [float("inf")] * len(commands)
    peak = [0] * len(commands)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory(prefix="symaudit-bench-") as temp:
        rss = Path(temp) / "rss"
        for turn in range(max(repeat for _, _, repeat in commands)):
            for index, (label, command, repeat) in enumerate(commands):
                if turn >= repeat:
                    continue
                start = time.perf_counter()
                done = subprocess.run(
                    [GNU_TIME, "-f", "%M", "-o", str(rss), *command],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    env=env,
                    check=False,
                )
                best[index] = min(best[index], time.perf_counter() - start)
                if done.returncode != 0:
                    raise SystemExit(f"{label}: exit {done.returncode}\n{done.stderr.decode(errors='replace')}")
                peak[index] = max(peak[index], int(rss.read_text().split()[-1]))  # kilobytes
    return [Run(label, best[i], peak[i]) for i, (label, _, _) in enumerate(commands)]


def _check_report(apk: Path, command: Sequence[str]) -> None:
    """The timed command must really audit every library: run it once and read its report."""
    import json

    with tempfile.TemporaryDirectory(prefix="symaudit-bench-") as temp:
        report = Path(temp) / "report.json"
        done = subprocess.run(
            [*command[:-1], str(report)],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        if done.returncode != 0:
            raise SystemExit(f"symaudit apk {apk}: exit {done.returncode}\n{done.stderr}")
        data = json.loads(report.read_text())
    libraries = data["libraries"]
    errors = [f["message"] for f in data["findings"] if f["severity"] == "error"]
    if len(libraries) != len(ABIS) * len(PACKAGED) or any(lib["error"] for lib in libraries) or errors:
        raise SystemExit(f"unexpected report for {apk}: {len(libraries)} libraries, errors {errors[:3]}")


def _in_process(paths: list[Path], repeat: int) -> list[tuple[Path, float, int, int]]:
    sys.path.insert(0, str(ROOT))
    from symaudit.elf.reader import read_elf

    results = []
    for path in paths:
        data = path.read_bytes()
        best = float("inf")
        for _ in range(repeat):
            start = time.perf_counter()
            library = read_elf(data, path.name)
            best = min(best, time.perf_counter() - start)
        results.append((path, best, len(library.exports), len(library.imports)))
    return results


def bench(libraries: dict[str, Path], apk: Path, repeat: int) -> bool:
    """Print the comparison; True when both targets are met."""
    python = sys.executable
    bigs = [str(path) for path in libraries.values()]
    packaged = [path.parent / name for path in libraries.values() for name in PACKAGED]
    largest = max(path.stat().st_size for path in packaged)
    slow = max(1, repeat // 3)
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, {sys.platform}")
    print(
        f"APK {apk} ({apk.stat().st_size / 2**20:.1f} MiB): {len(packaged)} libraries; largest {largest / 2**20:.1f} MiB"
    )
    # --fail-on never: an exit status of 1 would otherwise hide a crash (Python exits 1 too).
    symaudit = [
        python,
        "-m",
        "symaudit.cli",
        "apk",
        str(apk),
        "--format",
        "json",
        "--fail-on",
        "never",
        "--output",
        os.devnull,
    ]
    # Time symaudit as installed: pip byte-compiles a wheel's modules at install time, so compile
    # them here too (this environment may set PYTHONDONTWRITEBYTECODE, which editable installs
    # would otherwise pay on every run).
    import compileall

    compileall.compile_dir(str(Path(__file__).resolve().parents[1] / "symaudit"), quiet=1)
    _check_report(apk, symaudit)
    idle, *runs = _measure_together(
        [
            ("python -c pass", [python, "-c", "pass"], repeat),
            ("llvm-readelf --dyn-syms", [_readelf(), "--dyn-syms", "--wide", *bigs], repeat),
            ("symaudit apk (json)", symaudit, repeat),
            ("LIEF parse + names", [python, "-c", LIEF, *bigs], slow),
            ("pyelftools iter_symbols", [python, "-c", PYELFTOOLS, *bigs], slow),
        ]
    )
    base = runs[0].seconds
    print(
        f"\n{'':26s} {'seconds':>8s} {'vs readelf':>10s} {'peak RSS':>10s} {'above idle':>11s} {'/ largest lib':>13s}"
    )
    for run in runs:
        # llvm-readelf has no interpreter to subtract: its whole RSS counts.
        above_kb = run.peak_kb if run is runs[0] else run.peak_kb - idle.peak_kb
        print(
            f"{run.label:26s} {run.seconds:8.3f} {run.seconds / base:9.2f}x {run.peak_kb / 1024:7.1f}MiB"
            f" {above_kb / 1024:8.1f}MiB {above_kb * 1024 / largest:12.2f}x"
        )
    print(f"{idle.label:26s} {idle.seconds:8.3f} {'':10s} {idle.peak_kb / 1024:7.1f}MiB")
    print("\nread_elf in-process, best of", repeat)
    for path, seconds, exports, imports in _in_process([Path(p) for p in bigs], repeat):
        print(f"  {path.parent.name:12s} {seconds * 1000:7.1f} ms  {exports} exports, {imports} imports")

    diff_ratio = _diff_bench(libraries, repeat)

    audit = runs[1]
    time_ratio = audit.seconds / base
    memory_ratio = (audit.peak_kb - idle.peak_kb) * 1024 / largest
    met = True
    for what, value, target in (
        ("time", time_ratio, TIME_TARGET),
        ("memory", memory_ratio, MEMORY_TARGET),
        ("diff", diff_ratio, DIFF_TARGET),
    ):
        verdict = "met" if value <= target else "MISSED"
        met &= value <= target
        print(f"target {what}: {value:.2f}x (at most {target}x) {verdict}")
    return met


PARSE_BOTH = """
import sys
from symaudit.elf.reader import read_elf
for path in sys.argv[1:]:
    library = read_elf(open(path, "rb").read(), path)
    len(library.exports.names), len(library.imports.names)
"""


def _diff_bench(libraries: dict[str, Path], repeat: int) -> float:
    """Time ``symaudit diff`` on two builds against parsing the same two files.

    The target is for two builds of one runtime: the arm64-v8a and x86_64 libbig.so (the same
    100,000 names). libbig.so against libbigdep.so (every name differs: 100,000 removals to
    demangle, group and write out) is printed for information, not held to the target.
    """
    python = sys.executable
    first, second = libraries.get("arm64-v8a"), libraries.get("x86_64")
    if first is None or second is None:
        print("\ndiff: needs the arm64-v8a and x86_64 builds; skipped")
        return 0.0
    print("\nsymaudit diff, best of", repeat)
    ratios: list[float] = []
    for label, a, b in (
        ("same names (two builds)", first, second),
        ("every name differs", first, first.parent / "libbigdep.so"),
    ):
        diff_command = [
            python, "-m", "symaudit.cli", "diff", str(a), str(b), "--format", "json", "--output", os.devnull,
        ]  # fmt: skip
        diff, parse = _measure_together(
            [
                (f"diff {label}", diff_command, repeat),
                (f"parse {label}", [python, "-c", PARSE_BOTH, str(a), str(b)], repeat),
            ]
        )
        ratio = diff.seconds / parse.seconds
        ratios.append(ratio)
        print(f"  {label:26s} diff {diff.seconds:6.3f} s, parse both {parse.seconds:6.3f} s: {ratio:.2f}x")
    return ratios[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path.home() / ".cache" / "symaudit-bench")
    parser.add_argument("--exports", type=int, default=100_000)
    parser.add_argument("--imports", type=int, default=3_000)
    parser.add_argument(
        "--code-bytes",
        type=int,
        default=CODE_BYTES,
        help="code bytes per exported function (default %(default)s: a 100k-symbol library of about 45 MB; "
        "0 gives a library that is nearly all symbol tables, the worst case for memory)",
    )
    parser.add_argument("--abi", action="append", choices=sorted(ABIS), help="default: all four")
    parser.add_argument("--repeat", type=int, default=5, help="runs per tool; the best counts (default 5)")
    parser.add_argument(
        "--build-only", action="store_true", help="build (or reuse) the libraries and APK, no timing"
    )
    args = parser.parse_args(argv)
    if not args.build_only and not os.access(GNU_TIME, os.X_OK):
        raise SystemExit(f"{GNU_TIME} (GNU time) is needed to measure peak memory: apt-get install time")
    out = args.out.expanduser()
    libraries = build_all(out, args.exports, args.imports, args.abi or list(ABIS), args.code_bytes)
    for abi, path in libraries.items():
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        print(f"{abi:12s} {path} {path.stat().st_size:>10d} bytes sha256:{digest}")
    apk = next(iter(libraries.values())).parent.parent / ("big-" + "-".join(libraries) + ".apk")
    if not apk.is_file():
        write_apk(libraries, apk.with_suffix(".part"))
        os.replace(apk.with_suffix(".part"), apk)
    if args.build_only:
        print(f"APK: {apk}")
        return 0
    return 0 if bench(libraries, apk, args.repeat) else 1


if __name__ == "__main__":
    raise SystemExit(main())
