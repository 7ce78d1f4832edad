"""Today: what the nurse must book, chase or review, overdue first."""

from __future__ import annotations

import secrets
from datetime import timedelta

from flask import Blueprint, Response, abort, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape

from ..errors import InputError
from ..services import CATEGORIES, Context, worklist
from ..services.exports import export_list
from ..services.oversight import failed_digest_count
from ..services.review import (
    CancelRow,
    PatientRow,
    bookings_to_cancel,
    lost_to_follow_up,
    mdt_review,
    search_patients,
)
from ..services.worklist import LISTS, list_stamps
from .formats import day
from .labels import describe, label
from .markup import csrf
from .per_request import config, count_cache, db, kept_pages, page_number, service_context
from .reasons import mdt_reasons
from .spreadsheet import spreadsheet_csv

bp = Blueprint("worklist", __name__)
EXAM_CODES = ("ct_tap", "cea", "ct_liver", "ct_liver_lungs")
DIGEST_DAYS = 14  # as the administrators' page of daily e-mails
SIDE_LIST_PREVIEW = 10  # rows of the MDT and cancel lists shown under "all lists"
SIDE_LISTS = ("mdt_review", "booking_to_cancel", "lost_to_follow_up")
# The sortable columns (`sort=name`, `sort=-name` for the reverse): each an index both ways.
SORT_KEYS = {
    "due": "due",
    "reference": "local_number",
    "name": "name_order",
    "born": "birth_date",
    "booked": "booked_date",
}
# Their headers on the page, named in a refusal of an unknown sort.
SORT_HEADERS = {
    "reference": _l("Reference"),
    "name": _l("Name"),
    "born": _l("Born"),
    "due": _l("Due"),
    "booked": _l("Booked for"),
}
SORTS = tuple(f"{sign}{column}" for column in SORT_KEYS for sign in ("", "-"))
# The worklist's own query parameters: its links carry these on and nothing else, since
# url_for would take a crafted `endpoint` or `_external` as its own argument (a 500).
KEPT_ARGUMENTS = ("list", "exam", "clinic", "due_from", "due_to", "sort", "page")
# Where the kept lists' forms hold the CSRF token: each request puts its session's in its place.
# Unguessable, so that no patient's name or note can hold it.
CSRF_STAND_IN = secrets.token_hex(16)


@bp.before_request
@login_required
def _login():
    """Every page here needs a login."""


@bp.get("/")
def today():
    """The worklist: counts of every list and the rows of the chosen one.

    Its lists are kept as HTML per process under a key of everything they are made of, the
    clinics' list stamps first (read before the lists: see list_stamps); a hit costs the
    login, the stamps and the page's chrome.
    """
    ctx, clinic_ids = service_context(), _clinic_filter()
    failed_digests = _failed_digests(ctx)
    key = _lists_key(ctx, clinic_ids, failed_digests)
    lists = kept_pages().get(key)
    if lists is None:
        lists = _lists(ctx, clinic_ids, failed_digests, query="")
        kept_pages().put(key, lists)
    return _page(*lists)


@bp.post("/search")
def search():
    """Patients by name, reference or national ID; a POST so the number stays out of URLs and logs."""
    ctx, query = service_context(), request.form.get("q", "").strip()[:100]
    return _page(*_lists(ctx, _clinic_filter(), _failed_digests(ctx), query))


def _lists_key(ctx: Context, clinic_ids: list[int], failed_digests: int) -> tuple:
    """What the lists' HTML is made of besides the rows' CSRF token: each clinic's data (its
    stamp), who may choose which clinic, the day, the language, the page asked for."""
    return (
        list_stamps(db(), clinic_ids),
        tuple(clinic_ids),
        tuple((clinic.id, clinic.name) for clinic in current_user.clinics),
        ctx.today,
        str(get_locale()),
        request.script_root,
        tuple(_kept_arguments().items()),
        failed_digests,
    )


def _page(lists: str, status: int):
    """The page around its lists, their forms given this session's CSRF token."""
    token = str(escape(generate_csrf()))
    return render_template(
        "worklist.html", lists=Markup(lists.replace(CSRF_STAND_IN, token))
    ), status


def _lists(ctx: Context, clinic_ids: list[int], failed_digests: int, query: str) -> tuple[str, int]:
    """The lists' HTML (a stand-in for the CSRF token) and the page's status."""
    category = _choice("list", CATEGORIES + SIDE_LISTS)
    exam = _choice("exam", EXAM_CODES)
    session = db()
    requested = request.args.get("sort") or "due"
    sort = requested if requested in SORTS else "due"
    due_range = {name: request.args.get(name, "").strip()[:10] for name in ("due_from", "due_to")}

    def rows(due_from: str | None = None, due_to: str | None = None):
        return worklist(
            session,
            ctx,
            clinic_ids,
            category=category if category in CATEGORIES else None,
            code=exam,
            page=page_number(),
            page_size=config().worklist.page_size,
            due_from=due_from,
            due_to=due_to,
            latest_first=sort.startswith("-"),
            sort_key=SORT_KEYS[sort.lstrip("-")],
            counts=count_cache(),
        )

    # An unknown sort (a link edited by hand) is said beside the filters, the rows in due order.
    refused = None if sort == requested else _unknown_sort(requested)
    try:
        result = rows(**due_range)
    except InputError as exc:  # a typed date: said beside its field, the lists unfiltered
        result, refused = rows(), exc
    args = _kept_arguments()
    if sort != requested:
        del args["sort"]  # the page's links would carry the refusal on
    return render_template(
        "_worklist_lists.html",
        csrf=lambda: csrf(CSRF_STAND_IN),
        result=result,
        lists=LISTS,
        category=category,
        exam=exam,
        query=query,
        sort=sort,
        args=args,
        due_range=due_range,
        refused=refused and describe(refused),
        refused_field=refused and refused.field,
        today=ctx.today,
        clinic_ids=clinic_ids,
        found=search_patients(session, ctx, clinic_ids, query) if query else None,
        mdt=_side_list(mdt_review, "mdt_review", category, session, ctx, clinic_ids),
        cancels=_side_list(
            bookings_to_cancel, "booking_to_cancel", category, session, ctx, clinic_ids
        ),
        lost=_side_list(lost_to_follow_up, "lost_to_follow_up", category, session, ctx, clinic_ids),
        reasons=lambda text: mdt_reasons(text, ctx.settings.cea_upper_limit),
        exam_codes=EXAM_CODES,
        failed_digests=failed_digests,
    ), 400 if refused else 200


def _failed_digests(ctx: Context) -> int:
    """Failed e-mails of the last two weeks, for an administrator's warning."""
    if not current_user.is_admin:
        return 0
    since = ctx.today - timedelta(days=DIGEST_DAYS)
    return failed_digest_count(db(), current_user.admin(), since)


def _side_list(rows, name: str, category: str | None, session, ctx, clinic_ids) -> list:
    """A list beside the worklist: its first rows under all lists, or a page of it alone."""
    if category is None:
        return rows(session, ctx, clinic_ids, limit=SIDE_LIST_PREVIEW)
    if category != name:
        return []
    size = config().worklist.page_size
    return rows(session, ctx, clinic_ids, limit=size, offset=(page_number() - 1) * size)


def _clinic_filter() -> list[int]:
    """The user's clinics, or the one chosen among them."""
    chosen = request.args.get("clinic", type=int)
    if chosen is None:
        return current_user.clinic_ids
    if chosen not in current_user.clinic_ids:
        abort(404)
    return [chosen]


def _unknown_sort(value: str) -> InputError:
    columns = ", ".join(str(header) for header in SORT_HEADERS.values())
    return InputError(
        "sort", value[:50], "is not a column the list sorts by (%(columns)s)", columns=columns
    )


def _kept_arguments() -> dict[str, str]:
    return {name: value for name, value in request.args.items() if name in KEPT_ARGUMENTS}


def _choice(name: str, choices) -> str | None:
    value = request.args.get(name) or None
    return value if value in choices else None


@bp.get("/export.csv")
def export():
    """The chosen list (or the whole worklist), every row, as CSV for a spreadsheet; audited."""
    name = request.args.get("list") or None
    try:
        due_range = (request.args.get("due_from"), request.args.get("due_to"))
        rows = export_list(
            db(),
            service_context(),
            _clinic_filter(),
            name,
            request.args.get("exam") or None,
            due_range,
        )
    except InputError as exc:  # no such list (a made-up link), or a date typed wrong
        abort(400 if exc.field in ("due_from", "due_to") else 404)
    header, lines = _table(name, rows)
    filename = f"{name or 'worklist'}-{service_context().today.isoformat()}.csv"
    return Response(
        spreadsheet_csv(header, lines),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _table(name: str | None, rows) -> tuple[list[str], list[list]]:
    """The list's columns as the page shows them, in the reader's language."""
    if name == "mdt_review":
        limit = service_context().settings.cea_upper_limit
        return [_("Reference"), _("Name"), _("Born"), _("Why")], [
            [r.reference, r.name, day(r.birth_date), "; ".join(mdt_reasons(r.reason, limit))]
            for r in rows
            if isinstance(r, PatientRow)
        ]
    if name == "lost_to_follow_up":
        return [_("Reference"), _("Name"), _("Born"), _("Status")], [
            [r.reference, r.name, day(r.birth_date), label(r.status)]
            for r in rows
            if isinstance(r, PatientRow)
        ]
    if name == "booking_to_cancel":
        return [_("Reference"), _("Name"), _("Born"), _("Exam"), _("Booked for")], [
            [r.reference, r.name, day(r.birth_date), label(r.code), day(r.booked_date)]
            for r in rows
            if isinstance(r, CancelRow)
        ]
    header = [
        _("List"),
        _("Reference"),
        _("Name"),
        _("Born"),
        _("Exams"),
        _("Due"),
        _("Working day"),
        _("Booked for"),
        _("Days late"),
    ]
    return header, [
        [
            label(i.category),
            i.reference,
            i.name,
            day(i.birth_date),
            ", ".join(label(c) for c in i.codes),
            day(i.due),
            day(i.due_working_day),
            day(i.booked_date),
            i.days_late,
        ]
        for i in rows
    ]
