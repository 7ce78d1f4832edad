"""Calendar feeds: the subscription (no login: the token is the key) and the page managing them."""

from __future__ import annotations

import logging
import re
import uuid
from datetime import datetime

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..clock import clinic_today, utcnow
from ..db.choices import FeedKind
from ..errors import InputError, NotFound
from ..feeds.serve import Feeds, Served, serve_feed
from ..feeds.store import create_clinic_feed, create_user_feed, list_feeds, revoke_feed
from ..feeds.tokens import feed_urls
from ..services import Actor
from .labels import describe
from .per_request import config, db
from .security import csrf

bp = Blueprint("feeds", __name__)
log = logging.getLogger(__name__)
_FEED_PATH = re.compile(r"/feeds/[^/\s\"?]+\.ics")


class RedactFeedTokens(logging.Filter):
    """Keeps feed tokens out of the servers' request logs: a logged token is a leaked calendar."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "/feeds/" in message:
            record.msg, record.args = _FEED_PATH.sub("/feeds/<token>.ics", message), ()
        return True


_REDACT = RedactFeedTokens()


@bp.record_once
def _setup(state) -> None:
    app = state.app
    app.extensions["feeds"] = Feeds.from_config(app.extensions["surveillance"].config)
    for name in ("werkzeug", "waitress"):  # the development server's and waitress's loggers
        logger = logging.getLogger(name)
        if _REDACT not in logger.filters:
            logger.addFilter(_REDACT)


@bp.get("/feeds/<token>.ics")
@csrf.exempt
def feed(token: str):
    """A calendar feed; 404 at once for an unknown or revoked token, 304 for a current client."""
    try:
        served = serve_feed(
            db(),
            current_app.extensions["feeds"],
            token,
            clinic_today(config().protocol.timezone),
            utcnow(),
            _not_modified,
        )
    except Exception:
        incident = uuid.uuid4().hex[:10]
        # Not the app's error page: it logs the request's path, and the path holds the token.
        log.exception("incident %s while serving a calendar feed", incident)
        return Response(f"Error {incident}\n", 500, mimetype="text/plain")
    if served is None:
        return Response("Not found\n", 404, mimetype="text/plain")
    return _calendar(served)


def _not_modified(etag: str, modified_at: datetime) -> bool:
    """The client's copy is current: If-None-Match decides, else If-Modified-Since (RFC 9110)."""
    if request.if_none_match:
        return request.if_none_match.contains_weak(etag)
    since = request.if_modified_since
    return since is not None and modified_at.replace(microsecond=0) <= since


def _calendar(served: Served) -> Response:
    # No Content-Disposition: an attachment breaks Google's "add by URL" (design.md).
    response = Response(
        served.body or b"", 200 if served.body is not None else 304, mimetype="text/calendar"
    )
    response.set_etag(served.etag)
    response.last_modified = served.modified_at
    response.cache_control.private = True  # a shared cache must not keep it, a client may
    response.cache_control.no_cache = True
    return response


@bp.get("/feeds")
@login_required
def index():
    """The user's feeds and their clinics', and the form for a new one."""
    return _page()


@bp.post("/feeds")
@login_required
def create():
    """Make a feed of one of the user's clinics, or a personal one; show its address once."""
    owner, label = request.form.get("owner", ""), request.form.get("label")
    try:
        new = _create(owner, label)
    except InputError as exc:
        return _page(error=describe(exc)), 400
    # Rendered, not redirected: the token must not travel through the session cookie.
    return _page(created=feed_urls(config().web.base_url, new.token)), 201


def _create(owner: str, label: str | None):
    actor = Actor(current_user.email, current_user.id)
    if owner == FeedKind.USER:
        return create_user_feed(db(), actor, current_user.id, label)
    if owner.isdigit() and int(owner) in current_user.clinic_ids:
        return create_clinic_feed(db(), actor, int(owner), label)
    raise InputError("owner", owner, "is not one of your clinics")


@bp.post("/feeds/<int:feed_id>/revoke")
@login_required
def revoke(feed_id: int):
    """Revoke a feed: its address answers 404 from now on."""
    try:
        revoke_feed(
            db(),
            Actor(current_user.email, current_user.id),
            feed_id,
            current_user.id,
            current_user.clinic_ids,
        )
    except NotFound:
        abort(404)
    flash(_("The feed is revoked: its address no longer works."), "info")
    return redirect(url_for("feeds.index"))


def _page(created: tuple[str, str] | None = None, error: str | None = None) -> str:
    feeds = list_feeds(db(), current_user.id, current_user.clinic_ids)
    return render_template(
        "feeds.html", feeds=feeds, clinics=current_user.clinics, created=created, error=error
    )
