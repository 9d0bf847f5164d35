"""Itanium C++ demangling for display.

LIEF's demangler only exists in its "extended" build (the PyPI wheel prints a notice and returns
None), so symaudit uses ``cpp_demangle``, a binding of the Rust ``cpp_demangle`` crate with wheels
for every platform. Names are demangled only for display, never for matching.
"""

from __future__ import annotations

from functools import lru_cache

import cpp_demangle


@lru_cache(maxsize=65536)
def demangle(name: str) -> str | None:
    """The demangled form of an Itanium-mangled name; None for C names or what cannot be parsed."""
    if not name.startswith("_Z"):
        return None
    # Versioned references print as name@VERSION in some tools; never here, but be safe.
    base = name.split("@", 1)[0]
    try:
        text = cpp_demangle.demangle(base)
    except Exception:  # the binding raises ValueError or its own error type for bad input
        return None
    return text if isinstance(text, str) and text != base else None


def display_name(name: str) -> str:
    """Demangled when possible, else the name itself."""
    return demangle(name) or name


# Spellings a reader knows from the headers, replacing what the mangling spells out. Display only:
# JSON keeps the full demangled form, where ``std::__ndk1`` versus ``std::__1`` can matter.
_READABLE = (
    ("std::__ndk1::", "std::"),
    ("std::basic_string<char, std::char_traits<char>, std::allocator<char> >", "std::string"),
    ("std::basic_string<char, std::char_traits<char>, std::allocator<char>>", "std::string"),
)


def readable(name: str) -> str:
    """A shorter demangled form for text reports (``std::string`` rather than its expansion)."""
    text = demangle(name) or name
    for long, short in _READABLE:
        text = text.replace(long, short)
    return text
