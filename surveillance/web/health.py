"""`/healthz` for a load balancer: whether this node can reach the database. No login, no data."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Blueprint, Response

from .per_request import db

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@bp.get("/healthz")
def healthz() -> Response:
    """200 "ok" when a query answers; 503 otherwise, so the balancer sends nurses elsewhere."""
    try:
        db().execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as exc:
        log.warning("health check: database unavailable: %s", type(exc).__name__)
        return _plain("database unavailable\n", 503)
    return _plain("ok\n", 200)


def _plain(text: str, status: int) -> Response:
    return Response(text, status, mimetype="text/plain")
