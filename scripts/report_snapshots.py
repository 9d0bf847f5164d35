"""Write the JSON report of every fixture package, model and platform folder to a directory, or
check a directory of such reports against a fresh run.

Fixed options and no network beyond 127.0.0.1: the reference lookups are answered by a throwaway
HTTP server over ``fixtures/maven`` with an empty cache, the NDK is ``fixtures/platform/ndk`` for
the platform folders (none for the packages), and every NDK-locating variable is cleared.
Moves that keep behaviour keep these bytes::

    python scripts/report_snapshots.py write /tmp/before   # on the tree before a change
    python scripts/report_snapshots.py check /tmp/before   # after it: exit 1 naming each difference
    python scripts/report_snapshots.py check tests/data/report-snapshots

Reports are produced in this process by ``symaudit.cli.main``, run from the repository root with
relative paths, so no machine-specific path enters them.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import io
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NDK_VARIABLES = ("ANDROID_NDK_HOME", "ANDROID_NDK_ROOT", "ANDROID_NDK", "NDK_ROOT", "ANDROID_HOME",
                 "ANDROID_SDK_ROOT", "SYMAUDIT_REFERENCES", "SYMAUDIT_OFFLINE", "SYMAUDIT_MAVEN_REPOS",
                 "SYMAUDIT_DEBUG", "GITHUB_STEP_SUMMARY")


def runs(maven_url: str) -> list[tuple[str, list[str]]]:
    """(snapshot file name, command line) for every fixture input, in a fixed order."""
    result: list[tuple[str, list[str]]] = []
    packages = sorted((ROOT / "fixtures" / "packages").iterdir())
    for path in packages:
        rel = str(path.relative_to(ROOT))
        command = "libs" if path.is_dir() else ("aar" if path.suffix == ".aar" else "apk")
        result.append((f"{path.name}.no-refs.json", [command, rel, "--no-references"]))
        result.append((f"{path.name}.refs.json", [command, rel, "--maven-repo", maven_url]))
    for path in sorted((ROOT / "fixtures" / "platform" / "packages").iterdir()):
        rel = str(path.relative_to(ROOT))
        result.append((f"platform-{path.name}.json", ["apk", rel, "--no-references", "--min-sdk", "21"]))
    ndk = str((ROOT / "fixtures" / "platform" / "ndk").relative_to(ROOT))
    for path in sorted((ROOT / "fixtures" / "platform").iterdir()):
        if path.name in ("ndk", "packages") or not path.is_dir():
            continue
        rel = str(path.relative_to(ROOT))
        for sdk in ("21", "30"):
            result.append((f"platform-{path.name}.sdk{sdk}.json",
                           ["libs", rel, "--no-references", "--ndk", ndk, "--min-sdk", sdk]))
    models = sorted(p for p in (ROOT / "fixtures" / "models").iterdir() if p.suffix in (".pt", ".ptl"))
    runtimes = sorted((ROOT / "fixtures" / "model-runtimes").iterdir())
    for model in models:
        rel = str(model.relative_to(ROOT))
        result.append((f"model-{model.name}.json", ["model", rel]))
        for runtime in runtimes:
            result.append((f"model-{model.name}.{runtime.name}.json",
                           ["model", rel, "--runtime", str((runtime / "libpytorch_jni.so").relative_to(ROOT))]))
        wenet = "fixtures/packages/wenet-new-runtime.apk"
        result.append((f"apk-with-model-{model.name}.json", ["apk", wenet, "--no-references", "--model", rel]))
    return result


@contextlib.contextmanager
def maven_server() -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(ROOT / "fixtures" / "maven"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def produce(target: Path) -> list[str]:
    """Write every report into ``target``; the names written."""
    from symaudit.cli import main

    target.mkdir(parents=True, exist_ok=True)
    names = []
    saved = dict(os.environ)
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as scratch, maven_server() as url:
        for name in NDK_VARIABLES:
            os.environ.pop(name, None)
        os.environ.update(SYMAUDIT_CACHE=f"{scratch}/cache", HOME=f"{scratch}/home",
                          GRADLE_USER_HOME=f"{scratch}/gradle")
        os.chdir(ROOT)
        try:
            for name, args in runs(url):
                # A fresh cache per run: whether an earlier run downloaded a reference stays out of it.
                os.environ["SYMAUDIT_CACHE"] = f"{scratch}/cache-{name}"
                out = target / name
                out.unlink(missing_ok=True)
                try:
                    with contextlib.redirect_stderr(io.StringIO()) as errors:
                        main([*args, "--format", "json", "--output", str(out), "--fail-on", "never"])
                except SystemExit as exc:
                    if exc.code != 0:
                        raise RuntimeError(f"{name}: symaudit {' '.join(args)} exited {exc.code}: {errors.getvalue().strip()}") from None
                names.append(name)
        finally:
            os.chdir(cwd)
            os.environ.clear()
            os.environ.update(saved)
    return names


def compare(expected: Path) -> list[str]:
    """Differences between the reports in ``expected`` and a fresh run, one line each."""
    with tempfile.TemporaryDirectory() as fresh:
        names = produce(Path(fresh))
        problems = []
        for name in names:
            want = expected / name
            if not want.is_file():
                problems.append(f"{name}: not in {expected}")
            elif want.read_bytes() != (Path(fresh) / name).read_bytes():
                problems.append(f"{name}: differs from {want}")
        for extra in sorted(set(p.name for p in expected.glob("*.json")) - set(names)):
            problems.append(f"{extra}: in {expected} but no longer produced")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("write", "check"))
    parser.add_argument("directory", type=Path)
    args = parser.parse_args()
    directory = args.directory.resolve()
    sys.path.insert(0, str(ROOT))
    if args.mode == "write":
        names = produce(directory)
        print(f"{len(names)} reports written to {directory}")
        return 0
    problems = compare(directory)
    for line in problems:
        print(line)
    print(f"{'identical' if not problems else f'{len(problems)} differences'} ({directory})")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
