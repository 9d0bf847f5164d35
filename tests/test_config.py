"""symaudit.toml / [tool.symaudit]: found upward, keys applied, command line wins, unknown keys refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from symaudit.config import Settings, apply_severity, discover, load, settings_for
from symaudit.errors import InputError
from symaudit.findings import Finding, Severity
from tests.symaudit_cli import run

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ROOT / "fixtures" / "packages"
WENET = str(PACKAGES / "wenet-new-runtime.apk")


def test_discovery_walks_up_and_skips_pyprojects_without_the_table(tmp_path: Path) -> None:
    deep = tmp_path / "app" / "src" / "main"
    deep.mkdir(parents=True)
    (tmp_path / "app" / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert discover(deep) is None
    (tmp_path / "pyproject.toml").write_text('[tool.symaudit]\nfail-on = "warning"\n')
    assert discover(deep) == tmp_path / "pyproject.toml"
    (tmp_path / "app" / "symaudit.toml").write_text('fail-on = "never"\n')
    assert discover(deep) == tmp_path / "app" / "symaudit.toml"
    assert settings_for(None, deep).fail_on == "never"
    assert settings_for(str(tmp_path / "pyproject.toml"), deep).fail_on == "warning"


def test_every_key_is_read(tmp_path: Path) -> None:
    (tmp_path / "symaudit.toml").write_text(
        'fail-on = "warning"\nignore = ["abi-incomplete:libwenet.so"]\nmin-sdk = 24\nndk = "ndk/r26b"\n'
        'maven-repos = ["https://maven.example/releases"]\n[severity]\nabi-incomplete = "error"\n'
        'missing-library = "off"\n'
    )
    settings = load(tmp_path / "symaudit.toml")
    assert settings == Settings(
        source=str(tmp_path / "symaudit.toml"),
        fail_on="warning",
        ignore=("abi-incomplete:libwenet.so",),
        severity=(("abi-incomplete", "error"), ("missing-library", "off")),
        maven_repos=("https://maven.example/releases",),
        min_sdk=24,
        ndk=str(tmp_path / "ndk" / "r26b"),  # relative to the file, not the working directory
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('fail_on = "error"\n', "unknown key 'fail_on'"),
        ('fail-on = "sometimes"\n', "fail-on must be one of"),
        ('ignore = "x"\n', "ignore must be a list of strings"),
        ('ignore = ["no-such-rule"]\n', "unknown rule 'no-such-rule'"),
        ('min-sdk = "21"\n', "min-sdk must be an API level"),
        ('[severity]\nno-such-rule = "error"\n', "severity: unknown rule 'no-such-rule'"),
        ('[severity]\nmissing-library = "fatal"\n', "severity.missing-library must be one of"),
        ("fail-on = \n", "invalid TOML"),
    ],
)
def test_bad_settings_name_the_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "symaudit.toml").write_text(text)
    with pytest.raises(InputError, match=message) as info:
        load(tmp_path / "symaudit.toml")
    assert str(tmp_path / "symaudit.toml") in str(info.value)


def test_pyproject_table_errors_say_where(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.symaudit]\ncolour = true\n")
    with pytest.raises(InputError, match=r"pyproject.toml \[tool.symaudit\]: unknown key 'colour'"):
        load(tmp_path / "pyproject.toml")


def test_severity_overrides_are_a_pure_function() -> None:
    findings = (
        Finding("unresolved-symbol", Severity.ERROR, "x86", "a.so", "m", "h", symbol="f"),
        Finding("abi-incomplete", Severity.WARNING, "x86", "b.so", "m", "h"),
        Finding("missing-library", Severity.ERROR, "x86", "c.so", "m", "h", needed="d.so"),
    )
    result = apply_severity(
        findings, (("unresolved-symbol", "info"), ("abi-incomplete", "error"), ("missing-library", "off"))
    )
    assert [(f.rule, f.severity) for f in result] == [
        ("abi-incomplete", Severity.ERROR),
        ("unresolved-symbol", Severity.INFO),
    ]
    assert apply_severity(findings, ()) == findings


def test_unknown_key_exits_2_naming_it(tmp_path: Path) -> None:
    (tmp_path / "symaudit.toml").write_text('fail-on = "error"\nfial-on = "warning"\n')
    result = run("apk", WENET, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"symaudit: error: {tmp_path / 'symaudit.toml'}: unknown key 'fial-on' "
        "(known: fail-on, ignore, severity, maven-repos, min-sdk, ndk, network-budget)"
    ]


def test_config_keys_change_the_verdict_and_the_command_line_wins(tmp_path: Path) -> None:
    # Downgrading the rule makes the wenet APK pass ...
    (tmp_path / "symaudit.toml").write_text('[severity]\nunresolved-symbol = "warning"\n')
    result = run("apk", WENET, "--format", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert {
        f["severity"] for f in json.loads(result.stdout)["findings"] if f["rule"] == "unresolved-symbol"
    } == {"warning"}
    # ... unless the file also fails on warnings, which --fail-on on the command line overrides.
    (tmp_path / "symaudit.toml").write_text(
        'fail-on = "warning"\n[severity]\nunresolved-symbol = "warning"\n'
    )
    assert run("apk", WENET, cwd=tmp_path).returncode == 1
    assert run("apk", WENET, "--fail-on", "error", cwd=tmp_path).returncode == 0
    # ignore patterns from the file and from --ignore add up.
    (tmp_path / "symaudit.toml").write_text('ignore = ["unresolved-symbol:libwenet.so"]\n')
    result = run("apk", WENET, "--format", "json", cwd=tmp_path)
    assert result.returncode == 0
    assert not [f for f in json.loads(result.stdout)["findings"] if f["rule"] == "unresolved-symbol"]


def test_the_manifest_min_sdk_wins_over_the_config_and_min_sdk_wins_over_both(tmp_path: Path) -> None:
    # README: the config's min-sdk applies "when the manifest does not say"; --min-sdk always wins.
    (tmp_path / "pyproject.toml").write_text("[tool.symaudit]\nmin-sdk = 30\n")
    app = json.loads(run("apk", str(PACKAGES / "clean.apk"), "--format", "json", cwd=tmp_path).stdout)["app"]
    assert (app["min_sdk"], app["min_sdk_source"]) == (21, "AndroidManifest.xml")
    folder = str(PACKAGES / "clean-folder")
    app = json.loads(run("libs", folder, "--format", "json", cwd=tmp_path).stdout)["app"]
    assert (app["min_sdk"], app["min_sdk_source"]) == (30, "config min-sdk")
    for path, command in ((str(PACKAGES / "clean.apk"), "apk"), (folder, "libs")):
        result = run(command, path, "--format", "json", "--min-sdk", "26", cwd=tmp_path)
        app = json.loads(result.stdout)["app"]
        assert (app["min_sdk"], app["min_sdk_source"]) == (26, "--min-sdk")


def test_explicit_config_must_exist(tmp_path: Path) -> None:
    result = run("apk", WENET, "--config", "nope.toml", cwd=tmp_path)
    assert result.returncode == 2 and "nope.toml: config file not found" in result.stderr
