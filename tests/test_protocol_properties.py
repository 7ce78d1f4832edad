"""Properties of month arithmetic (R5), of plans and of re-planning (R6), with hypothesis."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from surveillance.protocol import (
    History,
    PrimaryControl,
    Settings,
    StoredExam,
    Treatment,
    add_months,
    is_working_day,
    load_protocol,
    make_plan,
    reconcile,
)
from surveillance.protocol.replan import AUTOMATIC_CANCEL_REASONS, plan_key
from surveillance.protocol.vocabulary import PRIMARY_EXAMS, TREATMENT_KINDS

PROTOCOLS = [load_protocol("no-hdir-2025"), load_protocol("no-hdir-2019")]
ANCHORING = sorted(PROTOCOLS[0].anchoring_kinds)
OPEN, RECORDED = {"open", "booked"}, {"done", "missed"}
DONE = {"done"}
FAST = settings(max_examples=200, deadline=None)

dates = st.dates(date(1900, 1, 1), date(2200, 12, 31))
month_counts = st.integers(-240, 240)


# --- R5: add_months against a reference written another way ---------------------------------


def reference_add_months(start: date, months: int) -> date:
    """Walk month by month over first days, then step back from the wanted day until it exists."""
    first = start.replace(day=1)
    for _ in range(abs(months)):
        if months > 0:
            first = (first + timedelta(days=32)).replace(day=1)
        else:
            first = (first - timedelta(days=1)).replace(day=1)
    for wanted in range(start.day, 0, -1):
        try:
            return first.replace(day=wanted)
        except ValueError:
            continue
    raise AssertionError("every month has a first day")


@FAST
@given(dates, month_counts)
def test_add_months_matches_the_reference(start, months):
    assert add_months(start, months) == reference_add_months(start, months)


@FAST
@given(dates, month_counts)
def test_add_months_moves_the_month_and_never_grows_the_day(start, months):
    result = add_months(start, months)
    assert (result.year * 12 + result.month) - (start.year * 12 + start.month) == months
    assert result.day <= start.day
    if start.day <= 28:
        assert result.day == start.day
    else:  # the day is kept if the month has it, else it is the month's last day
        assert result.day == start.day or (result + timedelta(days=1)).day == 1


@FAST
@given(dates, month_counts, month_counts)
def test_add_months_is_monotonic(start, a, b):
    low, high = sorted((a, b))
    assert add_months(start, low) <= add_months(start, high)
    if low < high:
        assert add_months(start, low) < add_months(start, high)


@FAST
@given(dates, st.integers(0, 240))
def test_add_months_there_and_back_for_days_every_month_has(start, months):
    start = start.replace(day=min(start.day, 28))
    assert add_months(add_months(start, months), -months) == start


# --- Plans: every due date from the anchor (R5), working days (R11), order ------------------

plan_dates = st.dates(date(2000, 1, 1), date(2060, 12, 31))


@FAST
@given(st.sampled_from(PROTOCOLS), st.sampled_from(ANCHORING), plan_dates)
def test_each_due_date_is_the_anchor_plus_its_month(protocol, kind, anchor_date):
    plan = make_plan(protocol, History((Treatment(anchor_date, kind, 1),)))
    assert plan.exams
    for exam in plan.exams:
        assert exam.due == add_months(anchor_date, exam.month)
    assert [(e.due, e.code) for e in plan.exams] == sorted((e.due, e.code) for e in plan.exams)


@FAST
@given(
    st.sampled_from(ANCHORING),
    plan_dates,
    st.frozensets(st.dates(date(2000, 1, 1), date(2066, 12, 31)), max_size=40),
)
def test_due_working_day_is_the_first_open_day_on_or_after_the_due_date(kind, anchor_date, closed):
    plan = make_plan(
        PROTOCOLS[0], History((Treatment(anchor_date, kind, 1),)), Settings(closed_days=closed)
    )
    for exam in plan.exams:
        assert is_working_day(exam.due_working_day, closed)
        between = exam.due
        while between < exam.due_working_day:
            assert not is_working_day(between, closed)
            between += timedelta(days=1)


# --- R6: re-planning with reconcile -----------------------------------------------------------

# Dates in a few years, so that anchors, transplants and primary controls meet.
near = st.dates(date(2024, 1, 1), date(2027, 12, 31))
# Anchoring kinds more often than the others (about 70 %), so most histories have a plan.
kinds = st.sampled_from(ANCHORING) | st.sampled_from(sorted(TREATMENT_KINDS))


@st.composite
def histories(draw, previous: History | None = None) -> History:
    """The next history: treatments and primary controls kept from `previous` or drawn anew."""
    # Refs 1-4 come back from step to step: a new date or kind under an old ref is a correction.
    treatments = (
        previous.treatments
        if previous and draw(st.booleans())
        else tuple(
            Treatment(draw(near), draw(kinds), ref)
            for ref in draw(st.lists(st.integers(1, 4), unique=True, min_size=1, max_size=4))
        )
    )
    controls = (
        previous.primary_controls
        if previous and draw(st.booleans())
        else tuple(
            PrimaryControl(
                control_date(draw, treatments),
                draw(st.frozensets(st.sampled_from(sorted(PRIMARY_EXAMS)), min_size=1)),
                ref,
            )
            for ref in draw(st.lists(st.integers(101, 106), unique=True, max_size=4))
        )
    )
    return History(treatments, controls, draw(st.sampled_from([True, True, True, False])))


def control_date(draw, treatments: tuple[Treatment, ...]) -> date:
    """Often near a due date of some treatment, so that coordination (R8) comes and goes."""
    if treatments and draw(st.integers(0, 3)):
        base = draw(st.sampled_from(treatments)).date
        month = draw(st.sampled_from([3, 4, 6, 8, 12]))
        return add_months(base, month) + timedelta(days=draw(st.integers(-35, 35)))
    return draw(near)


def apply(exams: list[StoredExam], changes, plan, candidate: bool) -> list[StoredExam]:
    """What services/plans.py writes for `changes`, on StoredExam values."""
    by_ref = {e.ref: e for e in exams}
    reason = "superseded" if candidate else "not_candidate"
    for exam in changes.cancel:
        by_ref[exam.ref] = replace(exam, state="cancelled", cancel_reason=reason)
    for exam, planned in changes.update:
        if exam.state == "cancelled":  # the plan came back: reopen
            exam = replace(exam, state="open", cancel_reason=None)
        exam = replace(exam, due=planned.due, due_working_day=planned.due_working_day)
        if exam.state == "open":
            partner = planned.coordinated_with
            exam = replace(exam, coordinated_ref=partner.ref if partner else None)
        by_ref[exam.ref] = exam
    next_ref = max(by_ref, default=0) + 1
    for ref, planned in enumerate(changes.create, next_ref):
        partner = planned.coordinated_with
        by_ref[ref] = StoredExam(
            ref,
            planned.source.ref,
            planned.code,
            planned.month,
            planned.due,
            planned.due_working_day,
            "open",
            partner.ref if partner else None,
        )
    return list(by_ref.values())


def nurse_acts(draw, exams: list[StoredExam]) -> list[StoredExam]:
    """Between two re-plannings, a nurse books, records or cancels some open exams."""
    acts = st.sampled_from(["none"] * 5 + ["booked", "done", "missed", "cancel"])
    result = []
    for exam in exams:
        act = draw(acts) if exam.state in OPEN else "none"
        if act == "cancel":
            exam = replace(exam, state="cancelled", cancel_reason="patient_declined")
        elif act != "none":
            exam = replace(exam, state=act)
        result.append(exam)
    return result


def open_keys_expected(before: list[StoredExam], plan) -> set:
    """R6: open exams are the plan's, less those already done, missed or cancelled by hand."""
    planned = {plan_key(e) for e in plan.exams if not e.extra}
    kept_closed = {
        e.key
        for e in before
        if e.state in RECORDED
        or (e.state == "cancelled" and e.cancel_reason not in AUTOMATIC_CANCEL_REASONS)
    }
    return planned - kept_closed


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(PROTOCOLS), st.integers(1, 4), st.data())
def test_replanning_properties(protocol, steps, data):
    exams: list[StoredExam] = []
    history = None
    for _ in range(steps):
        history = data.draw(histories(history))
        exams = nurse_acts(data.draw, exams)
        recorded = {e.ref: e for e in exams if e.state in DONE}
        plan = make_plan(protocol, history)

        changes = reconcile(exams, plan)
        after = apply(exams, changes, plan, history.candidate)

        # Done exams are never changed or dropped (R6); missed ones only cancelled.
        assert not recorded.keys() & {e.ref for e in changes.cancel}
        assert not recorded.keys() & {e.ref for e, _ in changes.update}
        assert {e.ref: e for e in after if e.ref in recorded} == recorded
        after_by_ref = {e.ref: e for e in after}
        for exam in exams:
            if exam.state == "missed":
                assert after_by_ref[exam.ref] in (
                    exam,
                    replace(
                        exam, state="cancelled", cancel_reason=after_by_ref[exam.ref].cancel_reason
                    ),
                )
        # One stored exam per (anchor, code, month), as the database's unique key demands.
        assert len({e.key for e in after}) == len(after)
        # The open exams after applying are exactly the new plan's, with its dates.
        assert {e.key for e in after if e.state in OPEN} == open_keys_expected(exams, plan)
        wanted = {plan_key(e): e for e in plan.exams if not e.extra}
        for exam in after:
            if exam.state in OPEN:
                planned = wanted[exam.key]
                assert (exam.due, exam.due_working_day) == (planned.due, planned.due_working_day)
            if exam.state == "open":
                partner = wanted[exam.key].coordinated_with
                assert exam.coordinated_ref == (partner.ref if partner else None)
        # Re-planning the same history again changes nothing.
        assert not reconcile(after, plan)
        exams = after


@FAST
@given(st.sampled_from(ANCHORING), near, near)
def test_a_later_anchor_cancels_every_open_exam_of_the_old_plan(first_kind, first, second):
    old_plan = make_plan(PROTOCOLS[0], History((Treatment(first, first_kind, 1),)))
    old = [
        StoredExam(ref, 1, e.code, e.month, e.due, e.due_working_day, "open")
        for ref, e in enumerate(old_plan.exams, 1)
    ]
    later = max(first, second) + timedelta(days=1)
    new_plan = make_plan(
        PROTOCOLS[0], History((Treatment(first, first_kind, 1), Treatment(later, "resection", 2)))
    )
    changes = reconcile(old, new_plan)
    # R4 v2: the old anchor's own liver CTs due after the new anchor stay (an ablation's).
    kept = {plan_key(e) for e in new_plan.exams if e.source.ref == 1}
    assert {e.ref for e in changes.cancel} == {e.ref for e in old if e.key not in kept}
    assert [(e.code, e.month) for e in changes.create] == [
        (e.code, e.month) for e in new_plan.exams if e.source.ref == 2
    ]
    assert changes.update == ()
