"""`surveillance feeds create|list|revoke|details`, on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from surveillance.cli import main
from surveillance.db.models import AuditEvent, CalendarFeed, Clinic, FeedEvent, User
from surveillance.feeds.store import find_scope
from surveillance.feeds.tokens import token_hash

PATH = re.compile(r"/feeds/([A-Za-z0-9_-]{43})\.ics")


@pytest.fixture
def command(engine, session, clinic, tmp_path, monkeypatch):
    """Run `surveillance` on the test database; the result keeps stdout and stderr apart."""
    config = tmp_path / "config.toml"
    config.write_text('[web]\nbase_url = "https://oppfolging.example.no"\n', "utf-8")
    monkeypatch.setenv("SURVEILLANCE_CONFIG", str(config))
    url = engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("SURVEILLANCE_DATABASE_URL", url)
    session.commit()  # the clinic is there for the command's own connection
    return lambda *args: CliRunner().invoke(main, ["feeds", *args])


def test_create_prints_the_path_once(command, session):
    result = command("create", "--clinic", "TEST", "--label", "Desk")
    assert result.exit_code == 0, result.output
    (token,) = PATH.fullmatch(result.stdout.strip()).groups()
    assert "https://oppfolging.example.no/feeds/" in result.stderr
    feed = session.scalar(sa.select(CalendarFeed))
    assert feed.token_hash == token_hash(token) and feed.label == "Desk"
    assert find_scope(session, token).clinic_codes == ("TEST",)
    listing = command("list")
    assert listing.exit_code == 0 and token not in listing.output
    assert re.search(rf"{feed.id}\s+clinic TEST\s+Desk .* active", listing.stdout)


def test_a_personal_feed_by_e_mail(command, session, clinic):
    with session.begin():
        session.add(User(email="nurse@test", password_hash="-", role="nurse", clinics=[clinic]))
    result = command("create", "--user", "Nurse@Test")
    assert result.exit_code == 0, result.output
    assert "user nurse@test" in command("list").stdout


def test_revoke(command, session):
    token = PATH.fullmatch(command("create", "--clinic", "TEST").stdout.strip()).group(1)
    feed_id = session.scalar(sa.select(CalendarFeed.id))
    session.rollback()
    result = command("revoke", str(feed_id))
    assert result.exit_code == 0 and result.stdout == f"feed {feed_id} revoked\n"
    assert find_scope(session, token) is None
    assert "revoked" in command("list").stdout
    assert "feed.revoke" in session.scalars(sa.select(AuditEvent.action)).all()


def test_details_switch_a_clinics_opt_in(command, session):
    assert command("details", "--clinic", "TEST", "on").exit_code == 0
    assert session.scalar(sa.select(Clinic.feed_include_details)) is True
    session.rollback()
    assert command("details", "--clinic", "TEST", "off").exit_code == 0
    assert session.scalar(sa.select(Clinic.feed_include_details)) is False


@pytest.mark.parametrize(
    "args, message",
    [
        (("create", "--clinic", "NOPE"), "clinic: 'NOPE' is not a known clinic code"),
        (("create", "--user", "nobody@test"), "no account 'nobody@test'"),
        (("revoke", "999999"), "feed 999999 not found"),
    ],
)
def test_refusals_are_one_line(command, args, message):
    result = command(*args)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == f"error: {message}\n"


def test_create_needs_exactly_one_owner(command):
    assert command("create").exit_code == 2
    assert command("create", "--clinic", "TEST", "--user", "x@test").exit_code == 2


def test_prepare_serialises_every_live_feeds_events_ahead_of_the_calendars(
    command, session, create_patient
):
    """After an upgrade: the events are in the database before a calendar's first fetch."""
    create_patient(treatment_date="2026-05-15", treatment_kind="resection")
    assert command("create", "--clinic", "TEST").exit_code == 0
    result = command("prepare")
    assert result.exit_code == 0, result.output
    kept = session.scalar(sa.select(sa.func.count()).select_from(FeedEvent))
    assert kept >= 2
    assert result.stdout == f"1 feeds prepared: {kept} events serialised, 0 kept already\n"
    again = command("prepare")
    assert again.stdout == f"1 feeds prepared: 0 events serialised, {kept} kept already\n"
