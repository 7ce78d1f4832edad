"""`surveillance preview`: one patient's plan from a JSON history, no database."""

from __future__ import annotations

import json
import sys

import click

from ..config import ConfigError, load_config
from ..preview import PreviewError
from ..preview import preview as preview_plan
from .output import fail


@click.command("preview")
@click.argument("source", metavar="FILE|-")
def preview(source: str) -> None:
    """Print the plan for one patient's history (JSON, FILE or - for standard input)."""
    try:
        config = load_config()
        plan = preview_plan(read_source(source), config.settings, config.protocol.default)
    except (PreviewError, ConfigError) as exc:
        fail(str(exc).replace("\n", " "))
    click.echo(json.dumps(plan, indent=2, ensure_ascii=False))


def read_source(source: str) -> str:
    """The text of FILE, or of standard input for -; refused in one line if unreadable."""
    try:
        if source == "-":
            return sys.stdin.buffer.read().decode("utf-8")
        with open(source, encoding="utf-8") as file:
            return file.read()
    except UnicodeDecodeError:
        raise PreviewError("input: not UTF-8 text") from None
    except OSError as exc:
        raise PreviewError(f"input: cannot read {source!r}: {exc.strerror}") from None
