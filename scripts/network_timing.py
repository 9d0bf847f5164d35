"""Time ``symaudit apk`` on the demo APK against repositories that misbehave, and offline.

Each scenario runs the CLI in a fresh process with an empty symaudit cache and Gradle home, so
every run has to ask the repository, and prints the wall time next to that of the same audit
with ``--no-references`` (the price of the network is the difference):

* ``refused``: a repository on 127.0.0.1 whose port is closed (connection refused at once);
* ``blackhole``: a port whose accept queue is full, so the kernel drops every new SYN, as a
  firewall that drops packets does (the connect timeout is all that ends it);
* ``hang``: a server that accepts the connection, reads the request and never answers;
* ``trickle``: a server that answers 200 and then sends one byte of body per second, for ever;
* ``headers``: a server that sends its status line and headers one byte per second;
* ``offline``: the default repository (Maven Central) from a network namespace without any
  interface but loopback (``unshare -rn``: a machine with no network), when unshare works.

``--cap`` stops a run that takes longer (reported as ``> cap``); ``--code`` runs another
checkout's symaudit (for a before/after comparison). Servers are raw sockets on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APK = ROOT / "fixtures" / "packages" / "wenet-new-runtime.apk"


def _serve(handler: Callable[[socket.socket], None]) -> tuple[str, threading.Event]:
    stop = threading.Event()
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)

    def loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=_guard, args=(handler, conn), daemon=True).start()
        listener.close()

    threading.Thread(target=loop, daemon=True).start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}", stop


def _guard(handler: Callable[[socket.socket], None], conn: socket.socket) -> None:
    try:
        with conn:
            conn.recv(65536)
            handler(conn)
    except OSError:
        pass


def _hang(conn: socket.socket) -> None:
    time.sleep(3600)


def _trickle(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n")
    while True:
        conn.sendall(b"x")
        time.sleep(1.0)


def _trickle_headers(conn: socket.socket) -> None:
    for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"y" * 100000:
        conn.sendall(bytes([byte]))
        time.sleep(1.0)


def _blackhole() -> tuple[str, list[socket.socket]]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    filler = socket.create_connection(listener.getsockname())  # fills the queue: later SYNs drop
    return f"http://127.0.0.1:{listener.getsockname()[1]}", [listener, filler]


def _closed_port() -> str:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _run(code: Path, args: list[str], cap: float, prefix: list[str]) -> str:
    home = Path(tempfile.mkdtemp(prefix="symaudit-timing-"))
    env = {**os.environ, "PYTHONPATH": str(code), "HOME": str(home)}
    env.update(SYMAUDIT_CACHE=str(home / "cache"), GRADLE_USER_HOME=str(home / "gradle"))
    for name in (
        "SYMAUDIT_OFFLINE",
        "SYMAUDIT_MAVEN_REPOS",
        "SYMAUDIT_REFERENCES",
        "SYMAUDIT_NETWORK_BUDGET",
    ):
        env.pop(name, None)
    command = [*prefix, sys.executable, "-m", "symaudit.cli", "apk", str(APK), "--format", "json", *args]
    start = time.monotonic()
    try:
        result = subprocess.run(command, cwd=code, env=env, capture_output=True, text=True, timeout=cap)
        outcome = f"exit {result.returncode}"
        if result.returncode not in (0, 1):
            outcome += f" ({result.stderr.strip().splitlines()[-1][:100] if result.stderr.strip() else ''})"
        elif "references-unavailable" in result.stdout:
            outcome += ", references-unavailable"
    except subprocess.TimeoutExpired:
        return f"> {cap:.0f} s (stopped)"
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return f"{time.monotonic() - start:6.2f} s  {outcome}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "scenarios", nargs="*", default=["refused", "blackhole", "offline", "hang", "trickle", "headers"]
    )
    parser.add_argument("--cap", type=float, default=300.0, help="stop a run after this many seconds")
    parser.add_argument("--code", type=Path, default=ROOT, help="checkout whose symaudit to run")
    options, extra = parser.parse_known_args()  # anything else goes to symaudit (--network-budget 5)
    print(f"{'no references':>14}: {_run(options.code, ['--no-references', *extra], options.cap, [])}")
    servers = {"hang": _hang, "trickle": _trickle, "headers": _trickle_headers}
    for scenario in options.scenarios:
        prefix: list[str] = []
        if scenario == "offline":
            if shutil.which("unshare") is None or subprocess.run(["unshare", "-rn", "true"]).returncode:
                print(f"{scenario:>14}: skipped (unshare -rn does not work here)")
                continue
            prefix, args = ["unshare", "-rn"], []
        elif scenario == "refused":
            args = ["--maven-repo", _closed_port()]
        elif scenario == "blackhole":
            url, keep = _blackhole()
            args = ["--maven-repo", url]
        else:
            url, stop = _serve(servers[scenario])
            args = ["--maven-repo", url]
        print(f"{scenario:>14}: {_run(options.code, [*args, *extra], options.cap, prefix)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
