"""`surveillance serve`: the dashboard behind waitress, and with --worker the scheduler too."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import replace

import click
import waitress

from ..config import BASE_URL_ENV, Config, WebConfig, load_config
from ..web import create_app
from .base import Command

# The worker as a child process: the same interpreter and installation as this command.
WORKER = [sys.executable, "-c", "from surveillance.cli import main; main()", "worker"]
STOP_WAIT = 30  # seconds a stopped worker gets to finish a digest it is sending


@click.command(cls=Command)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 64))
@click.option(
    "--worker",
    "with_worker",
    is_flag=True,
    help="Also run the daily scheduler (`surveillance worker`) in one child process.",
)
def serve(host: str, port: int, threads: int, with_worker: bool) -> None:
    """Serve the dashboard with waitress; with --worker, the daily scheduler beside it."""
    config = load_config()
    if with_worker:  # the whole program on one machine: its address is the one served here
        config = served_config(config, host, port)
    app = create_app(config)
    worker = start_worker(config) if with_worker else None
    # SIGTERM (a service manager, `kill`) ends the server as Ctrl-C does, so the worker stops too.
    signal.signal(signal.SIGTERM, _exit)
    click.echo(f"dashboard on {config.web.base_url}/", err=True)
    try:
        waitress.serve(app, host=host, port=port, threads=threads, ident="surveillance")
    finally:
        if worker is not None:
            stop_worker(worker)


def _exit(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def served_config(config: Config, host: str, port: int) -> Config:
    """The configuration with links to the address served, unless base_url was set.

    Only for --worker (one machine, as `make run`): several nodes behind a proxy each serve
    on an address of their own, and their links must all name the proxy's (base_url).
    """
    if config.web.base_url != WebConfig.base_url:
        return config  # set on purpose (a proxy's https address, say): kept
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    shown = f"[{shown}]" if ":" in shown else shown
    return replace(config, web=replace(config.web, base_url=f"http://{shown}:{port}"))


def start_worker(config: Config) -> subprocess.Popen:
    """The scheduler in its own process, with the links of the dashboard served here."""
    return subprocess.Popen(WORKER, env=os.environ | {BASE_URL_ENV: config.web.base_url})


def stop_worker(worker: subprocess.Popen) -> None:
    """SIGTERM, as a service manager would; a worker that hangs is killed."""
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(STOP_WAIT)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()
