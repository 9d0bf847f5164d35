"""Every report format ``--format`` offers, by name: the one registry of them.

A format is a module with ``render(report) -> str``; adding one is that module and one entry here.
"""

from __future__ import annotations

from collections.abc import Callable

from symaudit.report import github, json, markdown, sarif, text
from symaudit.results import Report

Render = Callable[[Report], str]

FORMATS: dict[str, Render] = {
    "text": text.render,
    "json": json.render,
    "sarif": sarif.render,
    "markdown": markdown.render,
    "github": github.render,
}
