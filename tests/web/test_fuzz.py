"""Every route x every form field x a corpus of hostile values: never a server error (5xx),
and a refused request (4xx) changes no row. On SQLite and PostgreSQL; the number of requests
sent is printed at the end of the run (see `fuzz_tally` in conftest.py)."""

from __future__ import annotations

from urllib.parse import quote

import pytest
import sqlalchemy as sa

from surveillance.db.models import AuditEvent, Patient, PlannedExam, User

from .browsing import path_of
from .route_table import Setup

pytestmark = pytest.mark.thorough  # every field of every route x hostile values

MEGABYTE = "x" * (1024 * 1024)
CORPUS = {
    "nul": "ab\x00cd",
    "controls": "a\x01\x08\x1b[31mb\x7f",
    "one megabyte": MEGABYTE,
    "rtl override": "\u202egnp.exe\u202c",
    "html": "<script>alert(1)</script>\"'><img src=x onerror=alert(2)>",
    "sql": "' OR 1=1; DROP TABLE patients; --",
    "date 0001": "0001-01-01",
    "date 9999": "9999-12-31",
    "negative": "-1",
    "huge number": "99999999999999999999999",
    "float": "1e308",
    "nan": "NaN",
    "empty": "",
    "spaces": "   ",
    "emoji": "😀" * 50,
    "long line": "a" * 2_001,
}
# Query parameters the dashboard's GET routes read.
QUERY_PARAMETERS = ("page", "list", "exam", "clinic", "patient", "user", "next")
# A refused login counts its failure (the throttle working); a refused form shows the
# patient page again, which audits that view. Nothing else may be written.
LOGIN_BOOKKEEPING = {"login_throttle"}
REFUSAL_EVENTS = {"login.failed", "patient.view"}


def variants(form: dict) -> list[tuple[str, object]]:
    """(what, body) for every field x corpus value, missing and repeated fields, bad bytes."""
    out: list[tuple[str, object]] = []
    for field, original in form.items():
        for name, value in CORPUS.items():
            out.append((f"{field}={name}", {**form, field: value}))
        out.append((f"{field} missing", {k: v for k, v in form.items() if k != field}))
        out.append((f"{field} twice", {**form, field: [original, "2"]}))
        out.append((f"{field} not UTF-8", _raw(form, field, "%FF%FE%C3%28")))
    return out


def _raw(form: dict, field: str, encoded: str) -> bytes:
    """The form url-encoded by hand, with `field` holding bytes that are not UTF-8."""
    parts = [
        f"{quote(k)}={encoded if k == field else quote(str(v))}"
        for k, v in form.items()
        if not isinstance(v, list | tuple)
    ]
    return "&".join(parts).encode("ascii")


def fresh_version(s: Setup, values: dict, valid: dict, form: dict) -> dict:
    """The form with the current version of its record (an accepted edit bumped it); the
    record is the one the valid form names."""
    if not isinstance(form.get("version"), int):
        return form  # the fuzzed field is the version itself, or it is missing
    s.forget()
    if "exam_id" in values:
        version = s.session.get(PlannedExam, values["exam_id"]).version
    elif "user_id" in values:
        version = s.session.get(User, values["user_id"]).version
    else:
        pid = values.get("patient_id") or valid.get("patient_id") or s.patient_id
        version = s.session.get(Patient, pid).version
    return {**form, "version": version}


def changed_tables(before: dict, after: dict) -> set[str]:
    return {name for name in before if before[name] != after[name]}


def new_events(db, since: int) -> set[str]:
    """The actions of the audit events written after the event `since`."""
    return {e.action for e in db.scalars(sa.select(AuditEvent).where(AuditEvent.id > since))}


def last_event(db) -> int:
    return db.scalars(sa.select(sa.func.coalesce(sa.func.max(AuditEvent.id), 0)))[0]


def test_fuzz_every_form_field(
    app, post_route, world, log_in, anonymous, setup_for, db, fuzz_tally
):
    if post_route.endpoint == "_test.fail":
        pytest.skip("the test-only page that fails on purpose")
    login = post_route.endpoint == "auth.login"
    s = setup_for("a")
    reach = post_route.row.reach(s)
    browser = anonymous if login else log_in(world.installer)
    path = path_of(app, post_route, reach.values)
    form = {k: v for k, v in reach.form.items() if not hasattr(v, "data")}  # files: no fuzz
    for what, body in variants(form):
        if isinstance(body, dict):
            body = fresh_version(s, reach.values, form, body)
        before, since = db.snapshot(audit=False), last_event(db)
        if isinstance(body, bytes):
            token = browser.csrf_token()
            data = body + b"&csrf_token=" + token.encode()
            answer = browser.client.post(
                path, data=data, content_type="application/x-www-form-urlencoded", buffered=True
            )
        else:
            answer = browser.post(path, body)
        fuzz_tally(answer.status_code)
        assert answer.status_code < 500, f"{post_route.id} {what}: {answer.status_code}"
        if 400 <= answer.status_code < 500:
            changed = changed_tables(before, db.snapshot(audit=False))
            changed |= new_events(db, since) - REFUSAL_EVENTS
            allowed = LOGIN_BOOKKEEPING if login else set()
            assert changed <= allowed, f"{post_route.id} {what} refused but changed {changed}"


def test_fuzz_every_query_parameter(app, get_route, world, log_in, setup_for, db, fuzz_tally):
    if get_route.endpoint in ("_test.fail", "static", "feeds.feed"):
        pytest.skip("no query parameters read (or fails on purpose)")
    reach = get_route.row.reach(setup_for("a"))
    browser = log_in(world.installer)
    path = path_of(app, get_route, reach.values)
    for parameter in QUERY_PARAMETERS:
        for name, value in CORPUS.items():
            if name == "one megabyte":
                continue  # no browser sends a megabyte URL; the server refuses the line
            before = db.snapshot(audit=False)
            answer = browser.get(path, query_string={parameter: value})
            fuzz_tally(answer.status_code)
            assert answer.status_code < 500, f"{get_route.id} {parameter}={name}"
            if answer.status_code >= 400:
                assert db.snapshot(audit=False) == before, f"{get_route.id} {parameter}={name}"
        answer = browser.get(f"{path}?{parameter}=%FF%FE&{parameter}=2")
        fuzz_tally(answer.status_code)
        assert answer.status_code < 500, f"{get_route.id} {parameter} not UTF-8"
