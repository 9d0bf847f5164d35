"""Untrusted names reach no sink unescaped (issue 13, item 3).

A real APK (the wenet fixture's arm64-v8a libraries) is edited so that names the audit reports carry
attacks: a zip member named with an ANSI escape, a newline and ``::add-mask::``; DT_NEEDED entries
that are HTML, a Markdown link and an @mention; an imported symbol with a terminal-clearing escape,
CR/LF and forged workflow commands. Each sink is checked through the CLI: the terminal (text report
and the verdict on standard error), GitHub workflow commands, and the pull-request comment.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest

from symaudit.report import escape
from tests.symaudit_cli import run

ROOT = Path(__file__).resolve().parents[2]
WENET = ROOT / "fixtures" / "packages" / "wenet-new-runtime.apk"
IMPORT = b"_ZNSt6__ndk112basic_stringIcNS_11char_traitsIcEENS_9allocatorIcEEE6appendEPKcm"
SYMBOL = b"_Z\x1b[2J\x1b]0;pwn\x07\r\n::add-mask::hunter2\n::error::x <img src=x> @octo/t https://e.x"
MEMBER = "lib/arm64-v8a/lib\x1b[31m\n::add-mask::s.so"
HTML, LINK = b"<img src=x>", b"@team [a](http:x)"  # as long as libfbjni.so / libpytorch_jni.so


@pytest.fixture(scope="module")
def evil_apk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("evil") / "evil.apk"
    hostile = SYMBOL.ljust(len(IMPORT), b"A")
    assert (
        len(hostile) == len(IMPORT)
        and len(HTML) == len(b"libfbjni.so")
        and len(LINK) == len(b"libpytorch_jni.so")
    )
    with zipfile.ZipFile(WENET) as source, zipfile.ZipFile(path, "w") as out:
        for info in source.infolist():
            if info.filename.startswith("lib/") and not info.filename.startswith("lib/arm64-v8a/"):
                continue
            data = source.read(info)
            if info.filename.endswith("/libwenet.so"):  # DT_NEEDED strings, same length, in .dynstr
                data = data.replace(b"libfbjni.so\0", HTML + b"\0").replace(
                    b"libpytorch_jni.so\0", LINK + b"\0"
                )
            if info.filename.endswith("/libfbjni.so"):  # an import nobody provides any more
                assert data.count(IMPORT + b"\0") == 1
                data = data.replace(IMPORT + b"\0", hostile + b"\0")
            out.writestr(info.filename, data)
        out.writestr(MEMBER, b"not an ELF file")
    return path


def _no_forged_line(text: str) -> None:
    for line in text.splitlines():
        assert not line.startswith("::") or re.match(r"::(error|warning|notice) title=", line), line
        assert "\x1b" not in line and "\x07" not in line and "\r" not in line


def test_terminal_text_and_the_verdict_on_stderr_show_control_characters(
    evil_apk: Path, tmp_path: Path
) -> None:
    result = run("apk", "--offline", str(evil_apk), "--output", str(tmp_path / "r.txt"))
    assert result.returncode == 1
    text = (tmp_path / "r.txt").read_text()
    for output in (text, result.stderr):
        _no_forged_line(output)
        assert "::add-mask::" not in "\n".join(line[:2] for line in output.splitlines())
    assert "lib\\x1b[31m\\x0a::add-mask::s.so" in text  # shown, visibly, where it was
    assert "\\x1b[2J\\x1b]0;pwn\\x07\\x0d\\x0a::add-mask::hunter2" in text
    # The verdict names the broken member on stderr, escaped the same way.
    assert "FAIL:" in result.stderr and "\n::" not in result.stderr


def test_workflow_commands_cannot_be_forged(evil_apk: Path) -> None:
    result = run("apk", "--offline", str(evil_apk), "--format", "github")
    assert result.returncode == 1
    _no_forged_line(result.stdout)
    commands = [line for line in result.stdout.splitlines() if line.startswith("::")]
    assert commands and all(not line.startswith("::add-mask") for line in commands)
    # The hostile symbol's CR/LF are shown as \x0d\x0a (terminal escape) in the message data; a
    # title's ':' and ',' are %-escaped: no property can be closed early by a name.
    errors = "\n".join(commands)
    assert "::add-mask::hunter2" in errors  # present, but inert: mid-line, never at a line start
    for line in commands:
        title = line.split("::", 2)[1]
        assert "::" not in title.partition(" title=")[2]


def _outside_code(markdown: str) -> str:
    return re.sub(r"(`+)(?:(?!\1).)*?\1", "", markdown)


def test_pull_request_comment_renders_no_html_link_or_mention(evil_apk: Path, tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    assert run("apk", "--offline", str(evil_apk), "--format", "json", "-o", str(report)).returncode == 1
    result = run("comment", str(report), "--dry-run", "--repo", "octo/app", "--pr", "7")
    assert result.returncode == 0, result.stderr
    body = result.stdout.split("with this body:\n", 1)[1]
    _no_forged_line(body)
    plain = _outside_code(body)
    # Outside code spans, markup characters are backslash-escaped and mentions and autolinks are
    # broken by a word joiner: nothing becomes a tag, a link or a mention.
    for attack in (r"(?<!\\)<img", r"(?<!\\)\]\(", "@team", "@octo", "https://e", "\x1b"):
        assert not re.search(attack, plain), attack
    # The names are there, as code.
    assert "`<img src=x>`" in body and "`@team [a](http:x)`" in body


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a\x1b[31mb", "a\\x1b[31mb"),
        ("x\ny\r", "x\\x0ay\\x0d"),
        ("rtl\u202eevil", "rtl\\u202eevil"),
        ("std::vector<int>", "std::vector<int>"),
    ],
)
def test_terminal_escape(text: str, expected: str) -> None:
    assert escape.terminal(text) == expected


def test_markdown_text_breaks_mentions_and_autolinks_and_html() -> None:
    text = escape.md_text("ping @team at https://evil.example or www.evil.example <b>[x](y)</b>")
    assert "@team" not in text and "https://" not in text and "www.evil" not in text
    assert "<b>" not in text and "](" not in text


def test_workflow_escapes_follow_the_runner() -> None:
    assert escape.workflow_data("100%\r\n") == "100%25%0D%0A"
    assert escape.workflow_property("a:b,c%") == "a%3Ab%2Cc%25"
