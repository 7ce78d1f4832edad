"""`surveillance reminders ...` as an admin types it: dry run, send, status, recipients, opt-in."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from surveillance.cli import main
from surveillance.db.models import AuditEvent, Clinic, Digest, Patient, User
from surveillance.services.accounts import Admin, add_user
from tests.support.data import TODAY
from tests.support.smtp import give_work


@pytest.fixture
def cli(engine, session, tmp_path, monkeypatch):
    """Run the command line on the test database; mail goes to .eml files in tmp_path."""
    url = engine.url.render_as_string(hide_password=False)
    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\nurl = "{url}"\n\n[patients]\naccept_synthetic_ids = true\n\n'
        f'[mail]\noutbox_dir = "{tmp_path / "outbox"}"\n'
    )
    monkeypatch.setenv("SURVEILLANCE_CONFIG", str(config))
    monkeypatch.delenv("SURVEILLANCE_DATABASE_URL", raising=False)
    return lambda *args: CliRunner().invoke(main, list(args))


def digests(session) -> list[Digest]:
    session.rollback()
    session.expire_all()
    return list(session.scalars(sa.select(Digest)))


def test_a_dry_run_on_the_demo_prints_a_real_digest_and_records_nothing(cli, session, tmp_path):
    assert cli("demo", "--patients", "24", "--today", TODAY.isoformat()).exit_code == 0
    result = cli("reminders", "send", "--dry-run", "--date", TODAY.isoformat())
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("Subject: [DEMO] Arbeidsliste 1.6.2026: ")
    assert "\nTo: sykepleier@demo.invalid\n" in out
    assert re.search(r"\nMessage-ID: <digest\.20260601\.DEMO\.[0-9a-f]{16}@localhost>\n", out)
    assert "\n--- text/plain ---\nArbeidsliste for Demoklinikken" in out
    assert "\n--- text/html ---\n<!DOCTYPE html>" in out
    assert result.stderr == f"DEMO {TODAY}: would send\n"
    shown = re.sub(r"Message-ID: .*", "", out)
    assert not re.search(r"(?<!\d)\d{11}(?!\d)|\bP-\d+", shown)
    for name in session.scalars(sa.select(Patient.name)):
        assert name not in shown
    assert digests(session) == [] and not (tmp_path / "outbox").exists()


def test_send_then_rerun_then_status(cli, session, ctx, create_patient, clinic, tmp_path):
    give_work(session, ctx, create_patient, clinic)
    first = cli("reminders", "send", "--date", TODAY.isoformat())
    assert (first.exit_code, first.stdout) == (
        0,
        f"TEST {TODAY}: sent (to leder@klinikk.test, sykepleier@klinikk.test)\n",
    )
    rerun = cli("reminders", "send", "--date", TODAY.isoformat())
    assert (rerun.exit_code, rerun.stdout) == (0, "nothing new to send\n")
    [row] = digests(session)
    [eml] = (tmp_path / "outbox").iterdir()
    assert eml.name == row.message_id.strip("<>") + ".eml"
    status = cli("reminders", "status", "--days", "400")
    assert status.exit_code == 0
    assert re.search(
        rf"{TODAY}  TEST\s+sent\s+1  \d{{4}}-\d\d-\d\d \d\d:\d\d  {re.escape(row.message_id)}",
        status.stdout,
    )
    assert status.stdout.endswith("1 digests, 0 failed\n")
    dry = cli("reminders", "send", "--dry-run", "--date", TODAY.isoformat())
    assert (dry.stdout, dry.stderr) == ("", f"TEST {TODAY}: already sent\n")


def test_an_unknown_clinic_is_refused(cli, session):
    result = cli("reminders", "send", "--clinic", "NOPE")
    assert result.exit_code == 2
    assert result.stderr == "error: clinic: 'NOPE' is not a known clinic code\n"


def test_recipients_and_references_of_a_clinic(cli, session, clinic):
    result = cli(
        "reminders",
        "recipients",
        "--clinic",
        "TEST",
        "--set",
        "Sykepleier@Klinikk.test; leder@klinikk.test",
        "--references",
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "TEST: listed: sykepleier@klinikk.test, leder@klinikk.test\n"
        "TEST: all recipients, with users who opted in: leder@klinikk.test, sykepleier@klinikk.test\n"
        "TEST: local references in the e-mail: yes\n"
    )
    session.rollback()
    session.expire_all()
    saved = session.get(Clinic, clinic.id)
    assert (saved.digest_recipients, saved.digest_include_references) == (
        "sykepleier@klinikk.test, leder@klinikk.test",
        True,
    )
    event = session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "clinic.digest")).one()
    assert event.details["include_references"] is True
    refused = cli("reminders", "recipients", "--clinic", "TEST", "--set", "sykepleier")
    assert refused.exit_code == 2
    assert refused.stderr == "error: recipients: 'sykepleier' is not an e-mail address\n"


def test_a_user_opts_in_and_out(cli, session, ctx, clinic):
    add_user(
        session,
        Admin(ctx.actor),
        email="anne@klinikk.test",
        password="riktig hest batteri stift",
        role="nurse",
        clinic_codes=["TEST"],
    )
    assert cli("reminders", "opt-in", "Anne@klinikk.test").stdout == (
        "anne@klinikk.test: gets the daily digests\n"
    )
    shown = cli("reminders", "recipients", "--clinic", "TEST").stdout
    assert "with users who opted in: anne@klinikk.test\n" in shown
    assert cli("reminders", "opt-in", "anne@klinikk.test", "--off").exit_code == 0
    session.rollback()
    session.expire_all()
    assert session.scalars(sa.select(User.digest_opt_in)).one() is False
    unknown = cli("reminders", "opt-in", "nobody@klinikk.test")
    assert (unknown.exit_code, unknown.stderr) == (
        2,
        "error: email: 'nobody@klinikk.test' has no account\n",
    )
