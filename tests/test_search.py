"""The patient search through the name index (issue 10): it finds what a substring test of
the case-folded name finds, whichever way it reads the index, and the index follows every
service that writes a name."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from surveillance.db.models import Clinic, Patient, PatientNameSuffix, name_suffixes
from surveillance.services import review
from surveillance.services.bulk import NewPatient, load_patients
from surveillance.services.patients import correct_name
from surveillance.services.review import after_prefix, search_patients
from tests.support.data import synthetic_id

# Names a substring search must not get wrong: Norwegian letters, case, LIKE's wildcards
# and escape character, hyphens, a letter casefold() turns into two, repeated parts.
NAMES = (
    "Kari Hansen",
    "Kari Johansen",
    "Per Hansen-Berg",
    "ÅSE ØVERBY",
    "Øyvind Aas",
    "Ærlig Bø",
    "Anna Anna",
    "Grete Strauß",
    "Ola 100% Olsen",
    "Liv_Dahl",
    "Arne /Dahl",
    "Ingrid Berg",
)
TEXTS = (
    "hansen",
    "HANSEN",
    "ans",
    "a",
    "an",
    "anna anna",
    "ø",
    "Ø",
    "ØVER",
    "bø",
    "aas",
    "strauss",
    "ß",
    "%",
    "100%",
    "_",
    "/",
    "/d",
    "n-b",
    " ",
    "kari hansen",
    "kari hansens",
    "zzz",
    "berg",
)


def expected(patients: list[Patient], text: str, limit: int) -> list[int]:
    """What the search must answer: the substring test of the case-folded names, in order."""
    key = text.strip().casefold()
    found = [p for p in patients if key in p.name.casefold()]
    return [p.id for p in sorted(found, key=lambda p: (p.name, p.local_number))][:limit]


@pytest.fixture
def registered(create_patient) -> list[Patient]:
    return [create_patient(name=name) for name in NAMES]


@pytest.mark.parametrize("walk", [False, True], ids=["through the suffixes", "walking names"])
@pytest.mark.parametrize("limit", [50, 2])
def test_a_search_finds_the_names_holding_the_text(
    session, ctx, clinic, registered, monkeypatch, walk, limit
):
    """Both ways of reading the index answer as the substring test: the suffixes when the
    text is rare, the walk in name order when it is common (here: forced for every text)."""
    if walk:
        monkeypatch.setattr(review, "SPARSE", 0)
    for text in TEXTS:
        found = search_patients(session, ctx, [clinic.id], text, limit)
        assert [r.patient_id for r in found] == expected(registered, text, limit), text


def test_a_common_text_is_answered_by_walking_the_names(
    session, ctx, clinic, registered, monkeypatch
):
    """Past SPARSE suffixes the search walks the names: the same answer (here SPARSE = 3:
    'a' begins more suffixes, 'strauss' fewer)."""
    monkeypatch.setattr(review, "SPARSE", 3)
    count = session.scalar(review.suffix_count_query(clinic.id, "a"))
    assert count == 3  # counted no further than SPARSE
    assert session.scalar(review.suffix_count_query(clinic.id, "strauss")) == 1
    for text in ("a", "strauss", "an"):
        found = search_patients(session, ctx, [clinic.id], text)
        assert [r.patient_id for r in found] == expected(registered, text, 50), text


def test_the_search_keeps_to_the_clinics_given(session, ctx, clinic, registered, create_patient):
    with session.begin():
        other = Clinic(code="OTHER", name="Den andre klinikken")
        session.add(other)
    elsewhere = create_patient(clinic_code="OTHER", name="Kari Hansen")
    assert elsewhere.id not in {
        r.patient_id for r in search_patients(session, ctx, [clinic.id], "hansen")
    }
    both = search_patients(session, ctx, [clinic.id, other.id], "hansen")
    assert [r.patient_id for r in both] == expected([*registered, elsewhere], "hansen", 50)
    assert search_patients(session, ctx, [], "hansen") == []


def test_the_reference_and_national_id_are_found_beside_the_name(
    session, ctx, clinic, registered, create_patient
):
    numbered = create_patient(name="Pasient 7")  # a name holding the digits searched
    target = registered[3]
    for text in (f"P-{target.local_number:04d}", str(target.local_number), target.national_id):
        found = [r.patient_id for r in search_patients(session, ctx, [clinic.id], text)]
        assert target.id in found, text
    found = search_patients(session, ctx, [clinic.id], "7")
    assert {r.patient_id for r in found} >= {numbered.id}


def suffixes_stored(session) -> set[tuple]:
    table = PatientNameSuffix.__table__
    return {tuple(row) for row in session.execute(sa.select(table))}


def suffixes_expected(session) -> set[tuple]:
    """Every suffix of each name key, with the patient's sort keys (name, reference)."""
    patients = session.scalars(sa.select(Patient)).all()
    return {
        (p.clinic_id, s, p.name, p.local_number, p.id)
        for p in patients
        for s in name_suffixes(p.name.casefold())
    }


def test_the_index_follows_registration_bulk_load_and_a_corrected_name(
    session, ctx, clinic, registered
):
    load_patients(
        session,
        ctx,
        clinic.code,
        [
            NewPatient(synthetic_id(), "Bjørn Haugen", ((date(2025, 1, 15), "resection"),)),
            NewPatient(synthetic_id(), "Solveig Larsen"),
        ],
    )
    assert suffixes_stored(session) == suffixes_expected(session)
    correct_name(session, ctx, registered[0].id, "Kari Nordmann")
    session.expire_all()
    assert suffixes_stored(session) == suffixes_expected(session)
    found = [r.patient_id for r in search_patients(session, ctx, [clinic.id], "hansen")]
    assert registered[0].id not in found and registered[1].id in found
    assert [r.name for r in search_patients(session, ctx, [clinic.id], "nordm")] == [
        "Kari Nordmann"
    ]
    assert [r.name for r in search_patients(session, ctx, [clinic.id], "bjørn")] == ["Bjørn Haugen"]


def test_a_name_has_a_suffix_per_character():
    assert name_suffixes("ola aas") == ["ola aas", "la aas", "a aas", " aas", "aas", "as", "s"]
    assert name_suffixes("") == []


@pytest.mark.parametrize(
    ("key", "after"),
    [
        ("hansen", "hanseo"),
        ("ø", "ù"),
        ("a" + chr(0xD7FF), "a" + chr(0xE000)),  # past the surrogates, which UTF-8 has not
        ("a" + chr(0x10FFFF), "b"),
        (chr(0x10FFFF), None),
    ],
)
def test_the_range_of_strings_beginning_with_a_text_ends_at_the_next_one(key, after):
    assert after_prefix(key) == after


def test_a_digit_of_another_script_is_searched_as_a_name(session, ctx, clinic, create_patient):
    """str.isdigit() says yes to "²", int() says no: the search answered 500."""
    squared = create_patient(name="Kari Hansen²")
    found = search_patients(session, ctx, [clinic.id], "²")
    assert [r.patient_id for r in found] == [squared.id]
