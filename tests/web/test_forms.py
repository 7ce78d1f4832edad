"""Every form carries a CSRF token and is refused without one; a GET never changes the data."""

from __future__ import annotations

import pytest

from .browsing import Browser, page_forms, path_of
from .route_table import ROUTES

pytestmark = pytest.mark.thorough  # every form of every page


@pytest.fixture
def browser_for(world, log_in, anonymous):
    """Who can use a route: the login form is for the anonymous, the rest for the installation
    administrator (a member of A)."""
    return lambda case: anonymous if case.endpoint == "auth.login" else log_in(world.installer)


def test_a_post_without_a_valid_csrf_token_is_refused(app, post_route, browser_for, setup_for, db):
    row = post_route.row
    reach = row.reach(setup_for("a"))
    browser = browser_for(post_route)
    path = path_of(app, post_route, reach.values)
    before = db.snapshot()
    # no token, a made-up one, and a real one of another browser's session
    other = Browser(app.test_client())
    for token in ({}, {"csrf_token": "forged"}, {"csrf_token": other.csrf_token()}):
        answer = browser.post(path, {**reach.form, **token}, token=False)
        assert answer.status_code == 400
        assert db.snapshot() == before
    # The same form with the token is accepted: the refusals above were the token's doing.
    assert browser.post(path, reach.form).status_code in row.statuses("POST")


def test_a_logged_out_browser_token_does_not_carry_over_to_the_next_login(world, log_in, db):
    nurse = log_in(world.a.nurse)
    old_token = nurse.csrf_token()
    nurse.post("/logout")
    nurse = log_in(world.a.nurse)
    before = db.snapshot()
    answer = nurse.post(
        f"/patients/{world.a.patient_id}/notes", {"text": "x", "csrf_token": old_token}, token=False
    )
    assert answer.status_code == 400
    assert db.snapshot() == before


@pytest.mark.parametrize("role", ("nurse", "admin", "installer"))
def test_a_get_changes_nothing(app, get_route, role, world, log_in, setup_for, db):
    reach = get_route.row.reach(setup_for("a"))
    browser = log_in({"nurse": world.a.nurse, "admin": world.a.admin}.get(role, world.installer))
    before = db.snapshot(audit=False)  # a patient page writes its view to the audit log
    browser.get(path_of(app, get_route, reach.values))
    assert db.snapshot(audit=False) == before


@pytest.mark.parametrize(
    "query",
    [
        "list=overdue&exam=cea",  # a list and an exam
        "list=mdt_review",
        "list=booking_to_cancel",  # the lists beside the worklist
        "page=2&list=to_book",  # a page beyond the last
        "list=nonsense&exam=nonsense&page=-1",  # what no form sends
    ],
)
def test_the_worklists_filters_change_nothing(world, log_in, db, query):
    nurse = log_in(world.a.nurse)
    before = db.snapshot()
    assert nurse.get(f"/?{query}").status_code == 200
    assert db.snapshot() == before


def test_the_audit_logs_filters_change_nothing(world, log_in, db):
    admin = log_in(world.a.admin)
    before = db.snapshot()
    for query in ("patient=P-0001", "user=nurse.a@test", "patient=nonsense&page=3"):
        assert admin.get(f"/admin/audit?{query}").status_code == 200
    assert db.snapshot() == before


def test_every_form_that_posts_carries_the_token(app, get_route, world, log_in, setup_for):
    reach = get_route.row.reach(setup_for("a"))
    page = log_in(world.installer).get(path_of(app, get_route, reach.values))
    for form in page_forms(page.text) if page.mimetype == "text/html" else ():
        if form.method == "post":
            assert form.fields.get("csrf_token"), f"the form to {form.action or 'this page'}"


@pytest.mark.parametrize("state", ["patients.mdt", "patients.resume", "patients.booking_cancelled"])
def test_the_forms_of_a_patient_page_in_every_state_carry_the_token(
    state, world, log_in, setup_for
):
    ROUTES[state].reach(setup_for("a"))  # under MDT review, ended, or a booking to cancel
    page = log_in(world.a.nurse).get(f"/patients/{world.a.patient_id}")
    posts = [f for f in page_forms(page.text) if f.method == "post"]
    assert any(f.action.endswith(state.split(".")[1].replace("_", "-")) for f in posts)
    assert all(f.fields.get("csrf_token") for f in posts)
