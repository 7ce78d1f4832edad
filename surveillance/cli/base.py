"""What the commands share: the app loader, the common options, password reading, refusals."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

import click
import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..clock import clinic_today
from ..config import Config, ConfigError, load_config
from ..db.engine import make_engine, make_sessionmaker
from ..errors import ServiceError
from ..preview import PreviewError
from ..services.audit import Actor
from ..services.context import Context
from .output import fail


class App:
    """What the commands share: the configuration, loaded once, and the database."""

    def __init__(self, today: date | None = None):
        self.config: Config = load_config()
        self.today = today or clinic_today(self.config.protocol.timezone)
        self._engine: sa.Engine | None = None

    def close(self) -> None:
        """Close the database connections the command opened."""
        if self._engine is not None:
            self._engine.dispose()

    @property
    def engine(self) -> sa.Engine:
        """The configured database's engine, made on first use."""
        if self._engine is None:
            self._engine = make_engine(self.config.database.url)
        return self._engine

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session on the configured database."""
        with make_sessionmaker(self.engine)() as session:
            yield session

    def context(self) -> Context:
        """The service context of a command-line user."""
        return Context.from_config(self.config, Actor(f"cli:{getpass.getuser()}"), self.today)


def load_app(ctx: click.Context, today: datetime | None = None) -> App:
    """The App of this command, closed when the command ends."""
    root = ctx.find_root()
    root.obj = App(today.date() if today else None)
    root.call_on_close(root.obj.close)
    return root.obj


def read_password() -> str:
    """A password: prompted twice on a terminal, else one line of standard input."""
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return sys.stdin.readline().rstrip("\n")


today_option = click.option(
    "--today",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="Act as if today were this date (default: the clinic's today).",
)


class Command(click.Command):
    """Turns refusals into one line on standard error, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        with refusals_in_one_line():
            return super().invoke(ctx)


class Group(click.Group):
    """Turns refusals of its commands into one line on standard error, never a traceback."""

    command_class = Command

    def invoke(self, ctx: click.Context) -> Any:
        with refusals_in_one_line():
            return super().invoke(ctx)


@contextmanager
def refusals_in_one_line() -> Iterator[None]:
    """A refusal of the configuration, a service or the database: one line, status 2."""
    try:
        yield
    except (ConfigError, ServiceError, PreviewError) as exc:
        fail(str(exc))
    except sa.exc.OperationalError as exc:
        fail("database: " + " ".join(str(exc.orig).split()))  # the driver's text spans lines
