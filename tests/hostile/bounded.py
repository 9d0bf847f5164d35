"""Run ``symaudit`` on a hostile input in a subprocess and check the promises of README
"Security and limits": exit 0, 1 or 2; no signal, traceback or ``internal error``; at most 1 GiB
of memory; at most 60 s.

Memory is bounded with ``RLIMIT_DATA`` in the child and measured with ``wait4``'s ``ru_maxrss``.
``RLIMIT_DATA`` counts what a process allocates (heap, anonymous and private writable mappings),
so a run over the bound fails inside the run (``MemoryError``, then a traceback or ``internal
error`` the test sees) instead of after it. ``RLIMIT_AS`` would count address space the run does
not use: glibc reserves 64 MiB per thread arena, and a 100 MB library mapped read-only from the
package is page cache, not memory symaudit holds. ``pytest-memray`` measures the test process
only, not the child where the CLI runs.

The peak is the child's own ``VmHWM`` (resident pages, file pages it touched included), written
by an ``atexit`` hook as the CLI exits. ``wait4``'s ``ru_maxrss`` would not do: Linux carries the
forking parent's resident size over ``exec`` into it, so every run would report at least the
pytest process's size. It is the fallback when the hook could not run.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MEMORY_LIMIT = 1 << 30
TIME_LIMIT = 60.0


@dataclass(frozen=True)
class Outcome:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    peak_bytes: int
    seconds: float

    def describe(self) -> str:
        return (
            f"symaudit {' '.join(self.args)}: exit {self.returncode}, peak {self.peak_bytes >> 20} MiB, "
            f"{self.seconds:.1f} s\nstderr: {self.stderr[-2000:]}\nstdout: {self.stdout[:2000]}"
        )


def _limit_memory() -> None:  # runs in the child, before exec
    resource.setrlimit(resource.RLIMIT_DATA, (MEMORY_LIMIT, MEMORY_LIMIT))
    os.setsid()


_LAUNCHER = """
import atexit, os, runpy, sys

def _report_peak():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                with open(os.environ["SYMAUDIT_TEST_PEAK"], "w") as out:
                    out.write(line.split()[1])

atexit.register(_report_peak)
sys.argv = ["symaudit", *sys.argv[1:]]
runpy.run_module("symaudit.cli", run_name="__main__", alter_sys=True)
"""
"""``python -m symaudit.cli``, plus the hook that reports the run's own peak."""


def run_bounded(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> Outcome:
    """``python -m symaudit.cli ARGS`` under the memory limit, killed past the time limit."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("SYMAUDIT_DEBUG")}
    full["PYTHONPATH"] = str(ROOT)
    full.update(env or {})
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.TemporaryDirectory() as temp,
    ):
        peak_file = Path(temp) / "peak"
        full["SYMAUDIT_TEST_PEAK"] = str(peak_file)
        start = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, "-c", _LAUNCHER, *args],
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            env=full,
            cwd=cwd,
            preexec_fn=_limit_memory,  # noqa: PLW1509 - no threads started between fork and exec
        )
        killer = threading.Timer(TIME_LIMIT + 5, lambda: os.killpg(process.pid, 9))
        killer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            killer.cancel()
        seconds = time.monotonic() - start
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        try:
            peak = int(peak_file.read_text()) * 1024  # kB
        except (OSError, ValueError):
            peak = usage.ru_maxrss * 1024  # kilobytes on Linux; an over-estimate (see above)
        return Outcome(
            tuple(args),
            process.returncode,
            out.read().decode("utf-8", "replace"),
            err.read().decode("utf-8", "replace"),
            peak,
            seconds,
        )


def assert_held(outcome: Outcome, exits: Sequence[int] = (0, 1, 2)) -> Outcome:
    """The guarantees every hostile input must leave intact."""
    text = outcome.describe()
    assert outcome.returncode >= 0, f"killed by signal {-outcome.returncode}\n{text}"
    assert outcome.returncode in exits, text
    for output in (outcome.stdout, outcome.stderr):
        assert "Traceback" not in output, text
        assert "internal error" not in output, text
    assert outcome.peak_bytes <= MEMORY_LIMIT, text
    assert outcome.seconds <= TIME_LIMIT, text
    return outcome
