"""action.yml's audit step: every input reaches symaudit as the arguments it names, whatever
spaces, quotes or shell syntax it holds (the step's script is run with bash against a stand-in
``symaudit`` that records its arguments)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.required import need_tools

ROOT = Path(__file__).resolve().parents[2]


def _audit_script() -> str:
    """The ``run: |`` block of the step with ``id: audit`` (a literal block: its lines are the
    ones indented deeper than ``run:``), without a YAML dependency."""
    lines = (ROOT / "action.yml").read_text().splitlines()
    start = lines.index("      id: audit")
    run = next(i for i in range(start, len(lines)) if lines[i].strip() == "run: |")
    indent = len(lines[run]) - len(lines[run].lstrip())
    body = []
    for line in lines[run + 1 :]:
        if line.strip() and len(line) - len(line.lstrip()) <= indent:
            break
        body.append(line)
    return textwrap.dedent("\n".join(body))


def _run_step(tmp_path: Path, path: str, args: str, sarif: str = "out dir/report.sarif") -> list[str]:
    need_tools("bash")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    recorded = tmp_path / "argv.json"
    stub = bin_dir / "symaudit"
    stub.write_text(
        f"#!{sys.executable}\nimport json, sys\n"
        f"open({str(recorded)!r}, 'w').write(json.dumps(sys.argv[1:]))\n"
    )
    stub.chmod(0o755)
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "RUNNER_TEMP": str(tmp_path / "runner temp"),
        "GITHUB_OUTPUT": str(tmp_path / "github_output"),
        "INPUT_PATH": path,
        "INPUT_COMMAND": "apk",
        "INPUT_ARGS": args,
        "INPUT_SARIF": sarif,
    }
    done = subprocess.run(
        [shutil.which("bash") or "bash", "-e", "-c", _audit_script()],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "exit-code=0" in (tmp_path / "github_output").read_text()
    argv: list[str] = json.loads(recorded.read_text())
    return argv


def test_a_path_with_spaces_and_quoted_arguments_stay_whole(tmp_path: Path) -> None:
    apks = tmp_path / "my app" / "build outputs"
    apks.mkdir(parents=True)
    (apks / "app release.apk").write_bytes(b"PK")
    argv = _run_step(
        tmp_path, "my app/build outputs/*.apk", '--fail-on warning --ignore "abi-incomplete:lib x.so"'
    )
    report = str(tmp_path / "runner temp" / "symaudit.json")
    assert argv == [
        "apk",
        "my app/build outputs/app release.apk",
        "--format",
        "json",
        "--output",
        report,
        "--format",
        "github",
        "--format",
        "sarif",
        "--output",
        "out dir/report.sarif",
        "--fail-on",
        "warning",
        "--ignore",
        "abi-incomplete:lib x.so",
    ]


@pytest.mark.parametrize("args", ["$(touch pwned)", "`touch pwned`; touch pwned", "x > pwned"])
def test_shell_syntax_in_args_is_passed_along_never_run(tmp_path: Path, args: str) -> None:
    (tmp_path / "app.apk").write_bytes(b"PK")
    argv = _run_step(tmp_path, "app.apk", args, sarif="")
    assert not (tmp_path / "pwned").exists()
    assert argv[:2] == ["apk", "app.apk"] and "pwned" in " ".join(argv)
