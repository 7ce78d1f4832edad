"""The worklist as a nurse reads it: overdue first, counts, filters and the search."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from surveillance.db.models import Patient

from .browsing import visible_text


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


def test_a_list_exports_as_csv_that_excel_opens_safely_and_is_audited(
    nurse, world, db, make_patient
):
    make_patient("A", name='=HYPERLINK("http://x.invalid";"Åse")')
    make_patient("A", name="Øystein Ærø")
    before = len(db.events("worklist.export"))
    answer = nurse.get("/export.csv")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    data = answer.get_data()
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM: Excel reads æ, ø, å
    lines = data.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("Liste;Referanse;Navn;")
    assert any(";Øystein Ærø;" in line for line in lines)
    assert any(";\"'=HYPERLINK(" in line for line in lines)  # text, never a formula
    assert not any(";=" in line or ';"=' in line for line in lines)
    assert "Pasient B" not in data.decode("utf-8-sig")  # another clinic's patient
    (event,) = db.events("worklist.export")[before:]
    assert event.details["rows"] == len(lines) - 1


def test_the_mdt_list_exports_with_its_own_columns(nurse, session, make_patient):
    make_patient("A", name="Kari Sæther")
    with session.begin():
        session.execute(sa.update(Patient).values(mdt_review=True))
    lines = nurse.get("/export.csv?list=mdt_review").get_data().decode("utf-8-sig").splitlines()
    assert lines[0] == "Referanse;Navn;Født;Hvorfor" and any(
        "Kari Sæther" in line for line in lines
    )


def test_the_mdt_reason_reads_in_words_with_its_date(nurse, world, session):
    with session.begin():
        session.execute(
            sa.update(Patient)
            .where(Patient.id == world.a.patient_id)
            .values(mdt_review=True, mdt_reason="ct_tap 2026-11-24")
        )
    mdt = nurse.get("/?list=mdt_review").text.split('id="mdt-list"')[1].split("</section>")[0]
    assert "CT thorax/abdomen/bekken 24.11.2026" in visible_text_of(mdt)
    assert "ct_tap" not in mdt and "2026-11-24" not in mdt


def visible_text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())
