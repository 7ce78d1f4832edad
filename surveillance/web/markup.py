"""The small pieces of HTML every row of a page repeats, written in Python.

A Jinja macro call costs ten times a Python call (argument binding, a new frame, the output
joined as Markup): the worklist's 50 rows and a patient page's forms called a few hundred,
a third of the page's time (issue 10). These write exactly what the macros wrote.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date as Date
from typing import Any

from flask import current_app, g, request, url_for
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape

from .formats import day
from .i18n import request_translations
from .labels import label
from .per_request import LARGEST_ID

# A number stood in a link once per application; each row's link is then its own number put
# in its place (what url_for writes for an integer argument, without its routing work).
_SENTINEL = str(LARGEST_ID)


def date(value: Date | None) -> Markup:
    """A day as <time datetime="2026-06-01">01.06.2026</time>; nothing for no day."""
    if not value:
        return Markup("")
    return Markup(f'<time datetime="{escape(value.isoformat())}">{escape(day(value))}</time>')


def csrf(token: str | None = None) -> Markup:
    """The form's hidden CSRF field (Flask-WTF's token of this session, unless given)."""
    if token:
        return _csrf_field(token)
    # Flask-WTF keeps its token for the rest of the request; so is the field, made once of
    # it (a patient page has a dozen forms, issue 10).
    field = g.get("csrf_field")
    if field is None:
        field = g.csrf_field = _csrf_field(generate_csrf())
    return field


def _csrf_field(token: str) -> Markup:
    return Markup(f'<input type="hidden" name="csrf_token" value="{escape(token)}">')


def gettext(message: str, /, **params) -> Markup:
    """The text in the reader's language, as the templates' `_()` writes it (params escaped)."""
    return Markup(request_translations().ugettext(message)) % params


def ngettext(singular: str, plural: str, num: int) -> Markup:
    """The text for `num` in the reader's language, as the templates' `ngettext()` writes it."""
    return Markup(request_translations().ungettext(singular, plural, num)) % {"num": num}


def options(codes: Iterable[str], chosen: object = None) -> Markup:
    """A select's options, each code in words (labels.label), the chosen one selected."""
    return Markup(
        "".join(
            [
                f'<option value="{escape(code)}" {"selected" if chosen == code else ""}>'
                f"{escape(label(code))}</option>"
                for code in codes
            ]
        )
    )


def lateness(days: int, overdue: bool = True) -> Markup:
    """Red "N days late" only on the engine's overdue list; elsewhere the days since it was due."""
    if days > 0 and overdue:
        late = ngettext("%(num)d day late", "%(num)d days late", days)
        return Markup(f'<span class="late">{late}</span>')
    if days > 0:
        return ngettext("due %(num)d day ago", "due %(num)d days ago", days)
    if days == 0:
        return gettext("due today")
    return ngettext("in %(num)d day", "in %(num)d days", -days)


def row_url(endpoint: str, **value: int) -> str:
    """url_for(endpoint, name=number) for a route of one integer argument, built once an app."""
    ((name, number),) = value.items()
    head, tail = row_url_parts(endpoint, name)
    return f"{head}{int(number)}{tail}"


def row_url_parts(endpoint: str, name: str) -> tuple[str, str]:
    """What row_url writes before and after the number: url_for's work once an application.

    A link depends on the application, the endpoint and the root it is served under
    (SCRIPT_NAME) alone: kept by the application, not made again for each request (a
    patient page links through about 17 endpoints, issue 10). That holds while the
    application has no url_defaults, SERVER_NAME, subdomains or host matching; with any of
    them, the key would have to say what they read."""
    links = current_app.extensions.setdefault("surveillance_row_links", {})
    key = (endpoint, name, request.script_root)
    parts = links.get(key)
    if parts is None:
        if endpoint.startswith("."):
            raise ValueError(f"a row link names its blueprint: {endpoint!r}")
        stand_in: dict[str, Any] = {name: LARGEST_ID}
        head, _, tail = url_for(endpoint, **stand_in).partition(_SENTINEL)
        if len(links) >= 1000:  # bounded, whatever roots a server is given
            links.clear()
        parts = links[key] = (head, tail)
    return parts


def init_app(app) -> None:
    """The helpers as the templates' globals."""
    app.jinja_env.globals.update(
        date=date, csrf=csrf, lateness=lateness, options=options, row_url=row_url
    )
