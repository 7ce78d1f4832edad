"""The feed over HTTP (no login, ETag, 304, 404) and the page that manages feeds."""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from datetime import UTC, timedelta

import pytest
import sqlalchemy as sa

from surveillance.clock import clinic_today
from surveillance.config import Config
from surveillance.db.models import AuditEvent, CalendarFeed, Clinic, PlannedExam
from surveillance.feeds.store import create_clinic_feed
from surveillance.services import Actor, Context, register_patient
from surveillance.services.accounts import Admin, add_user
from surveillance.web import create_app
from tests.support.apps import sharing_templates
from tests.support.data import synthetic_id
from tests.support.feeds import parse_all

PASSWORD = "correct horse battery"
ADMIN = Actor("admin@test")


@pytest.fixture
def app(engine, session, tmp_path):
    """The dashboard on the test database; its own engine is disposed afterwards."""
    base = Config()
    config = replace(
        base,
        database=replace(base.database, url=engine.url.render_as_string(hide_password=False)),
        web=replace(base.web, secret_key="s" * 32, instance_dir=str(tmp_path)),
    )
    app = sharing_templates(create_app(config, {"TESTING": True}))
    yield app
    app.extensions["surveillance"].sessions.kw["bind"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def planned(session, clinic):
    """A patient treated a month ago (by the real clock: the app's today is the clinic's)."""
    today = clinic_today()
    ctx = Context(Actor("nurse@test"), today, accept_synthetic_ids=True)
    return register_patient(
        session,
        ctx,
        clinic_code=clinic.code,
        national_id=synthetic_id(),
        name="Kari Nordmann",
        treatment_date=today - timedelta(days=30),
        treatment_kind="ablation",
    )


@pytest.fixture
def feed_path(session, clinic, planned) -> str:
    return create_clinic_feed(session, ADMIN, clinic.id).path


def csrf_token(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


@pytest.fixture
def nurse(session, clinic, client):
    """The test client logged in as a nurse of the clinic."""
    add_user(
        session,
        Admin(ADMIN),
        email="nurse@test",
        password=PASSWORD,
        role="nurse",
        clinic_codes=[clinic.code],
    )
    token = csrf_token(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login", data={"email": "nurse@test", "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302
    return client


# ---- the subscription ------------------------------------------------------------------


def test_a_feed_is_served_without_login_as_a_calendar(client, feed_path, planned):
    response = client.get(feed_path)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert "Content-Disposition" not in response.headers
    assert response.headers["ETag"] and response.headers["Last-Modified"]
    assert response.headers["Cache-Control"] == "private, no-cache"
    assert "Set-Cookie" not in response.headers
    events = parse_all(response.get_data(as_text=True))
    assert len(events) >= 2 and all("P-" in e[2] for e in events.values())


def test_dtstamp_is_the_last_change_not_the_request_time(client, session, feed_path, planned):
    first, second = client.get(feed_path), client.get(feed_path)
    assert first.get_data() == second.get_data()
    stamps = set(re.findall(r"DTSTAMP:(\w+)", first.get_data(as_text=True)))
    changes = session.scalars(sa.select(PlannedExam.updated_at)).all()
    assert stamps <= {f"{c.astimezone(UTC):%Y%m%dT%H%M%SZ}" for c in changes}


@pytest.mark.parametrize(
    "path",
    [
        "/feeds/" + "A" * 43 + ".ics",  # well formed, unknown
        "/feeds/short.ics",  # not a token at all
        "/feeds/" + "A" * 43 + ".ics.bak",  # not the feed's path
    ],
)
def test_an_unknown_token_is_not_found(client, path):
    response = client.get(path)
    assert response.status_code == 404 and b"VCALENDAR" not in response.get_data()


def test_a_revoked_feed_is_not_found_at_once(client, session, feed_path):
    assert client.get(feed_path).status_code == 200
    with session.begin():
        session.execute(sa.update(CalendarFeed).values(revoked_at=sa.func.now()))
    assert client.get(feed_path).status_code == 404


def test_a_client_with_the_current_copy_gets_304(client, feed_path):
    first = client.get(feed_path)
    by_etag = client.get(feed_path, headers={"If-None-Match": first.headers["ETag"]})
    by_date = client.get(feed_path, headers={"If-Modified-Since": first.headers["Last-Modified"]})
    stale = client.get(feed_path, headers={"If-None-Match": '"something-else"'})
    assert by_etag.status_code == by_date.status_code == 304 and by_etag.get_data() == b""
    assert by_etag.headers["ETag"] == first.headers["ETag"]
    assert stale.status_code == 200


def test_a_change_gives_a_new_etag(client, session, feed_path, planned):
    first = client.get(feed_path)
    with session.begin():
        session.execute(
            sa.update(PlannedExam)
            .where(PlannedExam.id == planned.exams[0].id)
            .values(sequence=PlannedExam.sequence + 1, updated_at=sa.func.now())
        )
    again = client.get(feed_path, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 200 and again.headers["ETag"] != first.headers["ETag"]


# ---- tokens stay out of the logs --------------------------------------------------------


def test_the_request_logs_print_no_token(app, caplog):
    token = "T" * 43
    with caplog.at_level(logging.INFO):
        logging.getLogger("werkzeug").info(
            '%s - - "%s" %s -', "127.0.0.1", f"GET /feeds/{token}.ics HTTP/1.1", "200"
        )
        logging.getLogger("waitress").error(f"Exception while serving /feeds/{token}.ics")
    assert token not in caplog.text and caplog.text.count("/feeds/<token>.ics") == 2


def test_an_error_while_serving_logs_no_token(client, feed_path, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr("surveillance.web.feeds.serve_feed", broken)
    with caplog.at_level(logging.ERROR):
        response = client.get(feed_path)
    token = feed_path.removeprefix("/feeds/").removesuffix(".ics")
    assert response.status_code == 500 and token not in caplog.text
    assert "calendar feed" in caplog.text


# ---- the page --------------------------------------------------------------------------


def test_the_page_needs_a_login(client):
    assert client.get("/feeds").status_code == 302
    assert client.post("/feeds/1/revoke").status_code in (302, 400)


def test_the_page_speaks_norwegian_by_default(nurse):
    page = nurse.get("/feeds").get_data(as_text=True)
    assert "Kalenderabonnementer" in page and "Calendar feeds" not in page
    refused = nurse.post("/feeds", data={"owner": "0", "csrf_token": csrf_token(page)})
    assert "Kontroller for: «0» er ikke en av dine klinikker" in refused.get_data(as_text=True)


def test_a_new_feed_shows_its_addresses_once(nurse, session, clinic):
    page = nurse.get("/feeds", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Calendar feeds" in page
    response = nurse.post(
        "/feeds", data={"owner": str(clinic.id), "label": "Desk", "csrf_token": csrf_token(page)}
    )
    assert response.status_code == 201
    html = response.get_data(as_text=True)
    (https,) = re.findall(r'value="(http://[^"]+\.ics)"', html)
    (webcal,) = re.findall(r'value="(webcal://[^"]+\.ics)"', html)
    assert webcal == "webcal://" + https.split("://")[1]
    path = "/feeds/" + https.rsplit("/feeds/", 1)[1]
    assert nurse.get(path).status_code == 200
    assert path not in nurse.get("/feeds").get_data(as_text=True)  # shown only that once


def test_a_personal_feed_and_no_feed_of_another_clinic(nurse, session):
    with session.begin():
        session.add(Clinic(code="OTHER", name="Den andre"))
    other = session.scalar(sa.select(Clinic.id).where(Clinic.code == "OTHER"))
    token = csrf_token(nurse.get("/feeds").get_data(as_text=True))
    refused = nurse.post("/feeds", data={"owner": str(other), "csrf_token": token})
    assert refused.status_code == 400
    personal = nurse.post("/feeds", data={"owner": "user", "csrf_token": token})
    assert personal.status_code == 201
    session.rollback()  # end the test's read, to see what the app wrote
    assert session.scalar(sa.select(CalendarFeed.kind)) == "user"


def test_revoking_needs_the_form_token_and_is_audited(nurse, session, clinic, feed_path):
    (feed_id,) = session.scalars(sa.select(CalendarFeed.id)).all()
    assert nurse.post(f"/feeds/{feed_id}/revoke").status_code == 400  # no CSRF token
    token = csrf_token(nurse.get("/feeds").get_data(as_text=True))
    response = nurse.post(f"/feeds/{feed_id}/revoke", data={"csrf_token": token})
    assert response.status_code == 302
    assert nurse.get(feed_path).status_code == 404
    session.rollback()  # end the test's read, to see what the app wrote
    actions = session.scalars(sa.select(AuditEvent.action)).all()
    assert "feed.revoke" in actions
