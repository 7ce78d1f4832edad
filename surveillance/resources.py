"""Folders that travel with the package: inside it in a wheel, at the repository root otherwise."""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def shipped_dir(name: str, marker: str = "") -> Path:
    """The folder `name` (migrations, templates), found where this installation keeps it."""
    for candidate in (PACKAGE / name, PACKAGE.parent / name):
        if (candidate / marker).exists() and candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"the {name} folder is missing from this installation")
