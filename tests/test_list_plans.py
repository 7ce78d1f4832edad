"""Every list query reads its own index on both databases: a later change cannot fall back
to a scan of the controls without this failing (design.md's traps)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from surveillance.config import Config
from surveillance.db import make_engine
from surveillance.db.migrate import upgrade
from surveillance.db.models import Patient, PlannedExam
from surveillance.feeds.render import FeedSettings
from surveillance.feeds.store import (
    FeedScope,
    changed_patients_query,
    latest_exam_change,
    latest_patient_change,
    versions_query,
)
from surveillance.services import Actor, Context
from surveillance.services.review import (
    name_walk_query,
    search_query,
    suffix_count_query,
    suffix_query,
)
from surveillance.services.worklist import CATEGORIES, list_count_query, list_page_query


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def engine(request, fresh_database):
    """A database of the module's own, as the migrations made it.

    PostgreSQL chooses by costs, and on a test's few rows two indexes often cost the same: the
    smaller wins. On the run's shared database, earlier tests' deleted rows leave indexes of
    different sizes, which tipped such ties away from the index a query is written for (seen
    in CI's order, not alone). Here every index is as small as the others."""
    engine = make_engine(fresh_database(request.param))
    upgrade(engine)
    yield engine
    engine.dispose()


# The index each list must be read through.
INDEXES = {
    "overdue": "ix_controls_due",
    "results_missing": "ix_controls_waiting",
    "to_book": "ix_controls_to_book",
    "booked": "ix_controls_waiting",
    "coordinated": "ix_controls_waiting",
    "on_hold": "ix_controls_held",
}
CTX = Context(Actor("nurse@test"), date(2026, 6, 1))


def plan(session, query) -> str:
    """The database's plan of a query, as text."""
    bind = session.get_bind()
    options = {"literal_binds": True, "render_postcompile": True}
    sql = str(query.compile(dialect=bind.dialect, compile_kwargs=options))
    if bind.dialect.name == "sqlite":
        rows = session.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + sql)
        return "\n".join(row[-1] for row in rows)
    # Too few rows to make an index worth it: tell the planner a scan costs the earth.
    session.execute(sa.text("SET LOCAL enable_seqscan = off"))
    rows = session.connection().exec_driver_sql("EXPLAIN " + sql.replace("%", "%%"))
    return "\n".join(row[0] for row in rows)


def reads_index(text: str, index: str) -> bool:
    """A range (or point) search of the index, not a walk of a whole table or index.

    SQLite's choice is made by rules: it must be the list's own index. PostgreSQL's is made
    by costs, and on a test's few rows two indexes may cost the same: any index of the
    controls will do there, as long as it is searched by clinic (no scan of everything).
    """
    if "Seq Scan on controls" in text:
        return False
    if "Index Cond" not in text:  # SQLite
        lines = [line for line in text.splitlines() if index in line]
        return any("SEARCH" in line for line in lines)
    # "Backward": the latest due date first walks the same index the other way.
    used = re.search(
        r"(Index (Only )?Scan (Backward )?using|Bitmap Index Scan on) ix_controls_\w+", text
    )
    return bool(used) and re.search(r"Index Cond: .*clinic_id", text) is not None


@pytest.mark.parametrize("category", CATEGORIES)
@pytest.mark.parametrize("clinic_ids", [[1], [1, 2]], ids=["one clinic", "two clinics"])
def test_a_list_count_reads_its_index(session, category, clinic_ids):
    text = plan(session, list_count_query(category, CTX, clinic_ids))
    assert reads_index(text, INDEXES[category]), text


@pytest.mark.parametrize("category", CATEGORIES)
def test_a_list_page_walks_its_index(session, category):
    text = plan(session, list_page_query(category, CTX, [1], None, 100, 50))
    assert reads_index(text, INDEXES[category]), text
    assert "TEMP B-TREE" not in text and "Sort" not in text, text


def test_the_check_sees_a_scan(session):
    """The test above fails when a list query loses its index (here: no clinic condition)."""
    query = (
        sa.select(sa.func.count()).select_from(sa.table("controls")).where(sa.text("codes = 'x'"))
    )
    assert not reads_index(plan(session, query), "ix_controls_due")


def test_the_count_to_book_reads_no_table_row(session):
    """SQLite covers a query only with an index naming every column it uses (migration 0013)."""
    text = plan(session, list_count_query("to_book", CTX, [1]))
    if session.get_bind().dialect.name == "sqlite":
        assert "COVERING INDEX ix_controls_to_book" in text, text
    else:
        assert reads_index(text, "ix_controls_to_book"), text


def test_the_first_bookings_to_cancel_come_in_the_index_order(session):
    """The side list's first rows without sorting every booking to cancel (migration 0013)."""
    query = (
        sa.select(PlannedExam.id, Patient.local_number)
        .join(Patient, Patient.id == PlannedExam.patient_id)
        .where(PlannedExam.clinic_id == 1, sa.text("booking_to_cancel"))
        .order_by(PlannedExam.booked_date, Patient.local_number, PlannedExam.code)
        .limit(10)
    )
    text = plan(session, query)
    assert "ix_planned_exams_booking_to_cancel" in text, text
    assert "TEMP B-TREE FOR ORDER BY" not in text, text  # "FOR RIGHT PART OF ORDER BY" will do


@pytest.mark.parametrize("clinic_ids", [(1,), (1, 2)], ids=["one clinic", "two clinics"])
def test_a_feed_reads_the_open_controls_through_their_index(session, clinic_ids):
    """A feed costs O(controls shown): its open controls are one range of ix_controls_due
    per clinic, their exams and patients found by key, never a scan of a table."""
    scope = FeedScope(1, "", clinic_ids, ("A", "B")[: len(clinic_ids)], (), None, None)
    text = plan(session, versions_query(scope, FeedSettings.from_config(Config()).day(CTX.today)))
    assert reads_index(text, "ix_controls_due"), text
    assert not re.search(r"\bSCAN (controls|planned_exams|patients)\b|Seq Scan", text), text


def test_a_feeds_etag_reads_the_latest_patient_change_from_an_index(session):
    """The 304 path: one search of ix_patients_clinic_updated, no walk of the patients."""
    text = plan(session, latest_patient_change(1))
    assert "ix_patients_clinic_updated" in text, text
    assert not re.search(r"\bSCAN patients\b|Seq Scan", text), text


def test_a_feeds_etag_reads_the_latest_exam_change_from_an_index(session):
    """The 304 path: one search of ix_planned_exams_clinic_updated, not the feed's window."""
    text = plan(session, latest_exam_change(1))
    assert "ix_planned_exams_clinic_updated" in text, text
    assert not re.search(r"\bSCAN planned_exams\b|Seq Scan", text), text


def test_a_feeds_changes_are_found_through_the_updated_at_indexes(session):
    """A change re-reads its patients: ranges of the two updated_at indexes, not the feed."""
    since = datetime(2026, 6, 1, tzinfo=UTC)
    text = plan(session, changed_patients_query((1,), since))
    assert "ix_planned_exams_clinic_updated" in text, text
    assert "ix_patients_clinic_updated" in text, text
    assert not re.search(r"\bSCAN (planned_exams|patients)\b|Seq Scan", text), text


RANGE = (date(2026, 5, 1), date(2026, 7, 31))


@pytest.mark.parametrize("category", CATEGORIES)
def test_a_list_within_a_due_range_counts_through_its_index(session, category):
    text = plan(session, list_count_query(category, CTX, [1], None, RANGE))
    assert reads_index(text, INDEXES[category]), text


@pytest.mark.parametrize("latest_first", [False, True], ids=["earliest first", "latest first"])
@pytest.mark.parametrize("category", CATEGORIES)
def test_a_ranged_or_reversed_page_walks_its_index_without_a_sort(session, category, latest_first):
    query = list_page_query(
        category, CTX, [1], None, 0, 50, due_range=RANGE, latest_first=latest_first
    )
    text = plan(session, query)
    assert reads_index(text, INDEXES[category]), text
    assert "TEMP B-TREE" not in text and "Sort" not in text, text


SORT_KEYS = ("local_number", "name_order", "birth_date", "booked_date")


@pytest.mark.parametrize("latest_first", [False, True], ids=["ascending", "descending"])
@pytest.mark.parametrize("key", SORT_KEYS)
@pytest.mark.parametrize("category", CATEGORIES)
def test_a_page_sorted_by_a_column_walks_an_index_in_that_order(
    session, category, key, latest_first
):
    """Sorted by reference, name, birth date or booked date: a page read in an index's
    order (the list's own, by that key), never a sort of the whole list (issue 12)."""
    query = list_page_query(
        category, CTX, [1], None, 50, 50, latest_first=latest_first, sort_key=key
    )
    if session.get_bind().dialect.name == "postgresql":
        # On a test's few rows a sort of one estimated row costs as little as the walk, and
        # which wins depends on the indexes' sizes, which earlier tests' deleted rows leave.
        # A sort then costs the earth too: the plan still sorts if no index gives the order.
        session.execute(sa.text("SET LOCAL enable_sort = off"))
    text = plan(session, query)
    index = INDEXES[category].replace("ix_controls_", "") + "_by_" + key
    assert reads_index(text, f"ix_controls_{index}"), text
    assert "TEMP B-TREE" not in text and "Sort" not in text, text


def search_by_name(session, clinic_id: int, key: str, walk: bool) -> sa.Select:
    """The search's final query over the ids one way of reading the name index found, as
    search_patients makes it; on SQLite with a reference's too (its unique index: PostgreSQL
    may take any index of the clinic's for it on a test's empty table, as in reads_index)."""
    found = [name_walk_query(clinic_id, key, 50) if walk else suffix_query(clinic_id, key, 50)]
    if session.get_bind().dialect.name == "sqlite":
        by_number = sa.select(Patient.id).where(Patient.clinic_id.in_([clinic_id]))
        found.append(by_number.where(Patient.local_number == 7))
    return search_query(found, 50)


# A patient read by key: its id, its reference or its national ID.
BY_KEY = (
    r"USING INTEGER PRIMARY KEY \(rowid=\?\)|"
    r"USING INDEX sqlite_autoindex_patients_\d \((local_number|national_id)=\?\)|"
    r"Index Cond: \(.*\b(id|local_number|national_id) = "
)
# The walk of a common text: the clinic's patients in the results' order, up to a page.
WALK = (
    r"SEARCH patients USING COVERING INDEX ix_patients_clinic_name \(clinic_id=\?\)|"
    r"Index (Only )?Scan using ix_patients_clinic_name on patients"
)


def reads_patients_by_key(text: str, walk: bool = False) -> bool:
    """Every read of the patients is by key, but for a walk of ix_patients_clinic_name under
    a LIMIT of its own if `walk`; the final page is sorted by itself (no walk of a clinic
    tested against the ids found). Never a scan of the clinic's patients (issue 10)."""
    lines = text.splitlines()
    if "Seq Scan on patients" in text or ("Filter: " in text and not walk):
        return False
    if not re.search(
        r"SEARCH patients USING INTEGER PRIMARY KEY|using pk_patients on patients", text
    ):
        return False  # the page's patients read by their ids
    if lines[0].startswith("SEARCH") and not re.search(BY_KEY, lines[0]):
        return False  # SQLite: the outer loop is the final query's read of patients
    for i, line in enumerate(lines):
        if not re.search(r"\b(SEARCH|SCAN) patients\b|Scan .*\bon patients\b", line):
            continue
        condition = line if line.startswith(("SEARCH", "SCAN")) else lines[i + 1]
        if re.search(BY_KEY, condition):
            continue
        if not (walk and re.search(WALK, line)):
            return False
        if not line.startswith("SEARCH") and "Limit" not in lines[i - 1]:
            return False  # PostgreSQL: the walk stops at a page
    # SQLite: the walk is read in the index's order, only the final page is sorted (a rare
    # text's range is sorted too: it is short).
    sqlite = lines[0].startswith("SEARCH")
    return not (walk and sqlite) or text.count("TEMP B-TREE FOR ORDER BY") == 1


def test_a_search_counts_the_suffixes_in_one_range(session):
    """Rare or common: a range of the suffixes' primary key, SPARSE rows at most."""
    text = plan(session, suffix_count_query(1, "hansen"))
    if session.get_bind().dialect.name == "sqlite":
        assert (
            "SEARCH patient_name_suffixes USING PRIMARY KEY (clinic_id=? AND suffix>? AND suffix<?)"
            in text
        ), text
    else:
        assert "Index Only Scan using pk_patient_name_suffixes" in text, text
        assert re.search(
            r"Index Cond: .*clinic_id = 1.*suffix >= 'hansen'.*suffix < 'hanseo'", text
        ), text


@pytest.mark.parametrize("walk", [False, True], ids=["rare text", "common text"])
def test_a_search_reads_the_name_index_not_the_patients(session, walk):
    """A rare text: a range of the suffixes, the patients found by key; a common one: the
    clinic's first patients by name, walked in ix_patients_clinic_name's order (no sort of
    the clinic's patients). Never a scan of the patients (issue 10)."""
    text = plan(session, search_by_name(session, 1, "hansen", walk))
    assert reads_patients_by_key(text, walk), text
    if not walk:  # the sort keys from the range alone: no patient read per match
        assert "SEARCH patient_name_suffixes USING INDEX" not in text, text
        assert re.search(
            r"SEARCH patient_name_suffixes USING PRIMARY KEY|Index Only Scan using pk_patient_name_suffixes",
            text,
        ), text


def test_the_check_sees_a_search_walking_the_patients(session):
    """The test above fails on the search before issue 10 (LIKE '%text%' over the clinic's
    patients), even now that an index holds the name key, and on the final query walking the
    clinic's patients in name order to test each against the ids found."""
    before = (
        sa.select(Patient.id, Patient.name)
        .where(Patient.clinic_id.in_([1]), Patient.name_key.contains("hansen", autoescape=True))
        .order_by(Patient.name, Patient.local_number)
        .limit(50)
    )
    assert not reads_patients_by_key(plan(session, before), walk=False)
    assert not reads_patients_by_key(plan(session, before), walk=True)
    walking = (
        sa.select(Patient.id)
        .where(Patient.clinic_id == 1, Patient.id.in_(suffix_query(1, "hansen", 50)))
        .order_by(Patient.name, Patient.local_number)
        .limit(50)
    )
    assert not reads_patients_by_key(plan(session, walking), walk=True)
