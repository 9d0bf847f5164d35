"""examples/github-actions.yml, run here: its install step installs the checkout (symaudit is not
on PyPI), and its shell steps' commands run against a fixture, with GitHub's files and a fake
GitHub API on 127.0.0.1 standing in for the runner."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from pytest_httpserver import HTTPServer

from tests.fake_github import FakeGitHub

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "github-actions.yml"
WENET = ROOT / "fixtures" / "packages" / "wenet-new-runtime.apk"
TOKEN = "ghs_FAKE0token0for0example0tests0"


def _steps() -> list[dict[str, Any]]:
    workflow = yaml.safe_load(EXAMPLE.read_text())
    (job,) = workflow["jobs"].values()
    steps: list[dict[str, Any]] = job["steps"]
    return steps


def _step(name: str) -> dict[str, Any]:
    return next(step for step in _steps() if step.get("name") == name)


def _expand(script: str, values: dict[str, str]) -> str:
    """Substitute the ``${{ ... }}`` expressions the runner would, from ``values``."""

    def value(match: re.Match[str]) -> str:
        return values[match.group(1).strip()]

    return re.sub(r"\$\{\{(.*?)\}\}", value, script)


def test_the_example_installs_symaudit_from_its_own_checkout_not_from_pypi() -> None:
    text = EXAMPLE.read_text()
    assert not re.search(r"pip install\s+symaudit\b", text), "symaudit is not on PyPI"
    checkout = _step("Check out symaudit")
    assert checkout["uses"].startswith("actions/checkout@")
    path = checkout["with"]["path"]
    install = _step("Install symaudit")["run"].strip()
    assert shlex.split(install) == ["python", "-m", "pip", "install", f"./{path}"]
    # What that checkout holds is this project: a pip-installable tree named symaudit that
    # provides the `symaudit` command the later steps call.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["name"] == "symaudit" and "symaudit" in project["scripts"]
    steps = [step.get("name") for step in _steps()]
    assert steps.index("Check out symaudit") < steps.index("Install symaudit") < steps.index("Audit the APK")


def _bash(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-e", "-c", script], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)  # fmt: skip


def test_the_example_audit_comment_and_verdict_steps_run(tmp_path: Path, httpserver: HTTPServer) -> None:
    if shutil.which("bash") is None:  # pragma: no cover - every supported runner has bash
        pytest.fail("bash is needed to run the example's shell steps")
    github = FakeGitHub(httpserver, TOKEN).install()
    release = tmp_path / "app" / "build" / "outputs" / "apk" / "release"
    release.mkdir(parents=True)
    shutil.copy(WENET, release / "app-release.apk")
    outputs, summary, event = tmp_path / "github_output", tmp_path / "summary.md", tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": github.pr}}))
    bin_dir = tmp_path / "bin"  # `symaudit` on PATH, as the install step leaves it
    bin_dir.mkdir()
    (bin_dir / "symaudit").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m symaudit.cli "$@"\n')
    (bin_dir / "symaudit").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_") and k != "SYMAUDIT_DEBUG"}
    env.update(
        PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        PYTHONPATH=str(ROOT),
        GITHUB_OUTPUT=str(outputs),
        GITHUB_STEP_SUMMARY=str(summary),
        GITHUB_EVENT_PATH=str(event),
        GITHUB_REPOSITORY=github.repo,
        GITHUB_API_URL=github.api_url,
        SYMAUDIT_OFFLINE="1",
    )

    audit = _bash(_step("Audit the APK")["run"], tmp_path, env)
    assert audit.returncode == 0, audit.stderr  # `set +e`: the exit code goes to the step output
    assert "exit-code=1" in outputs.read_text().splitlines()
    assert json.loads((tmp_path / "symaudit.json").read_text())["schema"] == "symaudit.report/1"
    assert json.loads((tmp_path / "symaudit.sarif").read_text())["version"] == "2.1.0"
    errors = [line for line in audit.stdout.splitlines() if line.startswith("::error ")]
    assert len(errors) == 1 and "torch%3A%3Ajit%3A%3Aload" in errors[0]
    assert summary.read_text().startswith("### :x: symaudit")

    comment = _step("Comment on the pull request")
    env["GITHUB_TOKEN"] = TOKEN  # what `env: GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}` provides
    posted = _bash(comment["run"], tmp_path, env)
    assert posted.returncode == 0, posted.stderr
    assert len(github.comments) == 1 and "cannot load on any device" in github.comments[0]["body"]
    assert TOKEN not in posted.stdout + posted.stderr

    verdict = _step("Fail when a library will not load")
    script = _expand(verdict["run"], {"steps.audit.outputs.exit-code": "1"})
    failed = _bash(script, tmp_path, env)
    assert failed.returncode == 1 and "symaudit exited 1" in failed.stdout
