"""Making untrusted text inert, one function per sink.

Names that reach a report come from the artifact under audit (ELF strings, zip member names,
manifests, models): an attacker who ships a library chooses them. Each sink gets the escaping its
reader needs, applied where the text is written, never earlier:

- ``terminal``: no control character reaches a terminal (ANSI escapes, CR/LF that would forge a
  line, bidi overrides that reorder what is shown); each is shown as a visible ``\\xNN``/``\\uNNNN``.
- ``workflow_data`` / ``workflow_property``: GitHub Actions workflow commands
  (REFERENCE.md 9.2; actions/runner's ``ActionCommand`` unescapes exactly these). A command only
  starts at the beginning of a line, so once CR and LF are escaped a ``::`` inside a message is
  inert; in a property value ``:`` and ``,`` are escaped as well.
- ``md_code`` / ``md_text``: the pull-request comment. Untrusted names go into code spans, where
  GitHub renders no HTML, no link and no mention; plain text is backslash-escaped and has its
  mention and autolink triggers broken with a word joiner.

JSON and SARIF are structured (``json.dumps`` escapes what their readers need).
"""

from __future__ import annotations

import re
import unicodedata

_WORD_JOINER = "\u2060"
_CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def _visible(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def terminal(text: str) -> str:
    """``text`` with every control, format or unassigned character shown as an escape sequence."""
    if text.isprintable() and "\\x" not in text:
        return text
    return "".join(
        _visible(char) if unicodedata.category(char) in _CONTROL_CATEGORIES else char for char in text
    )


def workflow_data(text: str) -> str:
    """The message of a ``::error ...::message`` command (what follows the second ``::``)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def workflow_property(text: str) -> str:
    """A property value (``title=...``) of a workflow command."""
    return workflow_data(text).replace(":", "%3A").replace(",", "%2C")


def _one_line(text: str) -> str:
    return terminal(text.replace("\r\n", " ").replace("\r", " ").replace("\n", " "))


def md_code(text: str, *, table: bool = False) -> str:
    """A Markdown code span holding ``text`` literally: no HTML, link or mention is rendered in it.

    Inside a table GitHub needs ``\\|`` even in code; outside one the backslash would show.
    """
    text = _one_line(text)
    if table:
        text = text.replace("|", "\\|")
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


_MARKUP = frozenset("\\`*_<>[]()|~&#!")
_AUTOLINK = re.compile(r"(?i)(://|www\.)")


def md_text(text: str) -> str:
    """Plain Markdown text (a hint, a message) that GitHub shows as written: no HTML, emphasis,
    link, autolink or @mention; safe in a table cell."""
    text = _AUTOLINK.sub(lambda m: m.group(1)[0] + _WORD_JOINER + m.group(1)[1:], _one_line(text))
    escaped = "".join(f"\\{char}" if char in _MARKUP else char for char in text)
    return escaped.replace("@", "@" + _WORD_JOINER)
