"""The database as requests see it: one session each, and URL numbers that fit its columns."""

from __future__ import annotations

from flask import Flask, current_app, g, request
from flask_login import current_user
from sqlalchemy.orm import Session
from werkzeug.routing import IntegerConverter

from ..clock import clinic_today
from ..config import Config
from ..services import Actor, Context
from ..services.kept import Kept

# Ids are SQL INTEGERs: a longer number from a URL would be a database error, not a 404.
LARGEST_ID = 2**31 - 1
LAST_PAGE = 100_000  # further pages only make the database skip rows; far enough they overflow


class RowId(IntegerConverter):
    """`<int:...>` in a route: a number the id columns can hold, else no match (404)."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", LARGEST_ID)
        super().__init__(map, *args, **kwargs)


def init_app(app: Flask) -> None:
    """Ids in URLs that fit the database; the request's session closed at teardown."""
    app.url_map.converters["int"] = RowId
    app.teardown_appcontext(_close)


def page_number() -> int:
    """The `page` of the query string, from 1 to LAST_PAGE."""
    return min(max(request.args.get("page", 1, type=int), 1), LAST_PAGE)


def config() -> Config:
    """The application's configuration."""
    return current_app.extensions["surveillance"].config


def count_cache() -> Kept[dict[str, int]]:
    """The application's worklist counts, kept per clinic while its data are unchanged."""
    return current_app.extensions["surveillance"].counts


def kept_pages() -> Kept[tuple[str, int]]:
    """The application's worklist pages (HTML and status), kept while their data are unchanged."""
    return current_app.extensions["surveillance"].pages


def db() -> Session:
    """The request's database session."""
    if "db" not in g:
        g.db = current_app.extensions["surveillance"].sessions()
    return g.db


def service_context() -> Context:
    """The services' context for the logged-in user, on the clinic's today."""
    cfg = config()
    actor = Actor(current_user.email, current_user.id)
    return Context.from_config(
        cfg, actor, clinic_today(cfg.protocol.timezone), frozenset(current_user.clinic_ids)
    )


def _close(_exc) -> None:
    session = g.pop("db", None)
    if session is not None:
        session.close()
