"""The one way a command refuses: a line on standard error and a non-zero status."""

from __future__ import annotations

import sys
from typing import NoReturn

import click


def fail(message: str, status: int = 2) -> NoReturn:
    """Refuse in one line on standard error and exit."""
    click.echo(f"error: {message}", err=True)
    sys.exit(status)
