"""Every list query reads its own index on both databases: a later change cannot fall back
to a scan of the controls without this failing (design.md's traps)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from surveillance.config import Config
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
from surveillance.services.worklist import CATEGORIES, list_count_query, list_page_query

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
    text = plan(session, query)
    index = INDEXES[category].replace("ix_controls_", "") + "_by_" + key
    assert reads_index(text, f"ix_controls_{index}"), text
    assert "TEMP B-TREE" not in text and "Sort" not in text, text
