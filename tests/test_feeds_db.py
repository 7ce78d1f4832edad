"""Feeds on the database (SQLite and PostgreSQL): tokens, re-plans, privacy, ETags, the cache."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from icalendar import Calendar

from surveillance.clock import utcnow
from surveillance.config import Config, FeedsConfig
from surveillance.db import writing
from surveillance.db.models import (
    AuditEvent,
    CalendarFeed,
    Clinic,
    FeedEvent,
    Patient,
    PlannedExam,
    User,
)
from surveillance.errors import NotFound
from surveillance.feeds.serve import Feeds, serve_feed
from surveillance.feeds.store import (
    create_clinic_feed,
    create_user_feed,
    feed_versions,
    find_scope,
    list_feeds,
    revoke_feed,
    set_details,
)
from surveillance.feeds.tokens import token_hash
from surveillance.services import Actor, record_booking, record_result, record_treatment
from surveillance.services.controls import record_primary_control
from surveillance.services.decisions import record_decision
from tests.support.data import TODAY
from tests.support.feeds import parse_all

ADMIN = Actor("admin@test")
NOW = datetime(2026, 6, 1, 10, tzinfo=UTC)


@pytest.fixture
def feeds() -> Feeds:
    """The feeds of the default configuration, with an empty cache."""
    return Feeds.from_config(Config())


@pytest.fixture
def clinic_feed(session, clinic):
    """A clinic feed's token."""
    return create_clinic_feed(session, ADMIN, clinic.id).token


def serve(session, feeds, token, today=TODAY, etag=None):
    """The feed's answer on `today`, as to a client that holds `etag`."""
    return serve_feed(session, feeds, token, today, NOW, lambda current, _: current == etag)


def text(session, feeds, token, today=TODAY) -> str:
    return serve(session, feeds, token, today).body.decode()


def open_exams(patient, month: int) -> list[PlannedExam]:
    return [e for e in patient.exams if e.month == month and e.state != "cancelled"]


# ---- feeds: create, find, revoke -------------------------------------------------------


def test_only_the_hash_of_a_token_is_stored(session, clinic):
    new = create_clinic_feed(session, ADMIN, clinic.id, "Desk")
    row = session.get(CalendarFeed, new.id)
    assert row.token_hash == token_hash(new.token) and new.token not in repr(row.__dict__)
    assert new.path == f"/feeds/{new.token}.ics"
    (event,) = session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "feed.create"))
    assert new.token not in str(event.details)


def test_an_unknown_or_revoked_token_finds_nothing(session, clinic, clinic_feed):
    assert find_scope(session, clinic_feed).clinic_ids == (clinic.id,)
    assert find_scope(session, clinic_feed[:-1] + ("A" if clinic_feed[-1] != "A" else "B")) is None
    (feed,) = list_feeds(session)
    revoke_feed(session, ADMIN, feed.id)
    assert find_scope(session, clinic_feed) is None
    last = sa.select(AuditEvent.action).order_by(AuditEvent.id.desc()).limit(1)
    assert session.scalar(last) == "feed.revoke"  # rows come in no set order on PostgreSQL


def test_a_personal_feed_follows_the_users_clinics_and_account(session, clinic):
    user = User(email="nurse@test", password_hash="-", role="nurse", clinics=[clinic])
    with writing(session):
        session.add(user)
    token = create_user_feed(session, ADMIN, user.id).token
    assert find_scope(session, token).clinic_ids == (clinic.id,)
    with writing(session):
        user.clinics = []
    assert find_scope(session, token).clinic_ids == ()
    with writing(session):
        user.active = False
    assert find_scope(session, token) is None


def test_a_user_may_revoke_only_their_own_feeds_and_their_clinics(session, clinic):
    user = User(email="nurse@test", password_hash="-", role="nurse")
    with writing(session):
        session.add(user)
    feed = create_clinic_feed(session, ADMIN, clinic.id)
    assert list_feeds(session, user.id, []) == []
    with pytest.raises(NotFound):
        revoke_feed(session, Actor(user.email, user.id), feed.id, user.id, [])
    revoke_feed(session, Actor(user.email, user.id), feed.id, user.id, [clinic.id])
    assert session.get(CalendarFeed, feed.id).revoked_at is not None


# ---- what a client sees ----------------------------------------------------------------


def test_a_re_plan_changes_the_feed_as_a_client_expects(
    session, ctx, feeds, clinic_feed, create_patient
):
    patient = create_patient(treatment_date="2025-09-20", treatment_kind="resection")
    other = create_patient(treatment_date="2025-10-02", treatment_kind="resection")
    for e in open_exams(patient, 6):  # due 2026-03-20, in the window: done before the re-plan
        record_result(session, ctx, e.id, done_date="2026-03-25", result="normal", value="2.0")
    before_text = text(session, feeds, clinic_feed)
    before = parse_all(before_text)
    record_treatment(session, ctx, patient.id, date="2026-05-01", kind="resection")
    after_text = text(session, feeds, clinic_feed)
    after = parse_all(after_text)

    done, superseded = _uid_of(patient, 6), [_uid_of(patient, m) for m in (12, 18)]
    assert after[done] == before[done] and after[done][3] == "CONFIRMED"
    for uid in superseded:  # cancelled, with a higher SEQUENCE, where they were
        assert after[uid][3] == "CANCELLED" and after[uid][4] > before[uid][4]
        assert after[uid][:2] == before[uid][:2]
    new = set(after) - set(before)
    assert sorted(after[uid][0] for uid in new) == [date(2026, 11, 2), date(2027, 5, 3)]
    for month in (6, 12):  # the untouched patient: the same events, to the octet
        assert _event_text(before_text, _uid_of(other, month)) == _event_text(
            after_text, _uid_of(other, month)
        )


def _uid_of(patient, month: int) -> str:
    first = min((e for e in patient.exams if e.month == month), key=lambda e: e.id)
    return f"control-{first.uid}"


def _event_text(feed: str, uid: str) -> str:
    (event,) = [e for e in feed.split("BEGIN:VEVENT") if f"UID:{uid}\r\n" in e]
    return event


def test_no_name_or_national_id_in_a_feed_unless_the_clinic_opts_in(
    session, ctx, feeds, clinic, clinic_feed, create_patient
):
    patients = [
        create_patient(name=name, treatment_date="2026-01-10", treatment_kind=kind)
        for name, kind in (("Kari Nordmann", "resection"), ("Ola Åsen", "ablation"))
    ]
    (exam,) = open_exams(patients[1], 9)
    record_booking(session, ctx, exam.id, date="2026-10-12", time="08:15", place="CT-lab 2")
    feed = text(session, feeds, clinic_feed)
    unfolded = feed.replace("\r\n ", "")
    # Eleven digits standing alone, not inside a UID's hexadecimal (which may hold any run).
    assert "BEGIN:VEVENT" in feed and not re.search(r"(?<![0-9a-f-])\d{11}(?![0-9a-f-])", unfolded)
    for p in patients:
        assert p.national_id not in unfolded
        assert p.name not in feed and p.name.split()[1] not in feed
    assert not re.search(r"\bCT\b|CEA|[Ll]ab", feed)
    set_details(session, ADMIN, clinic.id, True)
    detailed = text(session, feeds, clinic_feed).replace("\r\n ", "")
    assert all(p.name in detailed for p in patients) and "CT-lab 2" in detailed
    assert not any(p.national_id in detailed for p in patients)


def test_a_booking_with_a_time_gives_a_timed_event_with_its_zone(
    session, ctx, feeds, clinic_feed, create_patient
):
    patient = create_patient(treatment_date="2026-01-15", treatment_kind="resection")
    for e in open_exams(patient, 6):
        record_booking(session, ctx, e.id, date="2026-07-16", time="10:15")
    feed = text(session, feeds, clinic_feed)
    assert "DTSTART;TZID=Europe/Oslo:20260716T101500\r\n" in feed
    assert "BEGIN:VTIMEZONE\r\nTZID:Europe/Oslo\r\n" in feed
    assert parse_all(feed)[_uid_of(patient, 6)][0] == datetime(2026, 7, 16, 8, 15, tzinfo=UTC)


def test_a_cancelled_control_leaves_the_feed_60_days_after_its_cancellation(
    session, ctx, feeds, clinic_feed, create_patient
):
    patient = create_patient(treatment_date="2026-01-15", treatment_kind="resection")
    record_treatment(session, ctx, patient.id, date="2026-05-20", kind="resection")
    with writing(session):  # the re-plan happened on TODAY at noon, the clinic's time
        session.execute(
            sa.update(PlannedExam)
            .where(PlannedExam.state == "cancelled")
            .values(updated_at=datetime(2026, 6, 1, 10, tzinfo=UTC))
        )
    cancelled = _uid_of(patient, 6)
    assert (
        parse_all(text(session, feeds, clinic_feed, TODAY + timedelta(days=60)))[cancelled][3]
        == "CANCELLED"
    )
    assert cancelled not in parse_all(text(session, feeds, clinic_feed, TODAY + timedelta(days=61)))


def test_an_etag_answers_not_modified_and_dtstamp_stays(
    session, ctx, feeds, clinic_feed, create_patient
):
    patient = create_patient(treatment_date="2026-01-15", treatment_kind="resection")
    first = serve(session, feeds, clinic_feed)
    again = serve(session, feeds, clinic_feed)
    assert again.body == first.body and again.etag == first.etag
    assert again.modified_at == first.modified_at == NOW
    assert serve(session, feeds, clinic_feed, etag=first.etag).body is None
    (exam, _) = open_exams(patient, 6)
    record_booking(session, ctx, exam.id, date="2026-07-16")
    changed = serve(session, feeds, clinic_feed, etag=first.etag)
    assert changed.body is not None and changed.etag != first.etag
    assert serve(session, feeds, clinic_feed, TODAY + timedelta(days=1)).etag != changed.etag


def test_a_repeated_request_serialises_only_the_changed_control(
    session, ctx, feeds, clinic_feed, create_patient
):
    patient = create_patient(treatment_date="2026-01-15", treatment_kind="ablation")
    first = text(session, feeds, clinic_feed)
    built = feeds.cache.built
    assert built == first.count("BEGIN:VEVENT") >= 3
    assert text(session, feeds, clinic_feed) == first and feeds.cache.built == built
    (exam,) = open_exams(patient, 9)
    record_booking(session, ctx, exam.id, date="2026-10-16", time="09:00")
    text(session, feeds, clinic_feed)
    assert feeds.cache.built == built + 1


def test_an_unknown_or_revoked_token_is_not_served(session, feeds, clinic_feed):
    assert serve(session, feeds, "x" * 43) is None
    assert serve(session, feeds, "not a token") is None
    (feed,) = list_feeds(session)
    revoke_feed(session, ADMIN, feed.id)
    assert serve(session, feeds, clinic_feed) is None


def test_a_feed_of_a_clinic_shows_no_other_clinics_controls(
    session, ctx, feeds, clinic_feed, create_patient
):
    with writing(session):
        session.add(Clinic(code="OTHER", name="Den andre"))
    create_patient(clinic_code="OTHER", treatment_date="2026-01-15", treatment_kind="resection")
    assert "BEGIN:VEVENT" not in text(session, feeds, clinic_feed)


def test_an_unchanged_feed_is_sent_again_without_reading_its_rows(
    session, feeds, clinic_feed, create_patient, monkeypatch
):
    create_patient(treatment_date="2026-01-15", treatment_kind="resection")
    first = text(session, feeds, clinic_feed)

    def no_reading(*args):
        raise AssertionError("the rows were read again")

    monkeypatch.setattr("surveillance.feeds.serve.feed_rows", no_reading)
    assert text(session, feeds, clinic_feed) == first


def test_a_renamed_patient_changes_a_detailed_feed(
    session, feeds, clinic, clinic_feed, create_patient
):
    patient = create_patient(
        name="Kari Nordmann", treatment_date="2026-01-15", treatment_kind="resection"
    )
    set_details(session, ADMIN, clinic.id, True)
    assert "Kari Nordmann" in text(session, feeds, clinic_feed)
    with writing(session):
        session.get(type(patient), patient.id).name = "Kari Nordmann-Berg"
    assert "Kari Nordmann-Berg" in text(session, feeds, clinic_feed).replace("\r\n ", "")


def test_many_changed_exams_are_read_in_one_pass_over_the_window(
    session, feeds, clinic_feed, create_patient, monkeypatch
):
    for day in ("2026-01-15", "2026-02-16", "2026-03-16"):
        create_patient(treatment_date=day, treatment_kind="ablation")
    by_ids = text(session, feeds, clinic_feed)
    monkeypatch.setattr("surveillance.feeds.store.FETCH_BY_WINDOW", 0)
    feeds.clear()
    assert text(session, feeds, clinic_feed) == by_ids


def test_two_extra_exams_of_one_anchor_are_two_events(
    session, ctx, feeds, clinic_feed, create_patient
):
    """Extra exams have no month: each is its own control, by its due date (issue 10)."""
    from surveillance.services.decisions import record_decision

    patient = create_patient(treatment_date="2025-12-01", treatment_kind="resection")
    for code, due in (("cea", "2026-07-01"), ("ct_tap", "2026-08-03")):
        record_decision(session, ctx, patient.id, decision="recheck", exam=code, due=due)
    session.refresh(patient)
    extras = sorted((e for e in patient.exams if e.month is None), key=lambda e: e.due)
    assert [e.due for e in extras] == [date(2026, 7, 1), date(2026, 8, 3)]
    events = parse_all(text(session, feeds, clinic_feed))
    for e in extras:
        assert events[f"control-{e.uid}"][0] == e.due_working_day


# ---- the worklist's lists in words (issue 9): no detail the clinic did not opt in to -----


def events_of(session, feeds, token) -> dict[str, tuple[str, str, bool]]:
    """The feed's events by UID: (status, description, has an alarm)."""
    body = serve(session, feeds, token).body
    return {
        str(e["UID"]): (str(e["STATUS"]), str(e["DESCRIPTION"]), bool(e.walk("VALARM")))
        for e in Calendar.from_ical(body).walk("VEVENT")
    }


def event_of(patient, month: int, shown: dict) -> tuple[str, str, bool]:
    return shown[_uid_of(patient, month)]


def dotted(value: date) -> str:
    return f"{value:%d.%m.%Y}"


def test_a_coordinated_control_shows_its_partners_date(
    session, ctx, feeds, clinic_feed, create_patient
):
    patient = create_patient(treatment_date="2025-12-01", treatment_kind="resection")
    record_primary_control(session, ctx, patient.id, date="2026-06-25", exams=["ct_tap", "cea"])
    status, description, alarm = event_of(patient, 6, events_of(session, feeds, clinic_feed))
    words = feeds.settings.events.words
    assert words.coordinated % {"date": "25.06.2026"} in description
    assert status == "CONFIRMED" and not alarm  # nothing to book


def test_a_patient_on_hold_shows_until_when_and_rings_no_alarm(
    session, ctx, feeds, clinic_feed, create_patient, clinic
):
    patient = create_patient(treatment_date="2026-01-15", treatment_kind="resection")
    before = event_of(patient, 6, events_of(session, feeds, clinic_feed))
    assert before[2]  # the alarm of the booking deadline 2026-06-04
    record_decision(session, ctx, patient.id, decision="treatment_planned")
    session.refresh(patient)
    assert patient.hold_until is not None
    status, description, alarm = event_of(patient, 6, events_of(session, feeds, clinic_feed))
    words = feeds.settings.events.words
    held = words.on_hold % {"date": dotted(patient.hold_until)}
    assert held not in description  # the MDT's plan is a detail the clinic did not opt in to
    assert status == "TENTATIVE" and not alarm
    set_details(session, ADMIN, clinic.id, True)
    assert held in event_of(patient, 6, events_of(session, feeds, clinic_feed))[1]


def test_a_booked_exam_of_a_patient_on_hold_keeps_its_list(
    session, ctx, feeds, clinic_feed, create_patient, clinic
):
    """R13 holds the exams still to book; a booked one past its limit is overdue (R10)."""
    set_details(session, ADMIN, clinic.id, True)
    patient = create_patient(treatment_date="2025-09-20", treatment_kind="resection")
    exams = [e for e in patient.exams if e.month == 6]
    for exam in exams:
        record_booking(session, ctx, exam.id, date=exam.due_working_day.isoformat())
    record_decision(session, ctx, patient.id, decision="treatment_planned")
    session.refresh(patient)
    status, description, _ = event_of(patient, 6, events_of(session, feeds, clinic_feed))
    words = feeds.settings.events.words
    assert words.overdue % {"date": dotted(exams[0].due)} in description
    assert words.on_hold.split("%")[0] not in description
    assert status == "CONFIRMED"


def test_a_patient_for_mdt_review_says_so_without_the_finding(
    session, ctx, feeds, clinic_feed, create_patient, clinic
):
    patient = create_patient(treatment_date="2025-12-01", treatment_kind="resection")
    (cea,) = [e for e in patient.exams if e.month == 6 and e.code == "cea"]
    record_result(session, ctx, cea.id, done_date="2026-05-28", result="high", value="8.4")
    session.refresh(patient)
    assert patient.mdt_review
    _, description, _ = event_of(patient, 12, events_of(session, feeds, clinic_feed))
    assert feeds.settings.events.words.mdt_review not in description  # without the opt-in
    set_details(session, ADMIN, clinic.id, True)
    _, description, _ = event_of(patient, 12, events_of(session, feeds, clinic_feed))
    assert feeds.settings.events.words.mdt_review in description
    assert "8.4" not in description and "8,4" not in description  # the value stays inside


def test_overdue_and_lost_to_follow_up_are_in_words(
    session, ctx, feeds, clinic_feed, create_patient, clinic
):
    set_details(session, ADMIN, clinic.id, True)
    late = create_patient(treatment_date="2025-09-20", treatment_kind="resection")
    lost = create_patient(treatment_date="2024-01-15", treatment_kind="resection")
    session.refresh(lost)
    assert lost.lost_to_follow_up
    shown = events_of(session, feeds, clinic_feed)
    words = feeds.settings.events.words
    (due,) = {e.due for e in late.exams if e.month == 6}
    assert due < TODAY - timedelta(days=30)
    assert words.overdue % {"date": dotted(due)} in event_of(late, 6, shown)[1]
    assert words.lost not in event_of(late, 6, shown)[1]
    assert words.lost in event_of(lost, 30, shown)[1]


def test_an_ordinary_control_is_on_no_list(session, ctx, feeds, clinic_feed, create_patient):
    patient = create_patient(treatment_date="2026-01-15", treatment_kind="resection")
    _, description, _ = event_of(patient, 6, events_of(session, feeds, clinic_feed))
    w = feeds.settings.events.words
    assert not any(
        phrase.split("%")[0] in description
        for phrase in (w.overdue, w.on_hold, w.mdt_review, w.lost)
    )


def test_a_control_half_done_keeps_its_uid_and_its_sequence_rises(
    session, ctx, feeds, clinic_feed, create_patient
):
    """The stored control holds only the open exam; the event still counts the done one."""
    patient = create_patient(treatment_date="2025-12-01", treatment_kind="resection")
    uid = _uid_of(patient, 6)
    before = parse_all(text(session, feeds, clinic_feed))[uid]
    first = min((e for e in patient.exams if e.month == 6), key=lambda e: e.id)
    record_result(session, ctx, first.id, done_date="2026-05-28", result="normal", value="2.0")
    after = parse_all(text(session, feeds, clinic_feed))[uid]
    assert after[4] > before[4] and after[3] == before[3]
    assert feeds.settings.events.words.done in after[5]


# ---- at any size: the ETag from two index entries per clinic, events kept in the database --


def test_turning_details_off_removes_the_clinics_kept_events_with_names(
    session, ctx, feeds, clinic, clinic_feed, create_patient
):
    patient = create_patient(
        name="Kari Nordmann", treatment_date="2026-01-10", treatment_kind="resection"
    )
    set_details(session, ADMIN, clinic.id, True)
    assert patient.name in text(session, feeds, clinic_feed)
    kept = sa.select(FeedEvent.head)
    assert any(patient.name in head for head in session.scalars(kept))
    set_details(session, ADMIN, clinic.id, False)
    assert list(session.scalars(kept)) == []
    assert patient.name not in text(session, feeds, clinic_feed)
    assert session.scalars(kept).all() and not any(
        patient.name in head for head in session.scalars(kept)
    )


def test_a_restarted_process_reads_the_kept_events_instead_of_serialising(
    session, ctx, feeds, clinic_feed, create_patient
):
    """Each control's event is kept with its version: another process (a restart, another
    node) serves the same feed without serialising it, and serialises only what changed."""
    patient = create_patient(treatment_date="2026-01-15", treatment_kind="ablation")
    first = text(session, feeds, clinic_feed)
    events = first.count("BEGIN:VEVENT")
    assert (
        feeds.cache.built == events >= 3
        and session.scalar(sa.select(sa.func.count()).select_from(FeedEvent)) == events
    )
    restarted = Feeds.from_config(Config())
    assert text(session, restarted, clinic_feed) == first
    assert (restarted.cache.built, restarted.cache.reused) == (0, events)
    (exam,) = open_exams(patient, 9)
    record_booking(session, ctx, exam.id, date="2026-10-16", time="09:00")
    again = Feeds.from_config(Config())
    changed = text(session, again, clinic_feed)
    assert (again.cache.built, again.cache.reused) == (1, events - 1)
    assert changed == text(session, feeds, clinic_feed) != first


def test_kept_events_of_other_settings_are_serialised_again(
    session, feeds, clinic_feed, create_patient
):
    create_patient(treatment_date="2026-01-15", treatment_kind="resection")
    norwegian = text(session, feeds, clinic_feed)
    english = Feeds.from_config(Config(feeds=FeedsConfig(language="en")))
    assert text(session, english, clinic_feed) != norwegian
    assert english.cache.reused == 0 and english.cache.built == norwegian.count("BEGIN:VEVENT")


def _stamp_all(session, when: datetime) -> None:
    """Every exam and patient as last changed at `when`."""
    with writing(session):
        for model in (PlannedExam, Patient):
            session.execute(sa.update(model).values(updated_at=when))


def test_a_change_stamped_before_the_latest_but_committed_after_it_is_still_served(
    session, ctx, feeds, clinic_feed, create_patient
):
    """The ETag reads the latest change; one written earlier and committed later would not move
    it. While the latest change settles, the ETag moves each minute, so the next fetch reads
    it; once settled, the ETag stays for as long as nothing changes."""
    patient = create_patient(treatment_date="2026-01-15", treatment_kind="resection")
    latest = datetime(2026, 5, 1, 12, tzinfo=UTC)
    _stamp_all(session, latest)

    def at(minutes: float):
        return serve_feed(
            session, feeds, clinic_feed, TODAY, latest + timedelta(minutes=minutes), lambda *_: 0
        )

    settling = at(1)
    assert at(1.5).etag == settling.etag  # within one step
    (exam, _) = open_exams(patient, 6)
    with writing(session):  # stamped a second before the latest change, committed after it
        session.execute(
            sa.update(PlannedExam)
            .where(PlannedExam.id == exam.id)
            .values(
                state="booked",
                booked_date=date(2026, 7, 16),
                sequence=PlannedExam.sequence + 1,
                updated_at=latest - timedelta(seconds=1),
            )
        )
    later = at(2)
    assert later.etag != settling.etag and b"16.07.2026" in later.body.replace(b"\r\n ", b"")
    settled = at(6)
    assert settled.etag not in (settling.etag, later.etag) and settled.body == later.body
    assert at(60 * 24).etag == settled.etag  # settled: unchanged while nothing changes


def test_a_change_re_reads_only_the_patients_it_touched(
    session, ctx, feeds, clinic_feed, create_patient, monkeypatch
):
    """A feed is kept up to date by its changes: a booking re-reads its patient's exams, not
    the whole feed, and gives the text a whole read gives."""
    patient = create_patient(treatment_date="2026-01-15", treatment_kind="ablation")
    create_patient(treatment_date="2026-02-16", treatment_kind="ablation")
    _stamp_all(session, utcnow() - timedelta(hours=2))

    def text_now(feeds):
        return serve_feed(session, feeds, clinic_feed, TODAY, utcnow(), lambda *_: 0).body

    text_now(feeds)
    reads = []

    def versions(session, scope, day, patient_ids=None):
        reads.append(patient_ids)
        return feed_versions(session, scope, day, patient_ids)

    monkeypatch.setattr("surveillance.feeds.serve.feed_versions", versions)
    (exam,) = open_exams(patient, 9)
    record_booking(session, ctx, exam.id, date="2026-10-16", time="09:00")
    changed = text_now(feeds)
    assert reads == [[patient.id]]
    assert text_now(Feeds.from_config(Config())) == changed
    assert reads[1:] == [None]  # a new process reads the whole feed
