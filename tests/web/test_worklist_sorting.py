"""Issue 12: the control lists sort by Reference, Name, Born, Due and Booked for, both ways,
by their headers; the filters are kept, the page goes back to the first; a corrected name
re-sorts the lists at once."""

from __future__ import annotations

import re
from datetime import date, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from surveillance.db.models import Control, Patient
from surveillance.errors import InputError
from surveillance.services.exams import record_booking
from surveillance.services.patients import correct_name
from tests.support.data import synthetic_id
from tests.web.browsing import errors

# Registered in this order (the references follow it): by name in the Norwegian alphabet
# Bjørn < Øyvind < Åse, by birth date Øyvind < Bjørn < Åse.
PATIENTS = (
    ("Åse Berg", date(1970, 3, 1)),
    ("Bjørn Zahl", date(1960, 3, 1)),
    ("Øyvind Aas", date(1950, 3, 1)),
)
NAMES = tuple(name for name, _ in PATIENTS)


@pytest.fixture
def three(make_patient):
    return [
        make_patient("A", name=name, national_id=synthetic_id(born), treated_days_ago=175)
        for name, born in PATIENTS
    ]


def due(exam) -> date:
    return exam.due


def names_in_order(page) -> list[str]:
    """The three patients' names in the order of the worklist's rows, each once."""
    table = re.search(r'<table class="worklist">(.*?)</table>', page.text, re.DOTALL).group(1)
    shown = re.findall(r"<td>(" + "|".join(NAMES) + r")</td>", table)
    return list(dict.fromkeys(shown))


def header_link(page, text: str) -> str:
    """The href of the column header saying `text`."""
    found = re.search(r'<th[^>]*><a href="([^"]+)">' + re.escape(text) + "<", page.text)
    return found.group(1).replace("&amp;", "&")


def aria_sort(page, text: str) -> str | None:
    found = re.search(
        r'<th( aria-sort="(\w+)")?><a href="[^"]+">' + re.escape(text) + "<", page.text
    )
    return found.group(2)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Referanse", list(NAMES)),
        ("Navn", ["Bjørn Zahl", "Øyvind Aas", "Åse Berg"]),
        ("Født", ["Øyvind Aas", "Bjørn Zahl", "Åse Berg"]),
    ],
)
def test_each_header_sorts_the_rows_both_ways(nurse, three, header, expected):
    page = nurse.get("/?list=to_book&exam=cea")
    assert aria_sort(page, header) is None
    link = header_link(page, header)
    assert "list=to_book" in link and "exam=cea" in link and "page=1" in link
    ascending = nurse.get(link)
    assert ascending.status_code == 200
    assert aria_sort(ascending, header) == "ascending"
    assert aria_sort(ascending, "Frist") is None
    assert names_in_order(ascending) == expected
    descending = nurse.get(header_link(ascending, header))
    assert aria_sort(descending, header) == "descending"
    assert names_in_order(descending) == expected[::-1]


def test_the_booked_for_header_sorts_by_the_booked_date(nurse, three, session, ctx_today):
    # Booked in the reverse order of registration: the latest booking is the first patient's.
    late = ctx_today.today - timedelta(days=ctx_today.settings.overdue_after_days)
    for days, patient in zip((30, 20, 10), three):
        exam = min((e for e in patient.exams if e.state == "open" and e.due >= late), key=due)
        record_booking(session, ctx_today, exam.id, date=ctx_today.today + timedelta(days=days))
    page = nurse.get("/?list=booked")
    assert names_in_order(page) == list(NAMES)  # by due date, then reference: all due alike
    ascending = nurse.get(header_link(page, "Bestilt til"))
    assert names_in_order(ascending) == list(NAMES[::-1])
    descending = nurse.get(header_link(ascending, "Bestilt til"))
    assert names_in_order(descending) == list(NAMES)


@pytest.mark.parametrize("sort", ["national_id", "-", "name;drop", "--name"])
def test_an_unknown_sort_is_said_beside_the_filters(nurse, three, sort):
    # As a wrong date in the range: 400, the message naming the field and the value, the
    # rows still shown (in the default order), and no link carries the refused sort on.
    page = nurse.get(f"/?list=to_book&exam=cea&sort={sort}")
    assert page.status_code == 400
    (message,) = errors(page)
    assert message == (
        f"Sortering: «{sort}» er ikke en kolonne listen kan sorteres etter "
        "(Referanse, Navn, Født, Frist, Bestilt til)"
    )
    assert aria_sort(page, "Frist") == "ascending"  # the default order
    assert names_in_order(page) == list(NAMES)
    link = header_link(page, "Navn")
    assert "list=to_book" in link and "exam=cea" in link and "sort=name" in link
    links = re.findall(r'href="(/\?[^"]*)"', page.text.replace("&amp;", "&"))
    assert links and all(parse_qs(urlsplit(href).query).get("sort") != [sort] for href in links)
    assert 'name="sort"' not in page.text  # nor does the filter form


def test_no_sort_is_the_due_order(nurse, three):
    page = nurse.get("/?list=to_book&sort=")
    assert page.status_code == 200 and not errors(page)
    assert aria_sort(page, "Frist") == "ascending"


def test_a_corrected_name_re_sorts_the_list(nurse, three, session, ctx_today):
    assert names_in_order(nurse.get("/?list=to_book&sort=name"))[0] == "Bjørn Zahl"
    correct_name(session, ctx_today, three[0].id, "Anne Berg")
    page = nurse.get("/?list=to_book&sort=name")
    assert "Åse Berg" not in page.text
    table = re.search(r'<table class="worklist">(.*?)</table>', page.text, re.DOTALL).group(1)
    assert table.index("Anne Berg") < table.index("Bjørn Zahl") < table.index("Øyvind Aas")


def test_a_name_correction_refused_changes_nothing(world, three, session, ctx_today):
    with pytest.raises(InputError) as refused:
        correct_name(session, ctx_today, three[0].id, "   ")
    assert refused.value.field == "name"
    session.expire_all()
    assert session.get(Patient, three[0].id).name == "Åse Berg"
    keys = session.scalars(sa.select(Control.name_order).where(Control.patient_id == three[0].id))
    assert set(keys) == {"}se berg"}


@pytest.mark.parametrize(
    "crafted", ["endpoint=x", "_method=POST", "_external=1&_scheme=javascript", "_anchor=x"]
)
def test_links_carry_only_the_worklists_own_parameters(nurse, three, crafted):
    # url_for takes these names as its own arguments: carried on, they broke the page (500).
    page = nurse.get(f"/?list=to_book&exam=cea&{crafted}")
    assert page.status_code == 200
    link = header_link(page, "Navn")
    assert "list=to_book" in link and "exam=cea" in link
    assert crafted.split("=")[0] not in link and link.startswith("/?")
