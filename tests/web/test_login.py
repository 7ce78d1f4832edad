"""Logging in and out: one answer for every refusal, throttling, sessions that end on the server."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from surveillance.clock import utcnow
from surveillance.db.models import LoginThrottle, User, UserSession
from surveillance.services import Actor
from surveillance.services.accounts import Admin, set_active, user_by_email

from .browsing import PASSWORD, Browser, flashes, goes_to_login, visible_text


def travel(db, model, **ago: timedelta) -> None:
    """Move every row's timestamps into the past, as if that much time had gone by."""
    now = utcnow()
    with db.engine.begin() as conn:
        conn.execute(sa.update(model).values({name: now - delta for name, delta in ago.items()}))


def logged_in(browser) -> bool:
    return browser.get("/").status_code == 200


def without_values(page) -> str:
    """The page without the values of its fields (the CSRF token, the e-mail typed)."""
    return re.sub(r'value="[^"]*"', "", page.text)


def stays_on_this_site(answer) -> bool:
    """A redirect to a path of this site, which no browser reads as another host."""
    where = urlsplit(answer.location)
    return (
        answer.status_code == 302
        and not where.scheme
        and not where.netloc
        and answer.location.startswith("/")
        and not answer.location.startswith("//")
        and "\\" not in answer.location
    )


def login_form(app):
    """Log in through the form of a fresh browser; return the answer to the post."""

    def log_in(email: str, password: str, address: str = "127.0.0.1"):
        browser = Browser(app.test_client())
        browser.client.environ_base["REMOTE_ADDR"] = address
        return browser.submit(browser.get("/login"), "", email=email, password=password)

    return log_in


def test_a_nurse_logs_in_and_sees_the_worklist(world, log_in):
    nurse = log_in(world.a.nurse)
    page = nurse.get("/")
    assert page.status_code == 200
    assert world.a.nurse in page.text


def test_the_email_is_not_case_sensitive(world, log_in):
    assert logged_in(log_in(world.a.nurse.upper()))


def test_an_unknown_user_and_a_wrong_password_get_the_same_answer(world, log_in):
    unknown = log_in("nobody@test", PASSWORD, expect_success=False)
    wrong = log_in(world.a.nurse, "not the password at all", expect_success=False)
    assert unknown.status_code == wrong.status_code == 200
    assert flashes(unknown) == flashes(wrong) and flashes(wrong)
    assert without_values(unknown) == without_values(wrong)


def disable(session, email: str) -> None:
    """Disable an account as an installation administrator would."""
    user = user_by_email(session, email)
    set_active(session, Admin(Actor("admin@test")), user.id, False, utcnow())


def test_a_disabled_account_gets_the_same_answer_as_a_wrong_password(world, log_in, session):
    disable(session, world.a.nurse)
    disabled = log_in(world.a.nurse, PASSWORD, expect_success=False)
    wrong = log_in(world.a.admin, "not the password at all", expect_success=False)
    assert disabled.status_code == wrong.status_code and flashes(disabled) == flashes(wrong)


@pytest.mark.parametrize("limit", [None, 3])  # the default (5), and a configured one
def test_the_account_is_locked_after_too_many_failures(make_app, world, limit, db):
    app = make_app(**({"max_failures_per_account": limit} if limit else {}))
    limit = app.extensions["surveillance"].config.web.max_failures_per_account
    log_in = login_form(app)
    for _ in range(limit - 1):
        refused = log_in(world.a.nurse, "not the password at all")
    wrong_password = flashes(refused)
    locked = log_in(world.a.nurse, "not the password at all")
    right_password = log_in(world.a.nurse, PASSWORD)
    assert right_password.status_code != 302
    message = flashes(right_password)
    assert message == flashes(locked) and message != wrong_password  # a clear, different message
    # The first step of the progressive delay (1, 2, 4 ... up to web.lockout_minutes).
    assert message == ["For mange mislykkede forsøk. Prøv igjen om 1 minutt."]
    assert db.count(UserSession) == 0
    assert log_in(world.a.admin, PASSWORD).status_code == 302  # only that account is locked


def test_a_lock_of_one_minute_says_minute(make_app, world):
    log_in = login_form(make_app(max_failures_per_account=1, lockout_minutes=1))
    log_in(world.a.nurse, "not the password at all")
    assert flashes(log_in(world.a.nurse, PASSWORD)) == [
        "For mange mislykkede forsøk. Prøv igjen om 1 minutt."
    ]


def test_a_lock_ends_after_its_minutes(make_app, world, db):
    log_in = login_form(make_app(max_failures_per_account=2))
    for _ in range(2):
        log_in(world.a.nurse, "not the password at all")
    assert log_in(world.a.nurse, PASSWORD).status_code != 302
    travel(db, LoginThrottle, locked_until=timedelta(seconds=1), updated_at=timedelta(minutes=16))
    assert log_in(world.a.nurse, PASSWORD).status_code == 302


def test_an_address_is_locked_after_too_many_failures(make_app, world, db):
    log_in = login_form(make_app(max_failures_per_address=3))
    for n in range(3):  # a different account each time: only the address adds up
        log_in(f"guess{n}@test", "not the password at all", address="10.0.0.7")
    assert log_in(world.a.nurse, PASSWORD, address="10.0.0.7").status_code != 302
    assert log_in(world.a.nurse, PASSWORD, address="10.0.0.8").status_code == 302


def test_the_session_cookie_changes_at_login(app, world):
    browser = Browser(app.test_client())
    page = browser.get("/login")
    planted = browser.client.get_cookie("session").value  # what an attacker could have set
    browser.submit(page, "", email=world.a.nurse, password=PASSWORD)
    assert browser.client.get_cookie("session").value != planted
    assert logged_in(browser)
    attacker = Browser(app.test_client())
    attacker.client.set_cookie("session", planted)
    assert goes_to_login(attacker.get("/"))


def test_each_login_is_its_own_server_side_session(world, log_in, db):
    log_in(world.a.nurse)
    log_in(world.a.nurse)
    assert len({s.token_hash for s in db.scalars(sa.select(UserSession))}) == 2


def test_logout_ends_every_session_of_the_user(world, log_in, db):
    office, ward = log_in(world.a.nurse), log_in(world.a.nurse)
    colleague = log_in(world.a.admin)
    answer = office.post("/logout")
    assert goes_to_login(answer)
    assert goes_to_login(office.get("/")) and goes_to_login(ward.get("/"))
    assert logged_in(colleague)  # another user's session goes on
    assert len(db.events("logout")) == 1


def test_logout_is_a_post_with_a_token(world, log_in):
    nurse = log_in(world.a.nurse)
    assert nurse.get("/logout").status_code == 405
    assert nurse.post("/logout", token=False).status_code == 400
    assert logged_in(nurse)


def test_disabling_the_user_ends_all_sessions_at_once(world, log_in, session):
    office, ward = log_in(world.a.nurse), log_in(world.a.nurse)
    disable(session, world.a.nurse)
    assert goes_to_login(office.get("/")) and goes_to_login(ward.get("/"))


def test_an_administrator_disabling_a_nurse_logs_the_nurse_out(world, log_in, db):
    from surveillance.db.models import User

    nurse, admin = log_in(world.a.nurse), log_in(world.a.admin)
    user_id = db.scalars(sa.select(User.id).where(User.email == world.a.nurse))[0]
    assert (
        admin.submit(admin.get("/admin/users"), f"/admin/users/{user_id}/active").status_code == 302
    )
    assert goes_to_login(nurse.get("/"))
    assert db.get(User, user_id).active is False


@pytest.mark.parametrize(
    "idle, still_in",
    [
        (timedelta(minutes=29), True),  # within web.idle_timeout_minutes (30)
        (timedelta(minutes=31), False),  # past it
    ],
)
def test_the_idle_timeout(world, log_in, db, idle, still_in):
    nurse = log_in(world.a.nurse)
    travel(db, UserSession, last_seen_at=idle)
    assert logged_in(nurse) is still_in


def test_the_idle_time_counts_from_the_last_page(world, log_in, db):
    nurse = log_in(world.a.nurse)
    travel(db, UserSession, last_seen_at=timedelta(minutes=20))
    assert logged_in(nurse)
    seen = db.scalars(sa.select(UserSession.last_seen_at))[0]
    assert utcnow() - seen < timedelta(minutes=1)


@pytest.mark.parametrize(
    "age, still_in",
    [
        (timedelta(hours=11, minutes=59), True),  # within web.absolute_timeout_hours (12)
        (timedelta(hours=12, minutes=1), False),  # past it, however busy the nurse
    ],
)
def test_the_absolute_timeout(world, log_in, db, age, still_in):
    nurse = log_in(world.a.nurse)
    travel(db, UserSession, created_at=age, last_seen_at=timedelta(0))
    assert logged_in(nurse) is still_in


def test_an_ended_session_stays_ended(world, log_in, db):
    nurse = log_in(world.a.nurse)
    travel(db, UserSession, last_seen_at=timedelta(minutes=31))
    assert not logged_in(nurse)
    travel(db, UserSession, last_seen_at=timedelta(0))
    assert not logged_in(nurse)


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/",  # another site, scheme-relative
        "https://evil.example/",  # another site
        "/\\evil.example/",  # a backslash browsers read as a slash
        "javascript:alert(1)",  # a script
    ],
)
def test_login_never_redirects_to_another_site(app, world, target):
    browser = Browser(app.test_client())
    page = browser.get("/login", query_string={"next": target})
    answer = browser.submit(page, "", email=world.a.nurse, password=PASSWORD)
    assert stays_on_this_site(answer)


def test_login_goes_back_to_the_page_asked_for(app, world, anonymous):
    answer = anonymous.get(f"/patients/{world.a.patient_id}")
    page = anonymous.get(answer.location)
    assert (
        anonymous.submit(page, "", email=world.a.nurse, password=PASSWORD).location
        == f"/patients/{world.a.patient_id}"
    )


def test_the_login_page_speaks_norwegian_first(anonymous):
    page = anonymous.get("/login")
    assert '<html lang="nb"' in page.text


@pytest.mark.parametrize(
    "accept, lang",
    [
        ("no", "nb"),  # Norwegian in general
        ("nn", "nb"),  # nynorsk: bokmål is closer than English
        ("nb-NO,nb;q=0.9", "nb"),
        ("en-GB,en;q=0.8", "en"),
        ("de-DE", "nb"),  # no catalogue: the default
    ],
)
def test_the_browsers_language_is_followed(world, log_in, accept, lang):
    nurse = log_in(world.a.nurse)
    page = nurse.get("/", headers={"Accept-Language": accept})
    assert f'<html lang="{lang}"' in page.text


def test_choosing_english_changes_the_page_text(world, log_in):
    nurse = log_in(world.a.nurse)
    norwegian = nurse.get("/")
    answer = nurse.submit(norwegian, "/language", lang="en")
    assert answer.status_code == 302 and urlsplit(answer.location).path == "/"  # back there
    english = nurse.get("/")
    assert '<html lang="en"' in english.text
    assert "Overdue" in visible_text(english) and "Overdue" not in visible_text(norwegian)
    nurse.submit(english, "/language", lang="nb")
    assert '<html lang="nb"' in nurse.get("/").text


def test_the_language_chosen_before_login_is_kept(anonymous, world):
    anonymous.submit(anonymous.get("/login"), "/language", lang="en")
    page = anonymous.get("/login")
    anonymous.submit(page, "", email=world.a.nurse, password=PASSWORD)
    assert '<html lang="en"' in anonymous.get("/").text


@pytest.mark.parametrize("target", ["//evil.example/", "/\\evil.example/", "https://evil.example/"])
def test_the_language_switch_never_redirects_to_another_site(anonymous, target):
    answer = anonymous.post("/language", {"lang": "en", "next": target})
    assert stays_on_this_site(answer)


def test_a_user_made_inactive_without_ending_the_sessions_is_let_in_no_more(world, log_in, db):
    nurse = log_in(world.a.nurse)
    assert logged_in(nurse)
    with db.engine.begin() as conn:  # only the flag: not set_active, which ends the sessions
        conn.execute(sa.update(User).where(User.email == world.a.nurse).values(active=False))
    assert goes_to_login(nurse.get("/"))
    user_id = db.scalars(sa.select(User.id).where(User.email == world.a.nurse))[0]
    ended = db.scalars(sa.select(UserSession.ended_at).where(UserSession.user_id == user_id))
    assert ended and all(at is not None for at in ended)


def test_a_nurse_of_several_clinics_reaches_each_and_chooses_among_them_by_code(
    world, create_clinic, create_user, log_in
):
    create_clinic("AA")  # by id A, B, AA; by code A, AA, B
    browser = log_in(create_user("several@test", clinics=("B", "AA", "A")))
    assert browser.get(f"/patients/{world.a.patient_id}").status_code == 200
    assert browser.get(f"/patients/{world.b.patient_id}").status_code == 200
    page = browser.get("/patients/new").get_data(as_text=True)
    assert re.findall(r'<option value="(A|AA|B)"', page) == ["A", "AA", "B"]
