"""Input at the boundary: every form and query value is checked before any view or query runs.

Refused with 400 and a message naming the field: control characters (NUL included, which
PostgreSQL cannot store), bidirectional overrides (they disguise what a nurse reads),
and values longer than their column. The services check meaning (dates in the one format
and range, known codes, free text within 2,000 characters) and show the form again as typed;
this is the shape every value must have, checked before any query.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask import Flask, render_template, request
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from ..errors import InputError
from .labels import describe

# Tab, line feed and carriage return are text (a note has lines); other C0/C1 controls and
# the bidirectional embeddings, overrides and isolates are not.
FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# Notes, reasons, contact attempts: the services refuse more than 2,000 (a note 5,000) and show
# the form again; far beyond that a value is no nurse's typing and is refused outright.
FREE_TEXT = 10_000
LIMITS = {
    "email": 254,
    "user": 254,
    "name": 200,
    "place": 200,
    "label": 200,
    "password": 200,
    "code": 32,
    "q": 100,
    "national_id": 20,
    "patient": 40,
    "next": 2_000,
}
SHORT = 64  # codes, numbers, versions, tokens, dates: every field not named above or free text
FREE_TEXT_FIELDS = frozenset({"note", "reason", "text", "cancel_note", "contact_attempt"})
TOKEN_FIELDS = frozenset({"csrf_token"})


def init_app(app: Flask) -> None:
    """Check every request's values before the views (and their queries) see them."""
    app.before_request(_check_request)


def _check_request():
    try:
        check_values(request.args)
        if request.method == "POST":
            check_values(request.form)
    except InputError as exc:
        return render_template("error.html", title=_("Please check"), message=describe(exc)), 400
    return None


def check_values(values: MultiDict) -> None:
    """Refuse the first value that no field of ours may hold."""
    for field, value in values.items(multi=True):
        if FORBIDDEN.search(field) or len(field) > SHORT:
            raise InputError("field", field[:SHORT], "is not a field of this form")
        check_value(field, value)


def check_value(field: str, value: str) -> None:
    """A value fit for its field: no control characters, within its length and format."""
    if FORBIDDEN.search(value):
        raise InputError(field, _visible(value), "holds a control character")
    limit = _limit(field)
    if len(value) > limit:
        raise InputError(field, value[:40] + "…", "is longer than %(max)d characters", max=limit)


def _limit(field: str) -> int:
    if field in FREE_TEXT_FIELDS:
        return FREE_TEXT
    if field in TOKEN_FIELDS:
        return 256
    return LIMITS.get(field, SHORT)


def _visible(value: str) -> str:
    """The value as a message may show it: control characters as escapes, 40 characters."""
    shown = FORBIDDEN.sub(lambda m: f"\\x{ord(m.group()):02x}", value[:40])
    return shown + ("…" if len(value) > 40 else "")


def required_version(form: MultiDict) -> int:
    """The record version an edit form carries; an edit without it is refused."""
    value = form.get("version", "")
    if not value.isascii() or not value.isdigit() or len(value) > 9:
        raise InputError(
            "version", value, "is missing or not a number: reload the page and try again"
        )
    return int(value)


def safe_target(target: str | None) -> str | None:
    """A path of this application to go to, or None: no scheme, host, backslash or control."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    # Browsers drop tabs and line breaks inside URLs and read a backslash as a slash:
    # "/\t/evil" and "/\\evil" both become "//evil", another host.
    if "\\" in target or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return None
    return target
