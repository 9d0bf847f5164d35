"""The Gradle script plugin, run by a real Gradle on a test project.

No Android Gradle Plugin is available offline, so the project defines its own ``assembleRelease``
(a Copy of a prebuilt fixture APK into ``build/outputs/apk/release/``, where AGP puts it): the
plugin wires onto any task named ``assemble<Variant>``. Skipped without ``gradle`` on PATH, a
failure under ``SYMAUDIT_REQUIRE_ALL=1`` (CI installs Debian's gradle 4.4.1).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.required import skip_or_fail

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ROOT / "fixtures" / "packages"
PLUGIN = ROOT / "integrations" / "gradle" / "symaudit.gradle"
GRADLE = shutil.which("gradle")


@pytest.fixture(scope="module")
def gradle() -> str:
    if GRADLE is None:
        skip_or_fail("gradle is not installed")
    return GRADLE


@pytest.fixture(scope="module")
def gradle_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One GRADLE_USER_HOME for the module: project-local, so no ~/.gradle is read or written."""
    return tmp_path_factory.mktemp("gradle-home")


def project(root: Path, *, apk: str | None = None, aar: str | None = None, extra: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "settings.gradle").write_text("rootProject.name = 'app'\n")
    tasks = []
    if apk is not None:
        tasks.append(f"""
task assembleRelease(type: Copy) {{
    from '{(PACKAGES / apk).as_posix()}'
    into "$buildDir/outputs/apk/release"
    rename {{ 'app-release.apk' }}
}}
task assembleReleaseUnitTest {{}}
""")
    if aar is not None:
        tasks.append(f"""
task assembleDebug(type: Copy) {{
    from '{(PACKAGES / aar).as_posix()}'
    into "$buildDir/outputs/aar"
    rename {{ 'mylib-debug.aar' }}
}}
""")
    executable = ", ".join(f"'{part}'" for part in (Path(sys.executable).as_posix(), "-m", "symaudit.cli"))
    (root / "build.gradle").write_text(
        "".join(tasks)
        + f"""
apply from: '{PLUGIN.as_posix()}'
symaudit {{
    executable = [{executable}]
{extra}
}}
"""
    )
    return root


def run_gradle(gradle: str, home: Path, root: Path, *tasks: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GRADLE_USER_HOME": str(home)}
    env.pop("SYMAUDIT_DEBUG", None)
    return subprocess.run(
        [gradle, "--offline", "--no-daemon", "-q", "-p", str(root), *tasks],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_clean_apk_passes_and_the_second_run_is_up_to_date(
    gradle: str, gradle_home: Path, tmp_path: Path
) -> None:
    root = project(tmp_path / "clean", apk="clean.apk")
    result = run_gradle(gradle, gradle_home, root, "symauditRelease")
    assert result.returncode == 0, result.stdout + result.stderr
    reports = root / "build" / "reports" / "symaudit" / "release"
    assert str(reports / "app-release.txt") in result.stdout  # the report path is printed
    assert (reports / "app-release.txt").read_text().rstrip().splitlines()[-1].startswith("OK:")
    assert (reports / "app-release.json").is_file() and (reports / "app-release.sarif").is_file()
    # Inputs and outputs are declared: nothing changed, so Gradle does not run symaudit again.
    again = run_gradle(gradle, gradle_home, root, "symauditRelease")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "app-release.txt" not in again.stdout


def test_wenet_like_apk_fails_the_build_naming_the_report(
    gradle: str, gradle_home: Path, tmp_path: Path
) -> None:
    root = project(tmp_path / "wenet", apk="wenet-new-runtime.apk")
    result = run_gradle(gradle, gradle_home, root, "symauditRelease")
    assert result.returncode != 0
    report = root / "build" / "reports" / "symaudit" / "release" / "app-release.txt"
    assert "native libraries will fail to load" in result.stderr
    assert str(report) in result.stderr
    assert "FAIL: libwenet.so cannot load on any device" in result.stdout
    assert "libwenet.so" in report.read_text()


def test_run_after_assemble_and_failing_only_on_warnings(
    gradle: str, gradle_home: Path, tmp_path: Path
) -> None:
    # assembleRelease alone runs the audit when runAfterAssemble is set; failOn never lets it pass.
    root = project(
        tmp_path / "finalized",
        apk="wenet-new-runtime.apk",
        extra="    runAfterAssemble = true\n    failOn = 'never'\n",
    )
    result = run_gradle(gradle, gradle_home, root, "assembleRelease")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAIL: libwenet.so cannot load on any device" in result.stdout


def test_library_module_aar_and_test_variants_are_skipped(
    gradle: str, gradle_home: Path, tmp_path: Path
) -> None:
    root = project(tmp_path / "library", apk="clean.apk", aar="pytorch_android-new.aar")
    result = run_gradle(gradle, gradle_home, root, "tasks", "--all", "symauditDebug")
    assert "symauditRelease" in result.stdout and "symauditDebug" in result.stdout, result.stderr
    assert "symauditReleaseUnitTest" not in result.stdout
    assert (root / "build" / "reports" / "symaudit" / "debug" / "mylib-debug.json").is_file(), result.stderr


def test_a_missing_executable_fails_with_a_hint(gradle: str, gradle_home: Path, tmp_path: Path) -> None:
    root = project(tmp_path / "noexe", apk="clean.apk")
    build = root / "build.gradle"
    build.write_text(
        build.read_text().replace(
            f"'{Path(sys.executable).as_posix()}', '-m', 'symaudit.cli'", "'/nonexistent/symaudit'"
        )
    )
    result = run_gradle(gradle, gradle_home, root, "symauditRelease")
    assert result.returncode != 0
    assert "set symaudit.executable" in result.stderr


def test_fail_on_from_symaudit_toml_is_honoured_when_the_build_does_not_set_it(
    gradle: str, gradle_home: Path, tmp_path: Path
) -> None:
    root = project(tmp_path / "configured", apk="wenet-new-runtime.apk")
    (root / "symaudit.toml").write_text('fail-on = "never"\n')
    result = run_gradle(gradle, gradle_home, root, "symauditRelease")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAIL: libwenet.so cannot load on any device" in result.stdout  # still reported, just not failing the build
