"""symaudit: predict whether the native libraries of an Android package will load."""

from __future__ import annotations

__version__ = "0.1.0"
