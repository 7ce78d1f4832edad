"""The worklist's lists are kept as HTML per process (issue 10): every kind of write a nurse
makes shows on the very next worklist, and no one sees another's clinics, role or words.

Each test first shows the page it changes, so that it is kept, then changes it."""

from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa

from surveillance.db.models import Clinic, Patient
from surveillance.services import record_decision
from surveillance.services.imports import check_file, import_rows
from surveillance.services.patients import correct_name
from tests.support.data import synthetic_id

from .browsing import visible_text
from .test_digest_failures import _failed_digest
from .test_worklist_page import counts, rows


def section(page, name: str) -> str:
    """The text of a side list's section (mdt, lost, cancel); empty when it is not shown."""
    found = re.search(rf'<section id="{name}-list">(.*?)</section>', page.text, re.DOTALL)
    return found.group(1) if found else ""


def test_a_booking_on_the_patient_page_shows_on_the_next_worklist(
    nurse, patient_page, world, exam_of
):
    assert rows(nurse.get("/?list=booked")) == []
    exam = exam_of(world.a.patient_id, "cea")
    day = (world.today + timedelta(days=7)).isoformat()
    assert nurse.submit(patient_page(), f"/exams/{exam.id}/book", date=day).status_code == 302
    assert rows(nurse.get("/?list=booked")) == ["booked"]


def test_a_high_cea_result_puts_the_patient_on_the_next_worklists_mdt_list(
    nurse, patient_page, world, exam_of
):
    assert "Pasient A" not in section(nurse.get("/"), "mdt")
    exam = exam_of(world.a.patient_id, "cea")
    today = world.today.isoformat()
    answer = nurse.submit(patient_page(), f"/exams/{exam.id}/result", done_date=today, value="12,5")
    assert answer.status_code == 302
    assert "Pasient A" in section(nurse.get("/"), "mdt")


def test_a_missed_exam_is_marked_on_the_next_worklist(nurse, patient_page, world, exam_of):
    assert 'class="tag missed"' not in nurse.get("/").text
    exam = exam_of(world.a.patient_id, "cea")
    answer = nurse.submit(patient_page(), f"/exams/{exam.id}/missed", reason="Syk")
    assert answer.status_code == 302
    assert 'class="tag missed"' in nurse.get("/").text


def test_an_mdt_decision_from_a_kept_page_takes_the_patient_off_the_mdt_list(nurse, world, session):
    with session.begin():
        session.execute(sa.update(Patient).values(mdt_review=True))
    nurse.get("/")
    kept = nurse.get("/")  # its form's CSRF token is this session's, not a stand-in's
    assert "Pasient A" in section(kept, "mdt")
    action = f"/patients/{world.a.patient_id}/mdt"
    assert nurse.submit(kept, action, note="Drøftet").status_code == 302
    assert "Pasient A" not in section(nurse.get("/"), "mdt")


def test_two_nurses_of_one_clinic_share_the_lists_but_not_their_csrf_tokens(
    nurse, world, log_in, create_user, session
):
    """The kept HTML is shared within a clinic; each form carries its reader's own token."""
    with session.begin():
        session.execute(sa.update(Patient).values(mdt_review=True))
    first = nurse.get("/")
    other = log_in(create_user("nurse.a2@test", "nurse", ("A",)))
    second = other.get("/")
    token = r'name="csrf_token" value="([^"]+)"'
    tokens, theirs = set(re.findall(token, first.text)), set(re.findall(token, second.text))
    assert "Pasient A" in section(first, "mdt")
    assert re.sub(token, "", section(first, "mdt")) == re.sub(token, "", section(second, "mdt"))
    assert tokens and theirs and not tokens & theirs
    action = f"/patients/{world.a.patient_id}/mdt"
    assert other.submit(second, action, note="Drøftet").status_code == 302


def test_a_decisions_note_changed_in_the_database_shows_on_the_next_worklist(nurse, world, session):
    """Migration 0020: any write to mdt_decisions renews the clinic's stamp."""
    record_decision(session, world.ctx, world.a.patient_id, decision="no_recurrence", note="Første")
    with session.begin():
        session.execute(sa.update(Patient).values(mdt_review=True))
    assert "«Første»" in section(nurse.get("/"), "mdt")
    with session.begin():  # a correction by hand (another tool, or a bulk load)
        session.execute(sa.text("UPDATE mdt_decisions SET note = 'Rettet'"))
    assert "«Rettet»" in section(nurse.get("/"), "mdt")


def test_a_name_corrected_elsewhere_shows_on_the_next_worklist(nurse, world, session):
    assert "Pasient A" in visible_text(nurse.get("/"))
    correct_name(session, world.ctx, world.a.patient_id, "Pasient Aa")  # another node
    page = visible_text(nurse.get("/"))
    assert "Pasient Aa" in page and "Pasient A " not in page


def test_an_imported_patient_shows_on_the_next_worklist(nurse, world, session):
    before = counts(nurse.get("/"))
    treated = (world.today - timedelta(days=170)).isoformat()
    data = (
        "fødselsnummer;navn;behandlingsdato;behandling;kontroller_utført_til\n"
        f"{synthetic_id()};Importert Pasient;{treated};reseksjon;\n"
    ).encode()
    import_rows(session, world.ctx, "A", check_file(session, world.ctx, "A", data))
    page = nurse.get("/")
    assert "Importert Pasient" in visible_text(page)
    assert counts(page)["to_book"] == before["to_book"] + 1


def test_the_next_day_the_worklist_is_that_days(nurse, world, monkeypatch):
    tomorrow = world.today + timedelta(days=1)
    assert f'<time datetime="{world.today.isoformat()}">' in nurse.get("/").text
    monkeypatch.setattr("surveillance.web.per_request.clinic_today", lambda tz: tomorrow)
    assert f'<time datetime="{tomorrow.isoformat()}">' in nurse.get("/").text


def test_a_language_switch_shows_the_lists_in_the_chosen_language(nurse):
    assert "Eksporter som CSV" in nurse.get("/").text
    assert nurse.post("/language", {"lang": "en", "next": "/"}).status_code == 302
    page = nurse.get("/").text
    assert "Export as CSV (Excel)" in page and "Eksporter som CSV" not in page


def test_another_clinics_nurse_sees_only_her_clinics_rows(nurse, world, log_in):
    assert "Pasient A" in visible_text(nurse.get("/"))
    other = visible_text(log_in(world.b.nurse).get("/"))
    assert "Pasient B" in other and "Pasient A" not in other


def test_a_nurse_of_two_clinics_chooses_between_them_and_a_nurse_of_one_does_not(
    nurse, world, log_in, create_user, session
):
    both = log_in(create_user("nurse.ab@test", "nurse", ("A", "B")))
    page = both.get("/")
    assert '<select name="clinic"' in page.text and "Pasient B" in visible_text(page)
    assert '<select name="clinic"' not in nurse.get("/").text  # her kept page is her own
    # The same address: a nurse of one clinic is offered no choice of clinics she lacks.
    assert '<select name="clinic"' in both.get(f"/?clinic={world.a.clinic_id}").text
    assert '<select name="clinic"' not in nurse.get(f"/?clinic={world.a.clinic_id}").text
    with session.begin():  # the installation's administrator renames a clinic
        session.execute(sa.update(Clinic).where(Clinic.code == "B").values(name="Klinikk Bø"))
    assert "Klinikk Bø" in both.get("/").text


def test_an_administrators_warning_is_not_shown_to_a_nurse(nurse, world, log_in, session):
    _failed_digest(session, world.a.clinic_id, world.today)
    assert "/admin/digests" in log_in(world.a.admin).get("/").text
    assert "/admin/digests" not in nurse.get("/").text
    assert "/admin/digests" in log_in(world.a.admin).get("/").text
