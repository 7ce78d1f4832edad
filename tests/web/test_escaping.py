"""Free text with HTML or script in it is shown as text on every page, never run."""

from __future__ import annotations

from datetime import timedelta

import pytest
from markupsafe import escape

from surveillance.services import record_result
from tests.support.data import synthetic_id

from .browsing import errors
from .route_table import ROUTES

pytestmark = pytest.mark.thorough  # every free text on every page

PAYLOADS = {"script": "<script>alert(1)</script>", "attribute": '"><img src=x onerror=alert(1)>'}


@pytest.fixture(params=PAYLOADS.values(), ids=PAYLOADS.keys())
def payload(request) -> str:
    return request.param


def as_text(page, text: str) -> bool:
    """The text is on the page, escaped; nowhere as markup."""
    return text not in page.text and str(escape(text)) in page.text


@pytest.fixture
def marked(nurse, world, make_patient, payload):
    """A patient of clinic A whose name holds the payload; returns (id, name)."""
    name = f"Kari {payload}"
    return make_patient("A", name=name).id, name


def day(world, offset: int) -> str:
    return (world.today + timedelta(days=offset)).isoformat()


def test_a_name_on_the_worklist_search_and_patient_page(nurse, marked):
    patient_id, name = marked
    for path in ("/", "/?list=to_book", f"/patients/{patient_id}"):
        assert as_text(nurse.get(path), name), path
    assert as_text(nurse.post("/search", {"q": "Kari"}), name)


def test_a_name_on_the_mdt_list_and_the_bookings_to_cancel(nurse, marked, world, session, exam_of):
    patient_id, name = marked
    record_result(
        session, world.ctx, exam_of(patient_id, "cea").id, done_date=world.today, value="50"
    )
    assert as_text(nurse.get("/?list=mdt_review"), name)
    assert as_text(nurse.get("/"), name)


def test_a_name_typed_into_the_new_patient_form(nurse, world, payload):
    answer = nurse.submit(
        nurse.get("/patients/new"), "", national_id=synthetic_id(), name=f"Ola {payload}"
    )
    assert as_text(nurse.get(answer.location), f"Ola {payload}")


def test_a_search_is_echoed_as_text(nurse, payload):
    assert as_text(nurse.post("/search", {"q": payload}), payload)


def test_every_free_text_of_the_patient_page(nurse, world, exam_of, payload):
    pid = world.a.patient_id
    path = f"/patients/{pid}"
    texts = {
        "note": (f"/patients/{pid}/notes", {"text": f"notat {payload}"}),
        "place": (
            f"/exams/{exam_of(pid, 'cea').id}/book",
            {"date": day(world, 7), "place": f"sted {payload}"},
        ),
        "missed": (
            f"/exams/{exam_of(pid, 'ct_tap').id}/missed",
            {"reason": f"grunn {payload}", "contact_attempt": f"ringt {payload}"},
        ),
        "treatment": (
            f"/patients/{pid}/treatments",
            {"date": day(world, -10), "kind": "pve", "note": f"beh {payload}"},
        ),
    }
    for action, form in texts.values():
        assert nurse.submit(nurse.get(path), action, **form).status_code == 302, action
    page = nurse.get(path)
    for text in ("notat", "sted", "grunn", "ringt", "beh"):
        assert as_text(page, f"{text} {payload}"), text
    nurse.submit(
        page, f"/patients/{pid}/end", status="moved", reason=f"slutt {payload}", confirm="yes"
    )
    assert as_text(nurse.get(path), f"slutt {payload}")


def test_a_refused_entry_shows_the_typed_text_as_text(nurse, world, exam_of, payload):
    action = f"/exams/{exam_of(world.a.patient_id, 'cea').id}/book"
    answer = nurse.submit(
        nurse.get(f"/patients/{world.a.patient_id}"),
        action,
        date=f"2025-02-30{payload}",
        place=f"sted {payload}",
    )
    assert answer.status_code == 400 and errors(answer)
    assert as_text(answer, f"sted {payload}")
    assert payload not in answer.text


def test_the_audit_log_shows_free_text_as_text(world, log_in, setup_for, payload):
    nurse, admin = log_in(world.a.nurse), log_in(world.a.admin)
    pid = world.a.patient_id
    ROUTES["patients.mdt"].reach(setup_for("a"))  # under review
    nurse.submit(nurse.get(f"/patients/{pid}"), f"/patients/{pid}/mdt", note=f"mdt {payload}")
    assert as_text(admin.get("/admin/audit"), f"mdt {payload}")
    assert as_text(admin.get("/admin/audit", query_string={"user": payload}), payload)


def test_names_of_accounts_and_clinics_on_the_admin_pages(world, log_in, create_user, payload):
    admin = log_in(world.installer)
    clinics = admin.get("/admin/clinics")
    assert admin.submit(clinics, "", code="C-9", name=f"Klinikk {payload}").status_code == 302
    assert as_text(admin.get("/admin/clinics"), f"Klinikk {payload}")
    assert as_text(admin.get("/admin/users"), f"Klinikk {payload}")  # the clinic checkboxes
    email = f"{payload.replace(' ', '')}@test"  # an address has no spaces
    create_user(email, "nurse", ("A",))
    assert as_text(admin.get("/admin/users"), email)
    nurse = log_in(email)
    nurse.get(f"/patients/{world.a.patient_id}")
    assert as_text(nurse.get("/"), email)  # the account shown in the header
    assert as_text(admin.get("/admin/audit"), email)


def test_a_cancelled_exams_note_is_shown_as_text(nurse, world, exam_of, payload):
    """The plan (web/plan.py, written in Python since issue 10) escapes a stored cancel note."""
    pid = world.a.patient_id
    action = f"/exams/{exam_of(pid, 'cea').id}/cancel"
    answer = nurse.submit(nurse.get(f"/patients/{pid}"), action, cancel_note=f"avlyst {payload}")
    assert answer.status_code == 302
    assert as_text(nurse.get(f"/patients/{pid}"), f"avlyst {payload}")


@pytest.mark.parametrize(
    "action, fields",
    [
        ("missed", {"reason": "x" * 2001, "contact_attempt": "ringt {payload}"}),
        ("cancel", {"cancel_note": "avlyst {payload}" + "x" * 2001}),
        ("book", {"date": "2025-02-30", "time": "", "place": "sted {payload}"}),
    ],
    ids=["missed", "cancel", "book"],
)
def test_each_refused_plan_form_shows_the_typed_text_as_text(
    nurse, world, exam_of, payload, action, fields
):
    """Every form of the plan re-shows a refused entry's text escaped, once."""
    pid = world.a.patient_id
    typed = {name: value.replace("{payload}", payload) for name, value in fields.items()}
    path = f"/exams/{exam_of(pid, 'cea').id}/{action}"
    answer = nurse.submit(nurse.get(f"/patients/{pid}"), path, **typed)
    assert answer.status_code == 400 and errors(answer)
    assert payload not in answer.text
    shown = next(value for value in typed.values() if payload in value)
    assert str(escape(shown)) in answer.text
    assert "&amp;lt;" not in answer.text  # not escaped twice
