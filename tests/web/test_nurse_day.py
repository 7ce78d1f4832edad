"""Issue 12, part 2: contact details, birth dates beside names, and a worklist a nurse scans
(side lists first, newest MDT flag first, missed marked, one "late", ranges, sorting, the
to-cancel list resolved in place, the MDT decision's note by the flag)."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from surveillance.db.models import Patient, PlannedExam
from tests.support.data import synthetic_id

from .browsing import errors, flashes, visible_text
from .route_table import ROUTES


def born(d: date) -> str:
    return d.strftime("%d.%m.%Y")


def section(page, anchor: str) -> str:
    return page.text.split(f'id="{anchor}"')[1].split("</section>")[0]


def worklist_rows(page) -> list[str]:
    table = re.search(r'<table class="worklist">(.*?)</table>', page.text, re.DOTALL)
    return re.findall(r"<tr class=\"[a-z_]+\">.*?</tr>", table.group(1), re.DOTALL) if table else []


def flag_everything(session, setup_for) -> None:
    """A booking to cancel, and every patient on the MDT and lost-to-follow-up lists."""
    ROUTES["patients.booking_cancelled"].reach(setup_for("a"))
    session.execute(sa.update(Patient).values(mdt_review=True, lost_to_follow_up=True))
    session.commit()


# ---- contact details ----------------------------------------------------------------------


def test_a_new_patient_with_telephone_and_gp_is_shown_on_the_page(nurse, db):
    page = nurse.get("/patients/new")
    answer = nurse.submit(
        page,
        "",
        national_id=synthetic_id(),
        name="Ola Telefon",
        phone="+47 412 34 567",
        gp="Dr. Lege, Sentrum legekontor",
    )
    assert answer.status_code == 302
    (patient,) = db.scalars(sa.select(Patient).where(Patient.name == "Ola Telefon"))
    assert patient.phone == "41234567" and patient.gp == "Dr. Lege, Sentrum legekontor"
    shown = visible_text(nurse.get(answer.location))
    assert "412 34 567" in shown and "Dr. Lege, Sentrum legekontor" in shown


@pytest.mark.parametrize(
    "phone",
    [
        "1234567",  # seven digits
        "+46 412 34 567",  # a Swedish number
        "412 34 567 ring etter kl 12",  # words in the field
    ],
)
def test_a_wrong_telephone_is_refused_beside_its_field_and_nothing_is_registered(nurse, db, phone):
    before = db.count(Patient)
    page = nurse.get("/patients/new")
    answer = nurse.submit(page, "", national_id=synthetic_id(), name="Ola Feil", phone=phone)
    assert answer.status_code == 400
    assert db.count(Patient) == before
    (message,) = errors(answer)
    assert "Telefon" in message and phone[:20] in message
    assert re.search(r'name="phone"[^>]*aria-invalid="true"', answer.text)


def test_telephone_and_gp_are_changed_on_the_patient_page_and_audited(nurse, world, db):
    page = nurse.get(f"/patients/{world.a.patient_id}")
    action = f"/patients/{world.a.patient_id}/contact"
    answer = nurse.submit(page, action, phone="22 12 34 56", gp="Fastlege Hansen")
    assert answer.status_code == 302
    assert "22 12 34 56" in visible_text(nurse.get(answer.location))
    (event,) = db.events("patient.contact", world.a.patient_id)
    assert event.details["before"] == {"phone": None, "gp": None}
    assert event.details["after"] == {"phone": "22123456", "gp": "Fastlege Hansen"}
    refused = nurse.submit(nurse.get(answer.location), action, phone="123")
    assert refused.status_code == 400
    assert db.get(Patient, world.a.patient_id).phone == "22123456"
    assert 'value="123"' in refused.text  # the form comes back as typed


def test_the_telephone_stays_out_of_urls_and_the_audit_log_page(nurse, world, db, log_in):
    page = nurse.get(f"/patients/{world.a.patient_id}")
    form = nurse.form(page, f"/patients/{world.a.patient_id}/contact")
    assert form.method == "post"
    nurse.submit(page, form.action, phone="41234567", gp="")
    admin = log_in(world.a.admin)
    assert "41234567" not in admin.get("/admin/audit").text.replace("412 34 567", "")


# ---- birth dates beside names ---------------------------------------------------------------


def test_every_list_and_the_search_show_the_birth_date_beside_the_name(
    nurse, world, db, session, setup_for, make_patient
):
    listed = make_patient("A", name="Liste Pasient")
    flag_everything(session, setup_for)
    rows = [r for r in worklist_rows(nurse.get("/")) if "Liste Pasient" in r]
    assert rows and all(born(listed.birth_date) in r for r in rows)
    patient = db.get(Patient, world.a.patient_id)
    expected = born(patient.birth_date)
    for listed, anchor in [
        ("mdt_review", "mdt-list"),
        ("lost_to_follow_up", "lost-list"),
        ("booking_to_cancel", "cancel-list"),
    ]:
        assert expected in section(nurse.get(f"/?list={listed}"), anchor), listed
    found = nurse.post("/search", {"q": "Pasient A"})
    assert expected in found.text.split('class="search-results"')[1].split("</section>")[0]
    assert patient.national_id not in visible_text(found)


# ---- the order of the page ---------------------------------------------------------------


def test_the_mdt_lost_and_cancel_lists_come_before_the_worklist(
    nurse, session, setup_for, make_patient
):
    make_patient("A", name="Liste Pasient")  # rows in the worklist too
    flag_everything(session, setup_for)
    text = nurse.get("/").text
    worklist_at = text.index('<table class="worklist">')
    for anchor in ("mdt-list", "lost-list", "cancel-list"):
        assert text.index(f'id="{anchor}"') < worklist_at, anchor


def test_the_newest_mdt_flag_comes_first(nurse, world, session, make_patient):
    older = make_patient("A", name="Flagget Først")
    newer = make_patient("A", name="Flagget Sist")
    flagged = {older.id: date(2026, 1, 5), newer.id: date(2026, 3, 1), world.a.patient_id: None}
    with session.begin():
        for patient_id, day in flagged.items():
            session.execute(
                sa.update(Patient)
                .where(Patient.id == patient_id)
                .values(mdt_review=True, mdt_flagged_on=day)
            )
    names = re.findall(r"<td>(Flagget \w+|Pasient A)</td>", section(nurse.get("/"), "mdt-list"))
    assert names == ["Flagget Sist", "Flagget Først", "Pasient A"]


# ---- missed, and one meaning of "late" -------------------------------------------------------


def test_a_missed_exam_is_marked_missed_not_as_a_booking(nurse, world, exam_of):
    exam = exam_of(world.a.patient_id, "ct_liver")
    page = nurse.get(f"/patients/{world.a.patient_id}")
    nurse.submit(page, f"/exams/{exam.id}/book", date=(world.today - timedelta(days=3)).isoformat())
    page = nurse.get(f"/patients/{world.a.patient_id}")
    answer = nurse.submit(page, f"/exams/{exam.id}/missed", reason="Kom ikke")
    assert answer.status_code == 302
    (row,) = [r for r in worklist_rows(nurse.get("/?exam=ct_liver")) if "Pasient A" in r]
    assert '<span class="tag missed">Ikke møtt</span>' in row
    assert f"<del><small>{_time(world.today - timedelta(days=3))}</small></del>" in row


def _time(d: date) -> str:
    return f'<time datetime="{d.isoformat()}">{born(d)}</time>'


def test_only_rows_of_the_overdue_list_say_late_in_red(nurse, make_patient):
    # Due a week ago: still to book (within the 42 days), not overdue.
    make_patient("A", name="Nylig Forfalt", treated_days_ago=190, kind="resection")
    rows = worklist_rows(nurse.get("/"))
    (recent,) = [r for r in rows if "Nylig Forfalt" in r]
    assert recent.startswith('<tr class="to_book">')
    assert 'class="late"' not in recent and "forsinket" not in recent
    assert "siden" in recent  # "forfalt for N dager siden"
    assert all('class="late"' in r for r in rows if r.startswith('<tr class="overdue">'))


# ---- date range and sorting --------------------------------------------------------------


def test_the_due_date_range_keeps_the_controls_due_within_it(nurse, world, make_patient):
    make_patient("A", name="Senere Pasient", treated_days_ago=160, kind="resection")
    today = world.today
    page = nurse.get(
        f"/?due_from={today.isoformat()}&due_to={(today + timedelta(days=15)):%Y-%m-%d}"
    )
    rows = worklist_rows(page)
    assert rows and all(r.startswith('<tr class="to_book">') for r in rows)  # the overdue CT left
    dues = [
        date.fromisoformat(d) for d in re.findall(r'<td><time datetime="([\d-]+)"', "".join(rows))
    ]
    assert all(today <= d <= today + timedelta(days=15) for d in dues[::2])


def test_the_export_keeps_the_due_date_range_of_the_page(nurse, world):
    lines = nurse.get(f"/export.csv?due_from={world.today}").get_data().decode("utf-8-sig")
    rows = lines.splitlines()[1:]
    assert rows and not any(row.startswith("Forsinket;") for row in rows)
    everything = nurse.get("/export.csv").get_data().decode("utf-8-sig").splitlines()[1:]
    assert any(row.startswith("Forsinket;") for row in everything)
    assert nurse.get("/export.csv?due_to=2026-02-30").status_code == 400


@pytest.mark.parametrize("field", ["due_from", "due_to"])
def test_a_wrong_date_in_the_range_is_said_beside_its_field(nurse, field):
    page = nurse.get(f"/?{field}=2026-13-01")
    assert page.status_code == 400
    (message,) = errors(page)
    assert "2026-13-01" in message
    assert re.search(rf'name="{field}"[^>]*aria-invalid="true"', page.text)


def test_a_range_that_ends_before_it_starts_is_refused(nurse):
    page = nurse.get("/?due_from=2026-06-01&due_to=2026-05-01")
    assert page.status_code == 400 and "01.05.2026" in errors(page)[0]


def test_the_due_column_sorts_both_ways_by_its_header(nurse, make_patient):
    make_patient("A", name="Tidlig Frist", treated_days_ago=175, kind="resection")
    make_patient("A", name="Sen Frist", treated_days_ago=150, kind="resection")
    page = nurse.get("/?list=to_book")
    assert re.search(r'<th aria-sort="ascending"><a href="[^"]*sort=-due', page.text)
    names = re.findall(r"<td>(Tidlig Frist|Sen Frist)</td>", page.text)
    assert names == ["Tidlig Frist", "Sen Frist"]
    link = re.search(r'<th aria-sort="ascending"><a href="([^"]+)"', page.text).group(1)
    latest_first = nurse.get(link.replace("&amp;", "&"))
    assert re.search(r'<th aria-sort="descending">', latest_first.text)
    assert re.findall(r"<td>(Tidlig Frist|Sen Frist)</td>", latest_first.text) == names[::-1]


# ---- the to-cancel list resolved in place ---------------------------------------------------


def test_a_booking_is_cancelled_from_the_list_and_the_nurse_stays_on_it(
    nurse, world, setup_for, db
):
    exam_id = ROUTES["patients.booking_cancelled"].reach(setup_for("a")).values["exam_id"]
    page = nurse.get("/?list=booking_to_cancel")
    answer = nurse.submit(page, f"/exams/{exam_id}/booking-cancelled")
    assert answer.status_code == 302
    assert answer.location.endswith("/?list=booking_to_cancel#cancel-list")
    assert not db.get(PlannedExam, exam_id).booking_to_cancel
    after = nurse.get(answer.location)
    assert flashes(after) and 'id="cancel-list"' not in after.text  # the row is gone


def test_each_cancel_button_has_its_own_accessible_name(nurse, setup_for):
    ROUTES["patients.booking_cancelled"].reach(setup_for("a"))
    names = re.findall(
        r"<button type=\"submit\">(.*?)</button>", section(nurse.get("/"), "cancel-list")
    )
    assert names and len(set(names)) == len(names)
    assert all("P-" in n for n in names)


# ---- the MDT decision's note by the flag ----------------------------------------------------


def test_the_last_mdt_decisions_note_is_shown_by_the_flag(nurse, world, session, db):
    with session.begin():
        session.execute(sa.update(Patient).values(mdt_review=True))
    page = nurse.get(f"/patients/{world.a.patient_id}")
    action = f"/patients/{world.a.patient_id}/mdt"
    answer = nurse.submit(page, action, note="Ny CT om 6 uker")
    assert answer.status_code == 302
    with session.begin():  # flagged again later
        session.execute(sa.update(Patient).values(mdt_review=True))
    patient_page = visible_text(nurse.get(f"/patients/{world.a.patient_id}"))
    assert "«Ny CT om 6 uker»" in patient_page
    assert "«Ny CT om 6 uker»" in section(nurse.get("/?list=mdt_review"), "mdt-list")


def test_the_mdt_flag_is_cleared_from_its_list_in_one_step(nurse, world, session, db):
    session.execute(sa.update(Patient).values(mdt_review=True))
    session.commit()
    page = nurse.get("/?list=mdt_review")
    answer = nurse.submit(page, f"/patients/{world.a.patient_id}/mdt", note="Ingen residiv")
    assert answer.status_code == 302
    assert answer.location.endswith("/?list=mdt_review#mdt-list")
    patient = db.get(Patient, world.a.patient_id)
    assert not patient.mdt_review
    assert [(d.decision, d.note) for d in patient.decisions] == [("no_recurrence", "Ingen residiv")]
    assert db.events("patient.mdt_decision", world.a.patient_id)
