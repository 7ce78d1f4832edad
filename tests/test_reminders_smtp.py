"""The digest through a real SMTP server on loopback: what it says, to whom, and the faults."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from surveillance.cli import main
from surveillance.db import writing
from surveillance.db.models import Clinic, Digest, Patient
from surveillance.reminders.daily import send_daily
from surveillance.reminders.mail import PermanentFailure
from surveillance.services import record_decision, record_primary_control, worklist
from surveillance.services.accounts import Admin, add_user
from tests.support.data import TODAY
from tests.support.smtp import (
    NAMES,
    NOW,
    SmtpServer,
    authenticator,
    client_context,
    free_port,
    give_work,
    make_certificate,
    server_context,
    smtp_config,
    tally,
)

NATIONAL_ID = re.compile(r"(?<!\d)\d{11}(?!\d)")
LOCAL_REFERENCE = re.compile(r"\bP-\d+")
# Exam names in either language: a CEA test alone reveals a cancer.
EXAM_NAME = re.compile(r"\b(CT|CEA|MR|MRI|PET|ct_tap|ct_liver|cea|koloskopi|colonoscopy)\b")
NB_LABELS = {
    "Å bestille": "to_book",
    "Forsinket": "overdue",
    "Bestilt, mangler svar": "results_missing",
    "Til MDT-vurdering": "mdt_review",
    "Time å avbestille": "booking_to_cancel",
}


@pytest.fixture
def server():
    with SmtpServer() as running:
        yield running


@pytest.fixture
def work(session, ctx, create_patient, clinic):
    return give_work(session, ctx, create_patient, clinic)


def send(engine, server, now=NOW, **options):
    config = smtp_config(server.port, **options.pop("reminders", {}))
    return send_daily(
        engine,
        config,
        server.backend(**options.pop("backend", {})),
        today=TODAY,
        now=now,
        **options,
    )


def readable(received) -> str:
    """Subject and both parts, decoded: what a person reads."""
    message = received.message
    return "\n".join([message["Subject"]] + [p.get_content() for p in message.iter_parts()])


def listed_counts(text: str) -> dict[str, int]:
    found = re.findall(r"^(.+?):\s+(\d+)", text, re.MULTILINE)
    return {NB_LABELS[label]: int(n) for label, n in found if label in NB_LABELS}


def digest_row(session) -> Digest:
    session.rollback()  # a new transaction: what the sender committed meanwhile
    session.expire_all()
    return session.scalars(sa.select(Digest)).one()


def test_the_digest_has_both_parts_the_recipients_and_the_worklists_counts(
    engine, session, ctx, clinic, work, server
):
    outcomes = send(engine, server)
    assert [(o.clinic, o.state) for o in outcomes] == [("TEST", "sent")]
    [received] = server.received
    message = received.message
    assert received.recipients == ["leder@klinikk.test", "sykepleier@klinikk.test"]
    assert received.sender == "oppfolging@sykehus.test"
    assert message["To"] == "leder@klinikk.test, sykepleier@klinikk.test"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert message["Message-ID"] == digest_row(session).message_id
    counts = worklist(session, ctx, [clinic.id]).counts
    assert all(counts[action] > 0 for action in NB_LABELS.values())  # every list has work
    text, html = (p.get_content() for p in message.iter_parts())
    assert listed_counts(text) == {action: counts[action] for action in NB_LABELS.values()}
    for action in NB_LABELS.values():
        assert f"<strong>{counts[action]}</strong>" in html
    assert f"{counts['to_book']} å bestille, {counts['overdue']} forsinket" in message["Subject"]
    link = f"http://127.0.0.1:5000/?clinic={clinic.id}"  # the dashboard's worklist
    assert link in text and f'href="{link}"' in html
    assert digest_row(session).counts == counts


@pytest.mark.parametrize(
    "language, labels",
    [
        ("nb", {"Koordinert": "coordinated", "På vent": "on_hold", "Tapt for oppfølging": "lost"}),
        ("en", {"Coordinated": "coordinated", "On hold": "on_hold", "Lost to follow-up": "lost"}),
    ],
)
def test_the_digest_counts_coordinated_on_hold_and_lost_controls(
    engine, session, ctx, clinic, work, server, treated_patient, language, labels
):
    # Worked example 6: the month-6 control coordinated with a primary control ahead (R8).
    coordinated = treated_patient("2025-12-01")
    record_primary_control(session, ctx, coordinated.id, date="2026-06-25", exams=["ct_tap", "cea"])
    held = treated_patient("2025-12-10")  # the MDT plans a treatment: on hold (R13)
    record_decision(session, ctx, held.id, decision="treatment_planned", date="2026-05-20")
    treated_patient("2024-01-15")  # nothing recorded since: lost to follow-up (R14)
    counts = worklist(session, ctx, [clinic.id]).counts
    expected = {"coordinated": 1, "on_hold": counts["on_hold"], "lost": 2}  # and Kari's
    assert (counts["coordinated"], counts["lost_to_follow_up"]) == (1, 2)
    assert counts["on_hold"] > 0

    send(engine, server, reminders={"language": language})
    text, html = (p.get_content() for p in server.received[0].message.iter_parts())
    found = re.findall(r"^(.+?):\s+(\d+)", text, re.MULTILINE)
    assert {labels[label]: int(n) for label, n in found if label in labels} == expected
    for label, action in labels.items():
        assert re.search(rf"{label}</td>\s*<td[^>]*><strong>{expected[action]}</strong>", html)


def test_no_national_id_name_local_reference_or_exam_name_by_default(
    engine, session, clinic, work, server
):
    send(engine, server)
    [received] = server.received
    shown, raw = readable(received), received.message.as_string()
    assert not NATIONAL_ID.search(shown)
    assert not LOCAL_REFERENCE.search(shown)
    assert not EXAM_NAME.search(shown)
    for patient in session.scalars(sa.select(Patient)):
        assert patient.national_id not in raw
        for word in patient.name.split():
            assert word not in raw
    assert digest_row(session).local_references is None  # not even stored


def test_local_references_only_for_a_clinic_that_opted_in(engine, session, clinic, work, server):
    with writing(session):
        session.get(Clinic, clinic.id).digest_include_references = True
    send(engine, server)
    shown = readable(server.received[0])
    references = {f"P-{p.local_number:04d}" for p in session.scalars(sa.select(Patient))}
    assert set(LOCAL_REFERENCE.findall(shown)) == references
    assert not NATIONAL_ID.search(shown) and not EXAM_NAME.search(shown)
    assert not any(name.split()[0] in shown for name in NAMES)


def test_withdrawing_the_opt_in_takes_effect_on_a_retry(engine, session, clinic, work, server):
    with writing(session):
        session.get(Clinic, clinic.id).digest_include_references = True
    server.handler.script = ["451 4.3.0 busy"]
    send(engine, server)
    with writing(session):
        session.get(Clinic, clinic.id).digest_include_references = False
    send(engine, server, now=NOW + timedelta(minutes=5))
    assert not LOCAL_REFERENCE.search(readable(server.received[0]))


def test_users_who_opted_in_get_it_too_while_active(engine, session, ctx, clinic, work, server):
    for email, opted in (
        ("anne@klinikk.test", True),
        ("bo@klinikk.test", False),
        ("cato@klinikk.test", True),
    ):
        user = add_user(
            session,
            Admin(ctx.actor),
            email=email,
            password="riktig hest batteri stift",
            role="nurse",
            clinic_codes=[clinic.code],
        )
        with writing(session):
            user.digest_opt_in = opted
            user.active = email != "cato@klinikk.test"  # a disabled account gets nothing
    send(engine, server)
    assert server.received[0].recipients == [
        "anne@klinikk.test",
        "leder@klinikk.test",
        "sykepleier@klinikk.test",
    ]


def test_a_rerun_of_the_same_day_sends_nothing_new(engine, session, work, server):
    send(engine, server)
    assert send(engine, server, now=NOW + timedelta(hours=1)) == []
    assert send(engine, server, now=NOW + timedelta(hours=9)) == []
    assert tally(server.received, {("TEST", TODAY)}) == {
        "lost": 0,
        "same_id_copies": 0,
        "duplicates": 0,
        "unexpected": 0,
    }


def test_a_clinic_without_recipients_gets_no_digest(
    engine, session, ctx, create_patient, clinic, server
):
    give_work(session, ctx, create_patient, clinic, recipients="")
    assert send(engine, server) == []
    assert session.scalars(sa.select(Digest)).all() == []


@pytest.mark.parametrize(
    "send_when_empty, sent",
    [
        (False, 0),  # the default: nothing to do, no e-mail
        (True, 1),  # configured: an e-mail that says so
    ],
)
def test_nothing_to_say(engine, session, clinic, server, send_when_empty, sent):
    with writing(session):
        session.get(Clinic, clinic.id).digest_recipients = "sykepleier@klinikk.test"
    outcomes = send(engine, server, reminders={"send_when_empty": send_when_empty})
    assert len(server.received) == sent
    assert digest_row(session).state == ("pending", "sent")[sent] if sent else "skipped"
    if sent:
        assert "Ingenting å gjøre i dag." in readable(server.received[0])
    else:
        assert [(o.state, o.detail) for o in outcomes] == [("skipped", "nothing to do")]


def test_the_change_since_the_last_digest(engine, session, ctx, clinic, work, server):
    send_daily(
        engine,
        smtp_config(server.port),
        server.backend(),
        today=TODAY - timedelta(days=3),
        now=NOW - timedelta(days=3),
    )  # the Friday before
    before = digest_row_of(session, TODAY - timedelta(days=3)).counts
    send(engine, server)
    text = server.received[1].message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    after = digest_row_of(session, TODAY).counts
    for label, action in NB_LABELS.items():
        change = after[action] - before[action]
        shown = f"{change:+d}" if change else "0"
        assert re.search(
            rf"^{label}:\s+{after[action]}  \({re.escape(shown)}\)$", text, re.MULTILINE
        )
    assert "I parentes: endringen siden fredag 29. mai 2026." in text


def digest_row_of(session, day) -> Digest:
    session.rollback()
    session.expire_all()
    return session.scalars(sa.select(Digest).where(Digest.day == day)).one()


# --- faults: every one ends with the digest delivered once, or failed with its error.


def test_a_4xx_answer_is_retried_later_then_sent(engine, session, work, server):
    server.handler.script = ["451 4.3.0 Mailbox temporarily unavailable"]
    [first] = send(engine, server)
    row = digest_row(session)
    assert (first.state, row.state, row.attempts) == ("retry", "pending", 1)
    assert row.last_error == "451 4.3.0 Mailbox temporarily unavailable"
    assert row.next_attempt_at == NOW + timedelta(minutes=5)
    assert send(engine, server, now=NOW + timedelta(minutes=4)) == []  # not due yet
    [second] = send(engine, server, now=NOW + timedelta(minutes=5))
    row = digest_row(session)
    assert (second.state, row.state, row.attempts, row.last_error) == ("sent", "sent", 2, None)
    assert tally(server.received, {("TEST", TODAY)})["lost"] == 0
    assert len(server.received) == 1


def test_the_pause_between_attempts_doubles_and_the_last_attempt_fails(
    engine, session, work, server
):
    server.handler.script = ["421 4.3.2 shutting down"] * 4
    now, pauses = NOW, []
    for _ in range(4):
        send(engine, server, now=now, reminders={"max_attempts": 4, "retry_max_minutes": 15})
        row = digest_row(session)
        if row.state == "pending":
            pauses.append(row.next_attempt_at - now)
            now = row.next_attempt_at
    assert pauses == [timedelta(minutes=5), timedelta(minutes=10), timedelta(minutes=15)]
    assert (row.state, row.attempts) == ("failed", 4)
    assert row.last_error == "gave up after 4 attempts: 421 4.3.2 shutting down"
    assert server.received == []


def test_a_5xx_answer_fails_with_its_error_shown_by_status(
    engine, session, work, server, tmp_path, monkeypatch
):
    server.handler.script = ["554 5.7.1 Message rejected as spam"]
    [outcome] = send(engine, server)
    row = digest_row(session)
    assert (outcome.state, row.state, row.attempts) == ("failed", "failed", 1)
    assert row.last_error == "554 5.7.1 Message rejected as spam"
    assert send(engine, server, now=NOW + timedelta(hours=1)) == []  # failed stays failed
    status = run_cli(engine, tmp_path, monkeypatch, "reminders", "status", "--days", "400")
    assert status.exit_code == 0
    assert re.search(r"2026-06-01  TEST\s+failed\s+1", status.output)
    assert "error: 554 5.7.1 Message rejected as spam" in status.output
    assert "1 digests, 1 failed" in status.output
    # Once the cause is fixed, an admin sends the day's failed digest again.
    [again] = send(engine, server, now=NOW + timedelta(hours=2), retry_failed=True)
    assert again.state == "sent" and len(server.received) == 1


def run_cli(engine, tmp_path, monkeypatch, *args):
    config = tmp_path / "config.toml"
    url = engine.url.render_as_string(hide_password=False)
    config.write_text(f'[database]\nurl = "{url}"\n')
    monkeypatch.setenv("SURVEILLANCE_CONFIG", str(config))
    return CliRunner().invoke(main, list(args))


def test_a_connection_dropped_mid_message_is_retried(engine, session, work, server):
    server.handler.script = ["drop"]
    [first] = send(engine, server)
    assert first.state == "retry"
    assert digest_row(session).last_error.startswith("SMTPServerDisconnected")
    [second] = send(engine, server, now=NOW + timedelta(minutes=5))
    assert second.state == "sent"
    assert tally(server.received, {("TEST", TODAY)}) == {
        "lost": 0,
        "same_id_copies": 0,
        "duplicates": 0,
        "unexpected": 0,
    }


def test_a_server_that_does_not_answer_in_time_is_retried(engine, session, work, server):
    server.handler.script = ["stall"]
    [first] = send(engine, server, backend={"timeout": 0.5})
    assert first.state == "retry" and "timed out" in digest_row(session).last_error
    server.handler.gate.set()
    [second] = send(engine, server, now=NOW + timedelta(minutes=5))
    assert second.state == "sent" and len(server.received) == 1


def test_no_server_listening_is_retried_until_one_is(engine, session, work):
    port = free_port()
    config = smtp_config(port)
    absent = SmtpServer(port)  # made, not started: nobody listens on the port
    [first] = send_daily(engine, config, absent.backend(), today=TODAY, now=NOW)
    assert first.state == "retry"
    assert digest_row(session).last_error.startswith("ConnectionRefusedError")
    with absent as server:
        [second] = send_daily(
            engine, config, server.backend(), today=TODAY, now=NOW + timedelta(minutes=5)
        )
    assert second.state == "sent"
    assert tally(server.received, {("TEST", TODAY)})["lost"] == 0 and len(server.received) == 1


def test_recipients_refused_one_by_one(engine, session, work, server):
    server.handler.refuse_recipients = {"leder@klinikk.test": "550 5.1.1 No such user"}
    [outcome] = send(engine, server)
    row = digest_row(session)
    assert outcome.state == "sent" and server.received[0].recipients == ["sykepleier@klinikk.test"]
    assert row.last_error == "refused: leder@klinikk.test: 550 5.1.1 No such user"


@pytest.mark.parametrize(
    "answer, state",
    [
        ("550 5.1.1 No such user", "failed"),  # every recipient unknown: permanent
        ("450 4.2.1 Try later", "retry"),  # a mailbox busy: temporary
    ],
)
def test_every_recipient_refused(engine, session, work, server, answer, state):
    server.handler.refuse_recipients = dict.fromkeys(
        ["leder@klinikk.test", "sykepleier@klinikk.test"], answer
    )
    [outcome] = send(engine, server)
    assert outcome.state == state
    assert digest_row(session).last_error.startswith(
        "recipients refused: leder@klinikk.test: " + answer
    )


def test_a_pending_digest_of_a_past_day_expires_as_failed(engine, session, work, server):
    server.handler.script = ["451 4.3.0 busy"]
    send(engine, server)
    later = send_daily(
        engine,
        smtp_config(server.port),
        server.backend(),
        today=TODAY + timedelta(days=1),
        now=NOW + timedelta(days=1),
    )
    assert ("TEST", TODAY, "failed") in [(o.clinic, o.day, o.state) for o in later]
    assert digest_row_of(session, TODAY).last_error == (
        "expired: not sent on its day (last error: 451 4.3.0 busy)"
    )


# --- TLS and login, for real.


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    return make_certificate(tmp_path_factory.mktemp("tls"))


def test_starttls_and_login(certificate):
    cert, key = certificate
    with SmtpServer(
        tls_context=server_context(cert, key),
        require_starttls=True,
        authenticator=authenticator(b"nurse", b"secret"),
        auth_require_tls=True,
    ) as server:
        backend = server.backend(
            security="starttls", username="nurse", password="secret", context=client_context(cert)
        )
        backend.send(sample_message(), ["a@klinikk.test"])
        with pytest.raises(PermanentFailure, match=r"^535"):
            replace(backend, password="wrong").send(sample_message(), ["a@klinikk.test"])
    assert len(server.received) == 1


def test_ssl_from_the_first_byte(certificate):
    cert, key = certificate
    with SmtpServer(ssl_context=server_context(cert, key)) as server:
        server.backend(security="ssl", context=client_context(cert)).send(
            sample_message(), ["a@klinikk.test"]
        )
    assert server.received[0].message["Subject"] == "test"


def sample_message():
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@b.test", "a@klinikk.test", "test"
    message["Message-ID"] = "<digest.20260601.TEST.0123456789abcdef@b.test>"
    message.set_content("hei")
    return message
