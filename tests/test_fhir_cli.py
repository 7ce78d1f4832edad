"""`surveillance tokens create|list|revoke`, on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from surveillance.cli import main
from surveillance.db.models import ApiToken, AuditEvent
from surveillance.feeds.tokens import token_hash
from surveillance.fhir.tokens import find_token

TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")


@pytest.fixture
def command(engine, session, clinic, monkeypatch):
    """Run `surveillance tokens` on the test database."""
    monkeypatch.setenv(
        "SURVEILLANCE_DATABASE_URL", engine.url.render_as_string(hide_password=False)
    )
    session.commit()
    return lambda *args: CliRunner().invoke(main, ["tokens", *args])


def test_create_list_revoke(command, session, clinic):
    created = command("create", "--clinic", "TEST", "--label", "DIPS")
    assert created.exit_code == 0, created.output
    token = created.stdout.strip()
    assert TOKEN.fullmatch(token) and "Authorization: Bearer" in created.stderr
    row = session.scalar(sa.select(ApiToken))
    assert row.token_hash == token_hash(token) and row.clinic_id == clinic.id
    listing = command("list")
    assert token not in listing.stdout
    assert re.search(rf"{row.id}\s+TEST\s+DIPS .* active", listing.stdout)
    assert command("revoke", str(row.id)).exit_code == 0
    session.rollback()  # a fresh read: the command wrote since
    assert find_token(session, token) is None
    assert "revoked" in command("list").stdout
    actions = session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions == ["api_token.create", "api_token.revoke"]


def test_unknown_clinic_and_token_are_refused_in_one_line(command, session):
    for args in (("create", "--clinic", "NOPE"), ("revoke", "999")):
        result = command(*args)
        assert result.exit_code == 2 and result.stderr.startswith("error: ")
        assert "Traceback" not in result.stderr
    assert session.scalar(sa.select(sa.func.count()).select_from(ApiToken)) == 0
