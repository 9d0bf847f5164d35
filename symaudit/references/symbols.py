"""Symbol names as people compare them: the qualified function name without its signature."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

from symaudit.demangle import demangle


def qualified_name(name: str) -> str:
    """``torch::jit::load`` for ``_ZN5torch3jit4loadERKNSt...`` (demangled, parameters and return
    type dropped); the name itself when it is not a mangled C++ name."""
    text = demangle(name)
    if text is None:
        return name
    return base_of(text)


_OPERATOR = re.compile(r"operator\s*(?:<=>|<<=|>>=|<<|>>|<=|>=|->\*?|<|>)")
_ANONYMOUS = "(anonymous namespace)"


def _balanced(text: str) -> bool:
    masked = _OPERATOR.sub("operator", text)
    return masked.count("<") == masked.count(">")


def base_of(demangled: str) -> str:
    """The part of a demangled name before its parameter list (the first ``(`` outside template
    arguments), without a template function's return type. str.find and counts, not a char
    loop: a diff of two runtimes calls this for every name that differs."""
    head = demangled
    start = 0
    while (i := demangled.find("(", start)) >= 0:
        if demangled.startswith(_ANONYMOUS, i):
            start = i + len(_ANONYMOUS)
            continue
        prefix = demangled[:i]
        if prefix.endswith("operator"):  # operator()
            start = i + 2
            continue
        if _balanced(prefix):
            head = prefix
            break
        start = i + 1
    head = head.strip()
    if " " not in head or head.startswith(("vtable for", "typeinfo", "VTT for", "construction vtable")):
        return head
    # "c10::IValue torch::f<int>": the name follows the last space outside template arguments.
    masked = _OPERATOR.sub(lambda m: "o" * len(m.group()), head)
    masked = masked.replace(_ANONYMOUS, "a" * len(_ANONYMOUS)).replace("operator ", "operator_")
    depth = 0
    last_space = -1
    for position, char in enumerate(masked):
        if char == "<":
            depth += 1
        elif char == ">":
            depth -= 1
        elif char == " " and depth == 0:
            last_space = position
    return head[last_space + 1 :] if last_space >= 0 else head


def _last_identifier(base: str) -> str:
    tail = base.rsplit("::", 1)[-1]
    return tail.split("<", 1)[0]


def same_function(symbol: str, candidates: Iterable[str]) -> list[str]:
    """Candidates with the same qualified name as ``symbol`` (another signature of the function).

    Only names containing the last identifier as an Itanium source name (``4load``) are
    demangled, so a runtime with tens of thousands of exports costs a substring scan.
    """
    base = qualified_name(symbol)
    if base == symbol:
        return []
    ident = _last_identifier(base)
    token = f"{len(ident)}{ident}"
    return sorted(c for c in candidates if c != symbol and token in c and qualified_name(c) == base)


def closest_name(symbol: str, candidates: Iterable[str], cutoff: float = 0.75) -> str | None:
    matches = difflib.get_close_matches(symbol, list(candidates), n=1, cutoff=cutoff)
    return matches[0] if matches else None
