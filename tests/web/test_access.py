"""Who may use which route: every route but the public ones needs a login, admin pages are for
administrators, and another clinic's patients do not exist; whoever is refused changes nothing."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.support.data import synthetic_id

from .browsing import check_security_headers, goes_to_login, path_of, visible_text
from .route_table import FHIR, ROUTES

pytestmark = pytest.mark.thorough  # every route x role x clinic

ROLES = ("anonymous", "nurse", "admin", "install_admin")
# Which access levels of the route table each role has.
REACHES = {
    "anonymous": {"public"},
    "nurse": {"public", "login"},
    "admin": {"public", "login", "admin"},
    "install_admin": {"public", "login", "admin", "install"},
}


@pytest.fixture
def browser_of(world, log_in, anonymous):
    """A browser of clinic A's nurse, clinic administrator or the installation administrator
    (a member of A too), or of nobody."""
    people = {
        "anonymous": None,
        "nurse": world.a.nurse,
        "admin": world.a.admin,
        "install_admin": world.installer,
    }
    return lambda role: log_in(people[role]) if people[role] else anonymous


@pytest.mark.parametrize("role", ROLES)
def test_every_route_with_every_role(app, any_route, role, browser_of, setup_for, db):
    row = any_route.row
    reach = row.reach(setup_for("a"))
    browser = browser_of(role)
    before = db.snapshot()
    answer = browser.send(any_route.method, path_of(app, any_route, reach.values), reach.form)
    check_security_headers(answer)
    if row.access in REACHES[role]:
        assert answer.status_code in row.statuses(any_route.method)
        return
    if role == "anonymous":
        assert goes_to_login(answer), answer.status_code
    else:
        assert answer.status_code == 403
    assert db.snapshot() == before


def test_anonymous_post_without_token_is_refused_too(
    app, private_post_route, anonymous, setup_for, db
):
    reach = private_post_route.row.reach(setup_for("a"))
    before = db.snapshot()
    answer = anonymous.post(path_of(app, private_post_route, reach.values), reach.form, token=False)
    assert answer.status_code in (302, 400, 401)
    assert db.snapshot() == before


def test_anonymous_get_goes_to_the_login_page(app, private_get_route, anonymous, setup_for):
    reach = private_get_route.row.reach(setup_for("a"))
    answer = anonymous.get(path_of(app, private_get_route, reach.values))
    assert goes_to_login(answer)
    assert urlsplit(answer.location).query.startswith("next=")


@pytest.mark.parametrize("role", ("nurse", "admin"))
def test_another_clinics_data_is_not_found(app, scoped_route, role, browser_of, setup_for, db):
    reach = scoped_route.row.reach(setup_for("b"))
    browser = browser_of(role)
    before = db.snapshot()
    answer = browser.send(scoped_route.method, path_of(app, scoped_route, reach.values), reach.form)
    assert answer.status_code == 404
    assert "Pasient B" not in answer.text
    assert db.snapshot() == before


@pytest.mark.parametrize("endpoint", ["patients.fix_treatment", "patients.remove_treatment"])
def test_another_clinics_treatment_is_not_found_whatever_patient_the_form_names(
    app, endpoint, browser_of, setup_for, db
):
    theirs, ours = ROUTES[endpoint].reach(setup_for("b")), setup_for("a")
    form = {**theirs.form, "patient_id": ours.patient_id, "version": ours.patient().version}
    browser = browser_of("nurse")
    before = db.snapshot()
    answer = browser.post(app.url_map.bind("localhost").build(endpoint, theirs.values), form)
    assert answer.status_code == 404
    assert db.snapshot() == before


def test_the_worklist_of_another_clinic_is_not_found(world, log_in):
    nurse = log_in(world.a.nurse)
    assert nurse.get(f"/?clinic={world.b.clinic_id}").status_code == 404
    assert nurse.get(f"/?clinic={world.a.clinic_id}").status_code == 200


def test_the_worklist_and_search_show_only_the_users_clinics(world, log_in):
    nurse = log_in(world.a.nurse)
    worklist = visible_text(nurse.get("/"))
    assert "Pasient A" in worklist and "Pasient B" not in worklist
    found = visible_text(nurse.post("/search", {"q": "Pasient"}))
    assert "Pasient A" in found and "Pasient B" not in found


def test_a_nurse_cannot_register_a_patient_in_another_clinic(world, log_in, db):
    from surveillance.db.models import Patient

    nurse = log_in(world.a.nurse)
    before = db.count(Patient)
    page = nurse.get("/patients/new")
    answer = nurse.submit(page, "", clinic="B", national_id=synthetic_id(), name="Ole Brumm")
    assert answer.status_code == 400
    assert db.count(Patient) == before


def test_only_the_public_routes_need_no_login():
    """The list of routes without login is short and deliberate (the FHIR API's bearer token
    is checked route by route in test_fhir_api.py)."""
    assert {
        "auth.login",
        "static",
        "i18n.choose_language",
        "feeds.feed",
        "health.healthz",
    } | FHIR == {endpoint for endpoint, row in ROUTES.items() if row.access == "public"}
