"""Two administrator scopes: a clinic administrator reaches only their clinics' accounts, audit
and e-mails, and grants only their clinics; the installation administrator reaches everything.
Whatever is refused changes nothing."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from surveillance.db.models import Clinic, User, UserSession

from .browsing import PASSWORD, goes_to_login, visible_text
from .route_table import ROUTES

# The admin routes that name an account in their URL.
ACCOUNT_ROUTES = [
    ("admin.account", "GET"),
    ("admin.edit", "POST"),
    ("admin.password", "POST"),
    ("admin.activate", "POST"),
]


def _url(app, endpoint: str, values: dict) -> str:
    return app.url_map.bind("localhost").build(endpoint, values)


@pytest.mark.parametrize(("endpoint", "method"), ACCOUNT_ROUTES)
def test_a_clinic_admin_cannot_reach_another_clinics_account(
    app, endpoint, method, world, log_in, setup_for, db
):
    reach = ROUTES[endpoint].reach(setup_for("b"))
    admin = log_in(world.a.admin)
    before = db.snapshot(audit=False)
    answer = admin.send(method, _url(app, endpoint, reach.values), reach.form)
    assert answer.status_code == 404
    assert db.snapshot(audit=False) == before


@pytest.mark.parametrize(("endpoint", "method"), ACCOUNT_ROUTES)
def test_the_installation_admin_reaches_every_clinics_accounts(
    app, endpoint, method, world, log_in, setup_for
):
    row = ROUTES[endpoint]
    reach = row.reach(setup_for("b"))
    answer = log_in(world.installer).send(method, _url(app, endpoint, reach.values), reach.form)
    assert answer.status_code in row.statuses(method)


def test_finding_1_an_admin_of_b_cannot_make_an_account_for_clinic_a(world, log_in, db):
    """Finding 1: the admin of B ticked clinic A on the users page and so reached A's patients."""
    admin_b = log_in(world.b.admin)
    page = admin_b.get("/admin/users")
    assert 'value="A"' not in page.text  # clinic A is not offered
    before = db.snapshot(audit=False)
    answer = admin_b.submit(
        page, "/admin/users", email="spy@test", role="nurse", clinics=["A"], password=PASSWORD
    )
    assert answer.status_code == 400
    assert "A" in visible_text(answer) and db.snapshot(audit=False) == before
    refused = log_in("spy@test", expect_success=False)
    assert refused.status_code != 302


def test_finding_1_an_admin_of_b_sees_neither_a_s_accounts_nor_its_audit(world, log_in):
    log_in(world.a.nurse).get(f"/patients/{world.a.patient_id}")  # an audited view in A
    admin_b = log_in(world.b.admin)
    accounts = visible_text(admin_b.get("/admin/users"))
    assert world.b.nurse in accounts
    assert world.a.nurse not in accounts and world.a.admin not in accounts
    audit = visible_text(admin_b.get("/admin/audit"))
    assert world.a.nurse not in audit
    assert world.a.nurse not in visible_text(admin_b.get(f"/admin/audit?user={world.a.nurse}"))
    assert world.a.nurse in visible_text(log_in(world.installer).get("/admin/audit"))


def test_finding_1_an_admin_of_b_cannot_disable_a_s_nurse(app, world, log_in, setup_for, db):
    reach = setup_for("a").account(active="0")
    answer = log_in(world.b.admin).post(_url(app, "admin.activate", reach.values), reach.form)
    assert answer.status_code == 404
    assert db.get(User, reach.values["user_id"]).active
    assert log_in(world.a.nurse).get("/").status_code == 200


def test_a_clinic_admin_cannot_make_an_installation_admin(world, log_in, db):
    admin = log_in(world.a.admin)
    before = db.snapshot(audit=False)
    answer = admin.post(
        "/admin/users",
        {"email": "boss@test", "role": "install_admin", "clinics": "A", "password": PASSWORD},
    )
    assert answer.status_code == 403
    assert db.snapshot(audit=False) == before


def test_only_the_installation_admin_manages_clinics(world, log_in, db):
    assert log_in(world.a.admin).get("/admin/clinics").status_code == 403
    installer = log_in(world.installer)
    answer = installer.post("/admin/clinics", {"code": "c-9", "name": "Klinikk C"})
    assert answer.status_code == 302
    assert db.count(Clinic, Clinic.code == "C-9") == 1
    assert [e.details["clinic"] for e in db.events("clinic.add")] == ["C-9"]


def test_finding_8_a_nurse_without_a_clinic_is_refused(world, log_in, db):
    before = db.count(User)
    answer = log_in(world.installer).post(
        "/admin/users", {"email": "ny@test", "role": "nurse", "password": PASSWORD}
    )
    assert answer.status_code == 400
    assert "clinic" in visible_text(answer).lower() or "klinikk" in visible_text(answer).lower()
    assert db.count(User) == before


def test_an_admin_edits_name_role_and_clinics_with_audit(world, log_in, setup_for, db):
    reach = setup_for("a").account()
    installer = log_in(world.installer)
    page = installer.get(f"/admin/users/{reach.values['user_id']}")
    answer = installer.submit(
        page, f"/admin/users/{reach.values['user_id']}", name="Kari Sykepleier", clinics=["A", "B"]
    )
    assert answer.status_code == 302
    user = db.get(User, reach.values["user_id"])
    assert (user.name, sorted(c.code for c in user.clinics)) == ("Kari Sykepleier", ["A", "B"])
    [event] = db.events("user.edit")
    assert event.details["after"] == ["nurse", ["A", "B"]] and event.actor == world.installer
    # The nurse now works in both clinics: clinic A's admin no longer manages the account alone.
    assert log_in(world.a.admin).get(f"/admin/users/{user.id}").status_code == 404


def test_a_password_reset_ends_the_sessions_and_the_new_password_works(
    world, log_in, setup_for, db
):
    nurse = log_in(world.a.nurse)
    reach = setup_for("a").account(password="et helt nytt passord 789")
    answer = log_in(world.a.admin).post(
        f"/admin/users/{reach.values['user_id']}/password", reach.form
    )
    assert answer.status_code == 302
    assert goes_to_login(nurse.get("/"))
    log_in(world.a.nurse, "et helt nytt passord 789")
    assert db.count(UserSession, UserSession.ended_at.is_(None)) >= 1
    assert len(db.events("user.password_reset")) == 1


@pytest.mark.parametrize(
    "password",
    [
        "aaaaaaaaaaaa",  # finding 8: twelve characters, and the first guess of any attacker
        "password1234",  # among the commonly used passwords
        "123456789012",  # a keyboard run
        "kort",  # too short
    ],
)
def test_weak_passwords_are_refused(world, log_in, setup_for, db, password):
    reach = setup_for("a").account(password=password)
    admin = log_in(world.a.admin)
    before = db.snapshot(audit=False)
    answer = admin.post(f"/admin/users/{reach.values['user_id']}/password", reach.form)
    assert answer.status_code == 400
    assert password not in answer.text
    assert db.snapshot(audit=False) == before


def test_an_account_edit_without_its_version_is_refused(world, log_in, setup_for, db):
    reach = setup_for("a").account(name="Ny", role="admin", clinics="A")
    form = {k: v for k, v in reach.form.items() if k != "version"}
    admin = log_in(world.a.admin)
    before = db.snapshot(audit=False)
    answer = admin.post(f"/admin/users/{reach.values['user_id']}", form)
    assert answer.status_code == 400
    assert db.snapshot(audit=False) == before


def test_a_stale_account_edit_is_refused(world, log_in, setup_for, db):
    reach = setup_for("a").account(name="Først", role="nurse", clinics="A")
    admin = log_in(world.a.admin)
    url = f"/admin/users/{reach.values['user_id']}"
    assert admin.post(url, reach.form).status_code == 302
    answer = admin.post(url, {**reach.form, "name": "Sist"})
    assert answer.status_code == 409
    assert db.get(User, reach.values["user_id"]).name == "Først"


def test_a_clinic_admin_sees_and_retries_only_their_clinics_emails(world, log_in, session, db):
    from surveillance.db.models import Digest

    with session.begin():
        session.add(
            Digest(
                clinic_id=world.b.clinic_id,
                day=world.today,
                message_id="<b@test>",
                state="failed",
                last_error="550 mailbox of clinic B unavailable",
                counts={},
            )
        )
    admin_a, admin_b = log_in(world.a.admin), log_in(world.b.admin)
    assert "clinic B unavailable" not in visible_text(admin_a.get("/admin/digests"))
    assert "clinic B unavailable" in visible_text(admin_b.get("/admin/digests"))
    assert admin_a.post("/admin/digests/retry").status_code == 302
    assert db.scalars(sa.select(Digest.state)) == ["failed"]
    assert admin_b.post("/admin/digests/retry").status_code == 302
    assert db.scalars(sa.select(Digest.state)) == ["pending"]
