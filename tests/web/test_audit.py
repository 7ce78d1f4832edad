"""Every view of a patient and every change is an audit event; the national ID is shown on request."""

from __future__ import annotations

import datetime
import re
from zoneinfo import ZoneInfo

import pytest

from surveillance.db.models import Patient

from .browsing import path_of, visible_text

pytestmark = pytest.mark.thorough  # every route's audit rows


def test_every_view_of_a_patient_page_is_audited(nurse, world, db):
    for n in (1, 2):
        assert nurse.get(f"/patients/{world.a.patient_id}").status_code == 200
        views = db.events("patient.view", world.a.patient_id)
        assert len(views) == n
    assert (views[-1].actor, views[-1].user_id is not None) == (world.a.nurse, True)


def test_a_refused_entry_is_audited_as_a_view(nurse, world, db):
    before = len(db.events())
    nurse.post(f"/patients/{world.a.patient_id}/notes", {"text": ""})
    assert [e.action for e in db.events()[before:]] == ["patient.view"]


def test_every_change_is_audited(app, audited_route, world, log_in, anonymous, setup_for, db):
    post_route = audited_route
    row = post_route.row
    reach = row.reach(setup_for("a"))
    browser = anonymous if post_route.endpoint == "auth.login" else log_in(world.installer)
    before = len(db.events())
    answer = browser.post(path_of(app, post_route, reach.values), reach.form)
    assert answer.status_code in row.statuses("POST")
    new = db.events()[before:]
    assert row.event in [e.action for e in new]
    event = next(e for e in new if e.action == row.event)
    assert event.actor == (
        world.a.nurse if post_route.endpoint == "auth.login" else world.installer
    )
    if post_route.endpoint.startswith("patients.") and post_route.endpoint != "patients.new":
        assert event.patient_id == world.a.patient_id


def test_the_national_id_is_masked_until_asked_for(nurse, world, db):
    number = db.get(Patient, world.a.patient_id).national_id
    page = nurse.get(f"/patients/{world.a.patient_id}")
    assert number not in page.text and number[:6] not in page.text and number[6:] not in page.text
    assert not db.events("patient.reveal_id")
    revealed = nurse.submit(page, f"/patients/{world.a.patient_id}/reveal")
    assert revealed.status_code == 200 and number in visible_text(revealed)
    (event,) = db.events("patient.reveal_id", world.a.patient_id)
    assert event.actor == world.a.nurse
    assert number not in str(event.details)  # the log says who saw it, not what it is
    assert number not in nurse.get(f"/patients/{world.a.patient_id}").text  # masked again


def test_the_national_id_is_on_no_other_page(nurse, world, db):
    number = db.get(Patient, world.a.patient_id).national_id
    for path in ("/", "/?list=to_book", "/?list=overdue"):
        assert number not in nurse.get(path).text
    assert number not in nurse.post("/search", {"q": "Pasient"}).text


def test_a_search_by_national_id_finds_without_showing_it(nurse, world, db):
    number = db.get(Patient, world.a.patient_id).national_id
    page = nurse.post("/search", {"q": number})
    assert "Pasient A" in visible_text(page)
    assert visible_text(page).count(number) <= 1  # at most as the search typed, not in the rows


def test_the_admin_sees_who_has_seen_a_patient(world, log_in, db):
    nurse, admin = log_in(world.a.nurse), log_in(world.a.admin)
    nurse.get(f"/patients/{world.a.patient_id}")
    nurse.post(f"/patients/{world.a.patient_id}/reveal")
    reference = f"P-{db.get(Patient, world.a.patient_id).local_number:04d}"
    page = admin.get("/admin/audit", query_string={"patient": reference})
    viewers = re.search(r'<section class="card">(.*?)</section>', page.text, re.DOTALL).group(1)
    assert world.a.nurse in viewers and world.a.admin not in viewers
    assert "Viste fødselsnummeret" in visible_text(page)  # the action in words


def test_the_audit_log_is_in_norwegian_time_and_words(world, log_in, db):
    nurse, admin = log_in(world.a.nurse), log_in(world.a.admin)
    nurse.submit(
        nurse.get(f"/patients/{world.a.patient_id}"),
        f"/patients/{world.a.patient_id}/end",
        status="moved",
        reason="Flyttet til Tromsø",
        confirm="yes",
    )
    event = db.events()[-1]
    page = admin.get("/admin/audit")
    oslo = event.at.replace(tzinfo=datetime.UTC).astimezone(ZoneInfo("Europe/Oslo"))
    text = visible_text(page)
    assert oslo.strftime("%d.%m.%Y %H:%M:%S") in text
    assert "Avsluttet oppfølgingen" in text and "patient.end" not in text
    assert "Status: Flyttet; Undersøkelser avlyst: " in text
    assert "updated" not in text and "clinics" not in text
