"""The worklist as a nurse reads it: overdue first, counts, filters and the search."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from surveillance.db.models import Patient

from .browsing import visible_text


@pytest.fixture
def nurse(world, log_in):
    return log_in(world.a.nurse)


def rows(page) -> list[str]:
    """The classes of the worklist's rows, top to bottom (each row's list)."""
    table = re.search(r'<table class="worklist">(.*?)</table>', page.text, re.DOTALL)
    return re.findall(r'<tr class="([a-z_]+)">', table.group(1)) if table else []


def counts(page) -> dict[str, int]:
    return {name: int(n) for name, n in re.findall(r'data-count="([a-z_]+)">(\d+)<', page.text)}


def test_overdue_comes_first(nurse):
    page = nurse.get("/")
    assert rows(page)[0] == "overdue"
    assert rows(page) == sorted(
        rows(page), key=["overdue", "results_missing", "to_book", "booked"].index
    )


def test_the_counts_match_the_lists(nurse):
    page = nurse.get("/")
    for name, count in counts(page).items():
        if name in ("overdue", "to_book"):
            assert len(rows(nurse.get(f"/?list={name}"))) == count, name
    assert counts(page)["overdue"] == 1 and counts(page)["to_book"] == 1


def test_the_exam_filter(nurse):
    page = nurse.get("/?exam=ct_liver")
    assert rows(page) == ["overdue"]  # only the ablation's liver CT is overdue
    assert rows(nurse.get("/?exam=cea")) == ["to_book"]


@pytest.mark.parametrize("query", ["Pasient A", "pasient a", "P-{n:04d}", "{n}", "{national_id}"])
def test_search_by_name_reference_or_national_id(nurse, world, db, query):
    patient = db.get(Patient, world.a.patient_id)
    query = query.format(n=patient.local_number, national_id=patient.national_id)
    page = nurse.post("/search", {"q": query})
    assert f'href="/patients/{world.a.patient_id}"' in page.text.split('class="counts"')[0]
    assert "Pasient B" not in visible_text(page)


def test_the_mdt_list_shows_its_first_rows_under_all_lists_and_pages_alone(
    nurse, world, session, make_patient
):
    # 12 patients waiting for the MDT, more than the 10 rows shown beside the worklist.
    for n in range(11):
        make_patient("A", name=f"MDT {n:02d}")
    with session.begin():
        session.execute(sa.update(Patient).values(mdt_review=True))
    flagged = session.scalar(
        sa.select(sa.func.count())
        .select_from(Patient)
        .where(Patient.mdt_review, Patient.clinic_id == world.a.clinic_id)
    )
    everything = nurse.get("/")
    mdt_section = everything.text.split('id="mdt-list"')[1].split("</section>")[0]
    assert "/?list=mdt_review" in mdt_section  # "show all"
    shown = re.findall(r"<td>MDT \d\d</td>|<td>Pasient A</td>", mdt_section)
    assert len(shown) == 10 < flagged
    alone = nurse.get("/?list=mdt_review").text.split('id="mdt-list"')[1].split("</section>")[0]
    assert len(re.findall(r"<td>MDT \d\d</td>|<td>Pasient A</td>", alone)) == flagged
