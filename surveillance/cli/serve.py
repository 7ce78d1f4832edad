"""`surveillance serve`: the dashboard behind waitress."""

from __future__ import annotations

import click
import waitress

from ..web import create_app
from .base import Command


@click.command(cls=Command)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 64))
def serve(host: str, port: int, threads: int) -> None:
    """Serve the dashboard with waitress (no scheduler: run `surveillance worker` for that)."""
    app = create_app()
    click.echo(f"dashboard on http://{host}:{port}/")
    waitress.serve(app, host=host, port=port, threads=threads, ident="surveillance")
