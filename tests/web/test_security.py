"""Security headers on every response, no copies of patient pages, size limits, plain errors."""

from __future__ import annotations

import logging
import re

import pytest

from surveillance.db.models import PatientNote

from .browsing import Attachment, check_security_headers, path_of, visible_text
from .route_table import FAILING_PATH

pytestmark = pytest.mark.thorough  # headers on every route's responses

# Tags and attributes the Content-Security-Policy would block: a page must not need them.
INLINE = re.compile(
    r"<script(?![^>]*\bsrc=)[^>]*>|<[a-z][^>]*\son[a-z]+\s*=|<[a-z][^>]*\sstyle\s*="
    r"|javascript:",
    re.IGNORECASE,
)


@pytest.fixture
def admin(world, log_in):
    return log_in(world.installer)


def test_pages_need_no_inline_script_or_style(app, get_route, admin, setup_for):
    reach = get_route.row.reach(setup_for("a"))
    page = admin.get(path_of(app, get_route, reach.values))
    if page.mimetype == "text/html":
        assert not INLINE.findall(page.text)


@pytest.mark.parametrize(
    "request_, status",
    [
        (("GET", "/no-such-page"), 404),  # not found
        (("GET", "/logout"), 405),  # a method the route does not take
        (("POST", "/patients/1/notes"), 400),  # no CSRF token
        (("GET", FAILING_PATH), 500),  # an error
    ],
)
def test_error_pages_carry_the_headers_too(admin, request_, status):
    method, path = request_
    answer = admin.client.open(path, method=method)
    assert answer.status_code == status
    check_security_headers(answer)
    assert answer.headers["Cache-Control"] == "no-store"


def test_a_redirect_and_a_static_file_carry_the_headers(anonymous):
    check_security_headers(anonymous.get("/"))
    check_security_headers(anonymous.get("/static/app.css"))


@pytest.mark.parametrize(
    "path",
    [
        "/",  # the worklist: names and exams
        "/?list=mdt_review",
        "/patients/{patient_id}",  # the patient page
        "/admin/audit?patient=P-0001",  # who has seen a patient
        "/admin/users",
    ],
)
def test_pages_with_patient_data_are_not_kept_by_browsers_or_proxies(world, admin, path):
    page = admin.get(path.format(patient_id=world.a.patient_id))
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"


def test_search_results_are_not_kept_either(world, admin):
    assert admin.post("/search", {"q": "Pasient"}).headers["Cache-Control"] == "no-store"


def test_the_revealed_national_id_is_not_kept_either(world, admin):
    answer = admin.post(f"/patients/{world.a.patient_id}/reveal")
    assert answer.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("as_file", [False, True])  # a form field, an uploaded file
def test_a_too_large_post_gets_413_and_changes_nothing(app, world, log_in, db, as_file):
    nurse = log_in(world.a.nurse)
    limit = app.extensions["surveillance"].config.web.max_upload_megabytes * 1024 * 1024
    text = Attachment("big.txt", b"x" * (limit + 1)) if as_file else "x" * (limit + 1)
    before = db.snapshot()
    answer = nurse.post(f"/patients/{world.a.patient_id}/notes", {"text": text})
    assert answer.status_code == 413
    assert answer.mimetype == "text/html" and "Traceback" not in answer.text
    check_security_headers(answer)
    assert db.snapshot() == before
    assert db.count(PatientNote) == 0


def test_an_error_shows_a_plain_page_with_an_incident_id(admin, caplog):
    with caplog.at_level(logging.ERROR):
        answer = admin.get(FAILING_PATH)
    assert answer.status_code == 500 and answer.mimetype == "text/html"
    text = visible_text(answer)
    assert "Traceback" not in answer.text and "secret detail" not in answer.text
    incident = re.search(r"\b[0-9a-f]{10}\b", text).group()
    # The same id in the log, where the traceback is: a nurse's report leads to it.
    logged = [r for r in caplog.records if incident in r.getMessage()]
    assert logged and logged[0].exc_info
    assert admin.get(FAILING_PATH).text != answer.text  # one id per incident


@pytest.mark.parametrize(
    "method, path, status",
    [
        # numbers beyond the database's integers: nothing by that number, not an incident
        ("GET", "/patients/99999999999", 404),
        ("GET", "/patients/99999999999999999999", 404),
        ("POST", "/exams/99999999999999999999/book", 404),
        ("POST", "/treatments/99999999999/correct", 404),
        ("GET", "/?page=100000000000000000000", 200),
        ("GET", "/admin/audit?page=100000000000000000000", 200),
        ("GET", "/admin/audit?patient=P-99999999999999999999", 200),
        ("GET", "/?q=P-99999999999999999999", 200),
        ("GET", "/?clinic=99999999999999999999", 404),
    ],
)
def test_numbers_too_large_for_the_database_are_no_error(admin, method, path, status):
    answer = admin.send(method, path, {"date": "2026-01-01"})
    assert answer.status_code == status
