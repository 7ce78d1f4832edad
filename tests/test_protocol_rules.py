"""The rules R1-R11 and the worked examples of protocol.md, as tables (pure: no database)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from surveillance.protocol import (
    History,
    PrimaryControl,
    ProtocolError,
    Settings,
    StoredExam,
    Treatment,
    add_months,
    available_protocols,
    find_anchor,
    load_protocol,
    make_plan,
    needs_mdt_review,
    reconcile,
    timing_state,
    working_day_on_or_after,
)
from surveillance.protocol.loader import parse_protocol

day = date.fromisoformat
DEFAULT = load_protocol("no-hdir-2025")
OLD = load_protocol("no-hdir-2019")
BASE_MONTHS = [6, 12, 18, 24, 30, 36, 48, 60]


def history(*treatments, controls=(), candidate=True) -> History:
    """A history of ("YYYY-MM-DD", kind) treatments (refs 1, 2, ... in order of entry)."""
    return History(
        treatments=tuple(
            Treatment(day(d), kind, ref) for ref, (d, kind) in enumerate(treatments, 1)
        ),
        primary_controls=tuple(
            PrimaryControl(day(d), frozenset(codes), ref)
            for ref, (d, codes) in enumerate(controls, 101)
        ),
        candidate=candidate,
    )


def plan_of(*treatments, controls=(), candidate=True, protocol=DEFAULT, settings=Settings()):
    """The plan of a history given as in `history`."""
    return make_plan(
        protocol, history(*treatments, controls=controls, candidate=candidate), settings
    )


def rows(plan) -> list[tuple[str, int, str]]:
    """A plan as (code, month, due) rows, the way a nurse reads it."""
    return [(e.code, e.month, e.due.isoformat()) for e in plan.exams]


def months_of(plan, code: str) -> list[int]:
    """The months at which `code` is planned."""
    return [e.month for e in plan.exams if e.code == code]


def stored(plan, states: dict[int, str] | None = None, first_ref: int = 1) -> list[StoredExam]:
    """The plan as the database would hold it; `states` gives a state per month (default open)."""
    states = states or {}
    return [
        StoredExam(
            ref,
            plan.anchor.ref,
            e.code,
            e.month,
            e.due,
            e.due_working_day,
            states.get(e.month, "open"),
            e.coordinated_with.ref if e.coordinated_with else None,
        )
        for ref, e in enumerate(plan.exams, first_ref)
    ]


# --- The worked examples -------------------------------------------------------------------


def test_example_1_resection():
    plan = plan_of(("2025-01-15", "resection"))
    dues = [
        "2025-07-15",
        "2026-01-15",
        "2026-07-15",
        "2027-01-15",
        "2027-07-15",
        "2028-01-15",
        "2029-01-15",
        "2030-01-15",
    ]
    assert rows(plan) == [
        (code, m, d) for m, d in zip(BASE_MONTHS, dues) for code in ("cea", "ct_tap")
    ]
    assert len(plan.exams) == 16


def test_example_2_ablation():
    plan = plan_of(("2025-03-31", "ablation"))
    assert [(e.code, e.due.isoformat()) for e in plan.exams if e.code == "ct_liver"] == [
        ("ct_liver", "2025-06-30"),
        ("ct_liver", "2025-12-31"),
    ]
    assert [e.due.isoformat() for e in plan.exams if e.code == "ct_tap"] == [
        "2025-09-30",
        "2026-03-31",
        "2026-09-30",
        "2027-03-31",
        "2027-09-30",
        "2028-03-31",
        "2029-03-31",
        "2030-03-31",
    ]
    assert months_of(plan, "cea") == months_of(plan, "ct_tap") == BASE_MONTHS
    assert len(plan.exams) == 18


def test_example_3_new_resection_supersedes_the_open_exams():
    first = plan_of(("2025-01-15", "resection"))
    before = stored(first, {6: "done", 12: "done"})
    second = plan_of(("2025-01-15", "resection"), ("2026-03-10", "resection"))

    changes = reconcile(before, second)

    done = [e for e in before if e.state == "done"]
    assert [e.due.isoformat() for e in done] == ["2025-07-15"] * 2 + ["2026-01-15"] * 2
    assert not {e.ref for e in done} & {e.ref for e in changes.cancel}
    assert not {e.ref for e in done} & {e.ref for e, _ in changes.update}
    assert sorted(e.ref for e in changes.cancel) == [e.ref for e in before if e.state == "open"]
    assert min(e.due for e in changes.cancel) == day("2026-07-15")
    assert len(changes.cancel) == 12
    assert [(e.code, e.month, e.due.isoformat()) for e in changes.create[:2]] == [
        ("cea", 6, "2026-09-10"),
        ("ct_tap", 6, "2026-09-10"),
    ]
    assert len(changes.create) == 16
    assert changes.update == ()


def test_example_4_maundy_thursday():
    plan = plan_of(("2025-10-02", "resection"))
    first = plan.exams[0]
    assert (first.month, first.due, first.due_working_day) == (
        6,
        day("2026-04-02"),
        day("2026-04-07"),
    )


# --- R1 Eligibility ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("treatments", "candidate", "anchor"),
    [
        # A candidate with a resection has a plan.
        ([("2025-01-15", "resection")], True, "2025-01-15"),
        # Not a candidate: no plan at all, whatever the history.
        ([("2025-01-15", "resection")], False, None),
        # A transplant after the anchor ends this surveillance.
        ([("2025-01-15", "resection"), ("2025-06-01", "transplant")], True, None),
        # A transplant on the anchor's own day ends it too ("on or after").
        ([("2025-01-15", "resection"), ("2025-01-15", "transplant")], True, None),
        # Order of entry does not matter for the transplant either.
        ([("2025-06-01", "transplant"), ("2025-01-15", "resection")], True, None),
        # Only a transplant on or after the anchor ends it: an older one does not.
        ([("2024-03-01", "transplant"), ("2025-01-15", "resection")], True, "2025-01-15"),
    ],
)
def test_r1_eligibility(treatments, candidate, anchor):
    plan = plan_of(*treatments, candidate=candidate)
    if anchor is None:
        assert (plan.anchor, plan.exams) == (None, ())
    else:
        assert plan.anchor.date == day(anchor)
        assert len(plan.exams) == 16


# --- R2 Anchor -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("treatments", "anchor"),
    [
        # The only anchoring treatment is the anchor.
        ([("2025-01-15", "resection")], ("2025-01-15", "resection")),
        # The latest date wins...
        ([("2024-02-01", "resection"), ("2025-01-15", "resection")], ("2025-01-15", "resection")),
        # ...whatever the order of entry.
        ([("2025-01-15", "resection"), ("2024-02-01", "resection")], ("2025-01-15", "resection")),
        # A later ablation is the anchor over an older resection.
        ([("2025-01-15", "resection"), ("2025-04-01", "ablation")], ("2025-04-01", "ablation")),
        # A later resection is the anchor over an older ablation.
        ([("2025-04-01", "ablation"), ("2025-09-01", "resection")], ("2025-09-01", "resection")),
        # Same day: the one with ablation wins (resection entered first)...
        ([("2025-01-15", "resection"), ("2025-01-15", "ablation")], ("2025-01-15", "ablation")),
        # ...and entered second.
        ([("2025-01-15", "ablation"), ("2025-01-15", "resection")], ("2025-01-15", "ablation")),
        # Same day, resection + ablation in one session beats a plain resection.
        (
            [("2025-01-15", "resection"), ("2025-01-15", "resection_with_ablation")],
            ("2025-01-15", "resection_with_ablation"),
        ),
        # Later non-anchoring treatments (PVE, biopsy, SBRT) do not move the anchor.
        (
            [
                ("2025-01-15", "resection"),
                ("2025-03-01", "pve"),
                ("2025-04-01", "biopsy"),
                ("2025-05-01", "sbrt"),
            ],
            ("2025-01-15", "resection"),
        ),
        # Non-anchoring treatments alone give no anchor.
        ([("2025-03-01", "pve"), ("2025-04-01", "sbrt"), ("2025-05-01", "biopsy")], None),
        # No treatment at all: no anchor.
        ([], None),
    ],
)
def test_r2_anchor(treatments, anchor):
    def described(treatment):
        return treatment and (treatment.date.isoformat(), treatment.kind)

    assert described(find_anchor(DEFAULT, history(*treatments).treatments)) == anchor
    assert described(plan_of(*treatments).anchor) == anchor


def test_r2_same_day_ablation_wins_so_the_liver_cts_are_planned():
    plan = plan_of(("2025-01-15", "resection"), ("2025-01-15", "ablation"))
    assert months_of(plan, "ct_liver") == [3, 9]


def test_r2_anchor_keeps_the_callers_reference():
    plan = plan_of(("2025-01-15", "resection"), ("2024-01-15", "resection"))
    assert plan.anchor.ref == 1


# --- R3 Base programme and R4 Ablation ----------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "ct_liver"),
    [
        # A resection gets the base programme only.
        ("resection", []),
        # An ablation adds a liver CT at 3 and 9 months.
        ("ablation", [3, 9]),
        # Resection with ablation in one session adds them too.
        ("resection_with_ablation", [3, 9]),
    ],
)
def test_r3_r4_programme_by_anchor_kind(kind, ct_liver):
    plan = plan_of(("2025-01-15", kind))
    assert months_of(plan, "ct_tap") == months_of(plan, "cea") == BASE_MONTHS
    assert months_of(plan, "ct_liver") == ct_liver
    assert len(plan.exams) == 16 + len(ct_liver)


def test_r3_ct_and_cea_of_a_control_are_due_the_same_day():
    plan = plan_of(("2025-01-15", "resection"))
    ct = {e.month: e.due for e in plan.exams if e.code == "ct_tap"}
    cea = {e.month: e.due for e in plan.exams if e.code == "cea"}
    assert ct == cea


def test_r4_v2_an_older_ablations_liver_ct_after_the_new_anchor_stays():
    plan = plan_of(("2025-01-15", "ablation"), ("2025-06-01", "resection"))
    assert plan.anchor.kind == "resection"
    # Month 3 (2025-04-15) is before the resection: superseded; month 9 belongs to the ablation.
    liver = [(e.month, e.due, e.source.ref) for e in plan.exams if e.code == "ct_liver"]
    assert liver == [(9, day("2025-10-15"), 1)]


def test_plan_is_sorted_by_due_then_code():
    plan = plan_of(("2025-03-31", "resection_with_ablation"))
    assert [(e.due, e.code) for e in plan.exams] == sorted((e.due, e.code) for e in plan.exams)
    assert [e.code for e in plan.exams[:3]] == ["ct_liver", "cea", "ct_tap"]


# --- R5 Month arithmetic -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        # 31 Jan + 1 month: the last day of February (common year).
        ("2025-01-31", 1, "2025-02-28"),
        # 31 Jan + 1 month in a leap year: 29 Feb.
        ("2024-01-31", 1, "2024-02-29"),
        # 31 Aug + 6 months: 28 Feb.
        ("2025-08-31", 6, "2026-02-28"),
        # 31 Aug + 6 months into a leap year: 29 Feb.
        ("2023-08-31", 6, "2024-02-29"),
        # 29 Feb 2024 + 12 months: 28 Feb 2025.
        ("2024-02-29", 12, "2025-02-28"),
        # 29 Feb 2024 + 48 months: 29 Feb 2028 (a leap year again).
        ("2024-02-29", 48, "2028-02-29"),
        # 31 Mar + 3 months: 30 June.
        ("2025-03-31", 3, "2025-06-30"),
        # A day that exists is kept.
        ("2025-01-15", 6, "2025-07-15"),
        # Crossing the year end.
        ("2025-12-15", 1, "2026-01-15"),
        # 30 Nov + 3 months: the end of February, not 2 March.
        ("2025-11-30", 3, "2026-02-28"),
        # Zero months is the day itself.
        ("2025-05-31", 0, "2025-05-31"),
    ],
)
def test_r5_add_months(start, months, expected):
    assert add_months(day(start), months) == day(expected)


@pytest.mark.parametrize(
    ("anchor", "month", "due"),
    [
        # From 31 Aug: month 6 is clipped to 28 Feb...
        ("2025-08-31", 6, "2026-02-28"),
        # ...but month 12 is 31 Aug again, not 28 Aug: dated from the anchor, not month 6.
        ("2025-08-31", 12, "2026-08-31"),
        # From 31 Mar: month 3 is 30 June, month 6 is back to the 30th (Sept has 30 days)...
        ("2025-03-31", 6, "2025-09-30"),
        # ...and month 9 is 31 Dec, not 30 Dec.
        ("2025-03-31", 9, "2025-12-31"),
        # From 29 Feb 2024: month 48 is 29 Feb 2028, not 28 Feb.
        ("2024-02-29", 48, "2028-02-29"),
    ],
)
def test_r5_each_due_date_from_the_anchor(anchor, month, due):
    plan = plan_of((anchor, "ablation"))
    assert {e.due for e in plan.exams if e.month == month} == {day(due)}


# --- R6 Re-anchoring -----------------------------------------------------------------------


def test_r6_older_treatment_changes_no_exam():
    before = stored(plan_of(("2025-01-15", "resection")), {6: "done"})
    after = plan_of(("2025-01-15", "resection"), ("2024-05-01", "resection"))
    assert not reconcile(before, after)


def test_r6_older_ablation_only_adds_its_liver_ct_due_after_the_anchor():
    before = stored(plan_of(("2025-01-15", "resection")), {6: "done"})
    after = plan_of(("2025-01-15", "resection"), ("2024-05-01", "ablation"))
    changes = reconcile(before, after)
    assert (changes.cancel, changes.update) == ((), ())
    assert [(e.code, e.month, e.due, e.source.ref) for e in changes.create] == [
        ("ct_liver", 9, day("2025-02-01"), 2)
    ]


def test_r6_non_anchoring_treatment_changes_no_exam():
    before = stored(plan_of(("2025-01-15", "resection")))
    after = plan_of(("2025-01-15", "resection"), ("2025-03-01", "pve"))
    assert not reconcile(before, after)


def test_r6_booked_exam_of_the_old_plan_is_cancelled_with_its_state_for_the_flag():
    before = stored(plan_of(("2025-01-15", "resection")), {6: "done", 12: "booked"})
    changes = reconcile(before, plan_of(("2025-01-15", "resection"), ("2025-12-01", "resection")))
    assert sorted((e.month, e.state) for e in changes.cancel if e.month <= 18) == [
        (12, "booked"),
        (12, "booked"),
        (18, "open"),
        (18, "open"),
    ]


def test_r6_nurse_cancelled_exams_are_not_touched_and_missed_ones_kept_while_planned():
    first = plan_of(("2025-01-15", "resection"))
    before = stored(first, {6: "missed"})
    before[2:4] = [
        replace(e, state="cancelled", cancel_reason="patient_declined") for e in before[2:4]
    ]
    corrected = plan_of(("2025-01-16", "resection"))  # the same anchor, its date corrected
    changes = reconcile(before, corrected)
    untouched = {e.ref for e in before[:4]}
    assert not untouched & {e.ref for e in changes.cancel}
    assert not untouched & {e.ref for e, _ in changes.update}


def test_r6_a_missed_exam_of_a_superseded_plan_is_cancelled():
    # R6: "every exam of it that is not done is cancelled": missed is not done.
    before = stored(plan_of(("2025-01-15", "resection")), {6: "missed", 12: "done"})
    changes = reconcile(before, plan_of(("2025-01-15", "resection"), ("2026-03-10", "resection")))
    cancelled = {(e.month, e.state) for e in changes.cancel}
    assert (6, "missed") in cancelled and (12, "done") not in cancelled


def test_r6_correcting_the_anchor_date_moves_open_exams_not_done_ones():
    before = stored(plan_of(("2025-01-15", "resection")), {6: "done"})
    corrected = plan_of(("2025-01-20", "resection"))  # same row (ref 1), new date
    changes = reconcile(before, corrected)
    assert changes.create == changes.cancel == ()
    assert {(e.month, p.due.isoformat()) for e, p in changes.update if e.month == 12} == {
        (12, "2026-01-20"),
    }
    assert sorted(e.month for e, _ in changes.update) == sorted(BASE_MONTHS[1:] * 2)


def test_r6_deleting_the_new_anchor_reopens_the_superseded_exams():
    first = plan_of(("2025-01-15", "resection"))
    old = [
        e if e.state == "done" else replace(e, state="cancelled", cancel_reason="superseded")
        for e in stored(first, {6: "done"})
    ]
    old[-1] = replace(old[-1], cancel_reason="patient_declined")  # a nurse's own cancellation
    changes = reconcile(old, first)  # the second resection was deleted: back to the first
    reopened = {e.ref for e, _ in changes.update}
    assert reopened == {e.ref for e in old if e.cancel_reason == "superseded"}
    assert changes.create == changes.cancel == ()


# --- R7 Completion -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "protocol",
    [
        # The 2025 programme ends with the 60-month control...
        DEFAULT,
        # ...and so does the 2019 one.
        OLD,
    ],
)
def test_r7_the_60_month_control_is_the_last(protocol):
    plan = plan_of(("2025-01-15", "ablation"), protocol=protocol)
    last = [e for e in plan.exams if e.due == plan.exams[-1].due]
    imaging = "ct_tap" if protocol is DEFAULT else "ct_liver_lungs"
    assert [(e.code, e.month) for e in last] == [("cea", 60), (imaging, 60)]
    assert max(e.month for e in plan.exams) == 60


# --- R8 Coordination with the primary-tumour follow-up -----------------------------------

# The anchor 2025-01-15 puts the 6-month control on 2025-07-15 (a Tuesday).
R8_DUE = day("2025-07-15")


@pytest.mark.parametrize(
    ("controls", "settings", "expected"),
    [
        # A control with both codes on the due date fulfils both exams.
        (
            [("2025-07-15", ["ct_tap", "cea"])],
            Settings(),
            {"ct_tap": "2025-07-15", "cea": "2025-07-15"},
        ),
        # Exactly 30 days before is inside the window (inclusive edge).
        (
            [("2025-06-15", ["ct_tap", "cea"])],
            Settings(),
            {"ct_tap": "2025-06-15", "cea": "2025-06-15"},
        ),
        # Exactly 30 days after is inside the window (inclusive edge).
        (
            [("2025-08-14", ["ct_tap", "cea"])],
            Settings(),
            {"ct_tap": "2025-08-14", "cea": "2025-08-14"},
        ),
        # 31 days before is outside.
        ([("2025-06-14", ["ct_tap", "cea"])], Settings(), {"ct_tap": None, "cea": None}),
        # 31 days after is outside.
        ([("2025-08-15", ["ct_tap", "cea"])], Settings(), {"ct_tap": None, "cea": None}),
        # Only the same code counts: a CT-only control leaves the CEA on its own.
        ([("2025-07-10", ["ct_tap"])], Settings(), {"ct_tap": "2025-07-10", "cea": None}),
        # Colonoscopy and MRI of the pelvis match nothing, even on the due date.
        (
            [("2025-07-15", ["colonoscopy", "mri_pelvis"])],
            Settings(),
            {"ct_tap": None, "cea": None},
        ),
        # A mixed control: its CEA coordinates, its colonoscopy is ignored.
        (
            [("2025-07-01", ["colonoscopy", "cea"])],
            Settings(),
            {"ct_tap": None, "cea": "2025-07-01"},
        ),
        # Two candidates: the nearest wins (5 days after beats 10 days before).
        (
            [("2025-07-05", ["ct_tap", "cea"]), ("2025-07-20", ["ct_tap", "cea"])],
            Settings(),
            {"ct_tap": "2025-07-20", "cea": "2025-07-20"},
        ),
        # Same distance before and after: the earlier one wins.
        (
            [("2025-07-25", ["ct_tap", "cea"]), ("2025-07-05", ["ct_tap", "cea"])],
            Settings(),
            {"ct_tap": "2025-07-05", "cea": "2025-07-05"},
        ),
        # Each code finds its own nearest control.
        (
            [("2025-07-12", ["cea"]), ("2025-07-16", ["ct_tap"]), ("2025-07-14", ["colonoscopy"])],
            Settings(),
            {"ct_tap": "2025-07-16", "cea": "2025-07-12"},
        ),
        # The window is a setting: 20 days before is outside a 10-day window...
        (
            [("2025-06-25", ["ct_tap", "cea"])],
            Settings(coordination_window_days=10),
            {"ct_tap": None, "cea": None},
        ),
        # ...and exactly 10 days before is inside it.
        (
            [("2025-07-05", ["ct_tap", "cea"])],
            Settings(coordination_window_days=10),
            {"ct_tap": "2025-07-05", "cea": "2025-07-05"},
        ),
    ],
)
def test_r8_coordination(controls, settings, expected):
    plan = plan_of(("2025-01-15", "resection"), controls=controls, settings=settings)
    month_6 = [e for e in plan.exams if e.month == 6]
    assert {
        e.code: e.coordinated_with and e.coordinated_with.date.isoformat() for e in month_6
    } == expected
    # The due date stays as computed, coordinated or not.
    assert {(e.due, e.due_working_day) for e in month_6} == {(R8_DUE, R8_DUE)}
    # No other control of the plan lies within the window of these primary controls.
    assert all(e.coordinated_with is None for e in plan.exams if e.month != 6)


def test_r8_coordinated_exam_records_the_primary_control_itself():
    plan = plan_of(
        ("2025-01-15", "resection"),
        controls=[("2025-07-01", ["ct_tap", "cea"]), ("2026-01-20", ["cea"])],
    )
    partners = {(e.code, e.month): e.coordinated_with for e in plan.exams if e.coordinated_with}
    assert {k: (c.date.isoformat(), c.ref) for k, c in partners.items()} == {
        ("cea", 6): ("2025-07-01", 101),
        ("ct_tap", 6): ("2025-07-01", 101),
        ("cea", 12): ("2026-01-20", 102),
    }


def test_r8_a_new_primary_control_spares_open_exams_and_keeps_bookings():
    before = stored(plan_of(("2025-01-15", "resection")), {6: "booked"})
    after = plan_of(
        ("2025-01-15", "resection"),
        controls=[("2025-07-10", ["ct_tap", "cea"]), ("2026-01-10", ["cea"])],
    )
    changes = reconcile(before, after)
    # Month 6 is booked and keeps its booking; the open month-12 CEA is now coordinated.
    assert [(e.code, e.month, p.coordinated_with.ref, p.due) for e, p in changes.update] == [
        ("cea", 12, 102, day("2026-01-15")),
    ]
    assert changes.create == changes.cancel == ()


def test_r8_liver_ct_coordinates_with_a_primary_liver_ct():
    plan = plan_of(("2025-03-31", "ablation"), controls=[("2025-07-10", ["ct_liver", "ct_tap"])])
    assert {(e.code, e.month) for e in plan.exams if e.coordinated_with} == {("ct_liver", 3)}


# --- R9 Results ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "result", "value", "settings", "review"),
    [
        # A CEA above the limit needs the MDT.
        ("cea", None, 5.1, Settings(), True),
        # Exactly at the limit is not above it.
        ("cea", None, 5.0, Settings(), False),
        # Below the limit: no review.
        ("cea", None, 2.3, Settings(), False),
        # A CEA without a value yet: no review.
        ("cea", None, None, Settings(), False),
        # The limit is a setting: 6.0 is fine under a 7.0 limit...
        ("cea", None, 6.0, Settings(cea_upper_limit=7.0), False),
        # ...and 7.01 is not.
        ("cea", None, 7.01, Settings(cea_upper_limit=7.0), True),
        # A suspicious CT of chest/abdomen/pelvis needs the MDT.
        ("ct_tap", "suspicious", None, Settings(), True),
        # A normal one does not.
        ("ct_tap", "normal", None, Settings(), False),
        # A suspicious liver CT needs the MDT.
        ("ct_liver", "suspicious", None, Settings(), True),
        # A normal liver CT does not.
        ("ct_liver", "normal", None, Settings(), False),
    ],
)
def test_r9_needs_mdt_review(code, result, value, settings, review):
    assert needs_mdt_review(code, result, value, settings) is review


# --- R10 Timing states ---------------------------------------------------------------------

R10_DUE = day("2026-06-15")


@pytest.mark.parametrize(
    ("offset", "booked", "settings", "state"),
    [
        # Before D - 42 days: upcoming.
        (-43, False, Settings(), "upcoming"),
        # From D - 42 days exactly: to book.
        (-42, False, Settings(), "to_book"),
        # On the due date, not booked: still to book.
        (0, False, Settings(), "to_book"),
        # D + 30 days exactly is not yet overdue.
        (30, False, Settings(), "to_book"),
        # D + 31 days: overdue.
        (31, False, Settings(), "overdue"),
        # A booked exam is booked, even long before D - 42.
        (-100, True, Settings(), "booked"),
        # Booked and D + 30: still booked.
        (30, True, Settings(), "booked"),
        # Booked but past D + 30 and not done: overdue.
        (31, True, Settings(), "overdue"),
        # The booking horizon is a setting: D - 15 with 14 days is upcoming...
        (-15, False, Settings(book_ahead_days=14), "upcoming"),
        # ...and D - 14 is to book.
        (-14, False, Settings(book_ahead_days=14), "to_book"),
        # The overdue margin is a setting: with 0 days, D + 1 is overdue.
        (1, False, Settings(overdue_after_days=0), "overdue"),
    ],
)
def test_r10_timing_state(offset, booked, settings, state):
    today = R10_DUE + timedelta(days=offset)
    assert timing_state(R10_DUE, today, booked=booked, settings=settings) == state


# --- R11 Working days ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("due", "settings", "working_day"),
    [
        # A Tuesday with no holiday is its own working day.
        ("2025-07-15", Settings(), "2025-07-15"),
        # Saturday: the next Monday.
        ("2025-07-19", Settings(), "2025-07-21"),
        # Sunday: the next Monday.
        ("2025-07-20", Settings(), "2025-07-21"),
        # Maundy Thursday 2026: Good Friday, the weekend and Easter Monday follow.
        ("2026-04-02", Settings(), "2026-04-07"),
        # Easter Monday 2025.
        ("2025-04-21", Settings(), "2025-04-22"),
        # Ascension Day 2026.
        ("2026-05-14", Settings(), "2026-05-15"),
        # Whit Monday 2025.
        ("2025-06-09", Settings(), "2025-06-10"),
        # 1 May 2026 is a Friday: the next Monday.
        ("2026-05-01", Settings(), "2026-05-04"),
        # 17 May 2027 is a Monday: Constitution Day is a holiday.
        ("2027-05-17", Settings(), "2027-05-18"),
        # Christmas Day 2025 (Thursday), Boxing Day, then the weekend: Monday 29.
        ("2025-12-25", Settings(), "2025-12-29"),
        # New Year's Day 2026.
        ("2026-01-01", Settings(), "2026-01-02"),
        # Christmas Eve is not a public holiday in Norway.
        ("2025-12-24", Settings(), "2025-12-24"),
        # ...but a clinic may close it every year (closed_annual).
        ("2025-12-24", Settings(closed_annual=frozenset({(12, 24)})), "2025-12-29"),
        # An extra closed day of the clinic (closed_days).
        ("2025-07-15", Settings(closed_days=frozenset({day("2025-07-15")})), "2025-07-16"),
        # Closed days in a row are all skipped.
        (
            "2025-07-15",
            Settings(closed_days=frozenset({day("2025-07-15"), day("2025-07-16")})),
            "2025-07-17",
        ),
    ],
)
def test_r11_working_day(due, settings, working_day):
    found = working_day_on_or_after(day(due), settings.closed_days, settings.closed_annual)
    assert found == day(working_day)


def test_r11_plan_carries_the_working_day_and_keeps_the_due_date():
    closed = Settings(closed_days=frozenset({day("2025-07-15")}))
    plan = plan_of(("2025-01-15", "resection"), settings=closed)
    first = plan.exams[0]
    assert (first.due, first.due_working_day) == (day("2025-07-15"), day("2025-07-16"))
    # The 2028-01-15 control falls on a Saturday.
    assert {e.due_working_day for e in plan.exams if e.month == 36} == {day("2028-01-17")}


# --- Protocols are data --------------------------------------------------------------------


def test_shipped_protocols_load_under_their_own_code():
    assert {"no-hdir-2019", "no-hdir-2025"} <= set(available_protocols())
    for code in available_protocols():
        assert load_protocol(code).code == code


@pytest.mark.parametrize(
    ("kind", "rows_expected"),
    [
        # 2019: CT + CEA at 4, 8, 12, then every 6 months to 60, dated from a resection.
        ("resection", [4, 8, 12, 18, 24, 30, 36, 42, 48, 54, 60]),
        # 2019 has no extra liver CT after an ablation: the same 11 controls.
        ("ablation", [4, 8, 12, 18, 24, 30, 36, 42, 48, 54, 60]),
    ],
)
def test_protocol_2019(kind, rows_expected):
    plan = plan_of(("2025-01-31", kind), protocol=OLD)
    assert plan.protocol == "no-hdir-2019"
    assert months_of(plan, "ct_liver_lungs") == months_of(plan, "cea") == rows_expected
    assert months_of(plan, "ct_liver") == months_of(plan, "ct_tap") == []
    assert rows(plan)[:6] == [
        ("cea", 4, "2025-05-31"),
        ("ct_liver_lungs", 4, "2025-05-31"),
        ("cea", 8, "2025-09-30"),
        ("ct_liver_lungs", 8, "2025-09-30"),
        ("cea", 12, "2026-01-31"),
        ("ct_liver_lungs", 12, "2026-01-31"),
    ]


def test_protocol_2019_a_lung_resection_anchors_it():
    plan = plan_of(("2025-01-31", "resection"), ("2025-03-01", "lung_resection"), protocol=OLD)
    assert plan.anchor.kind == "lung_resection"
    assert rows(plan)[:2] == [("cea", 4, "2025-07-01"), ("ct_liver_lungs", 4, "2025-07-01")]


def test_a_protocol_from_data_alone():
    protocol = parse_protocol(
        {
            "code": "test-sbrt",
            "title": "SBRT",
            "anchoring_kinds": ["sbrt"],
            "ending_kinds": ["transplant", "resection"],
            "controls": [{"months": [2, 1], "exams": ["ct_liver"]}],
            "exams": {"ct_liver": {"nb": "CT lever", "en": "liver CT", "result": "reading"}},
        }
    )
    plan = make_plan(protocol, history(("2025-01-31", "sbrt"), ("2024-01-01", "resection")))
    assert (plan.protocol, plan.anchor.kind) == ("test-sbrt", "sbrt")
    assert rows(plan) == [("ct_liver", 1, "2025-02-28"), ("ct_liver", 2, "2025-03-31")]
    ended = make_plan(protocol, history(("2025-01-31", "sbrt"), ("2025-02-01", "resection")))
    assert ended.anchor is None


def valid_protocol(**changes) -> dict:
    """A valid protocol's parsed TOML, with some keys changed (None removes a key)."""
    data = {
        "code": "test",
        "title": "Test",
        "anchoring_kinds": ["resection"],
        "ending_kinds": ["transplant"],
        "controls": [{"months": [6, 12], "exams": ["ct_tap", "cea"]}],
        "exams": {
            "ct_tap": {"nb": "CT", "en": "CT", "result": "reading"},
            "cea": {"nb": "CEA", "en": "CEA", "result": "value", "unit": "µg/L", "upper_limit": 5},
            "ct_liver": {"nb": "CT lever", "en": "liver CT", "result": "reading"},
        },
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_valid_protocol_parses():
    protocol = parse_protocol(valid_protocol())
    assert protocol.schedules == {"resection": ((6, ("cea", "ct_tap")), (12, ("cea", "ct_tap")))}


@pytest.mark.parametrize(
    ("data", "named"),
    [
        # An unknown top-level key is named.
        (valid_protocol(interval="6m"), ["interval"]),
        # An unknown key of a control is named, with the control's index.
        (
            valid_protocol(controls=[{"months": [6], "exams": ["cea"], "colour": "red"}]),
            ["controls[0]", "colour"],
        ),
        # An exam code the protocol does not declare in [exams] (R16).
        (
            valid_protocol(controls=[{"months": [6], "exams": ["mri_liver"]}]),
            ["controls[0].exams", "mri_liver"],
        ),
        # A made-up exam code, in the second control.
        (
            valid_protocol(
                controls=[{"months": [6], "exams": ["cea"]}, {"months": [3], "exams": ["ct_head"]}]
            ),
            ["controls[1].exams", "ct_head"],
        ),
        # Exams missing.
        (valid_protocol(controls=[{"months": [6]}]), ["controls[0].exams"]),
        # Exams as a string rather than a list.
        (valid_protocol(controls=[{"months": [6], "exams": "cea"}]), ["controls[0].exams"]),
        # An unknown treatment kind among the anchoring kinds.
        (valid_protocol(anchoring_kinds=["resection", "surgery"]), ["anchoring_kinds", "surgery"]),
        # An unknown treatment kind among the ending kinds.
        (valid_protocol(ending_kinds=["death"]), ["ending_kinds", "death"]),
        # An unknown treatment kind in only_after.
        (
            valid_protocol(
                controls=[{"months": [3], "exams": ["ct_liver"], "only_after": ["rfa"]}]
            ),
            ["controls[0]", "only_after", "rfa"],
        ),
        # A kind that is not a string at all.
        (valid_protocol(anchoring_kinds=[["resection"]]), ["anchoring_kinds"]),
        # No anchoring kinds.
        (valid_protocol(anchoring_kinds=[]), ["anchoring_kinds"]),
        # Empty months.
        (valid_protocol(controls=[{"months": [], "exams": ["cea"]}]), ["controls[0].months"]),
        # Months missing.
        (valid_protocol(controls=[{"exams": ["cea"]}]), ["controls[0].months"]),
        # Month 0 is the anchor itself, not a control.
        (valid_protocol(controls=[{"months": [0, 6], "exams": ["cea"]}]), ["controls[0].months"]),
        # Beyond 240 months.
        (valid_protocol(controls=[{"months": [241], "exams": ["cea"]}]), ["controls[0].months"]),
        # TOML's true is not month 1.
        (valid_protocol(controls=[{"months": [True], "exams": ["cea"]}]), ["controls[0].months"]),
        # A month as a string.
        (valid_protocol(controls=[{"months": ["6"], "exams": ["cea"]}]), ["controls[0].months"]),
        # No controls at all.
        (valid_protocol(controls=[]), ["controls"]),
        # A control that is not a table.
        (valid_protocol(controls=[6]), ["controls"]),
        # The code is missing.
        (valid_protocol(code=None), ["code"]),
        # The title is empty.
        (valid_protocol(title=""), ["title"]),
        # R16: no [exams] tables at all.
        (valid_protocol(exams=None), ["exams"]),
        # R16: a result kind that is neither reading nor value.
        (
            valid_protocol(exams={"cea": {"nb": "CEA", "en": "CEA", "result": "text"}}),
            ["exams.cea.result", "text"],
        ),
        # R16: an exam without its Norwegian name.
        (valid_protocol(exams={"cea": {"en": "CEA", "result": "value"}}), ["exams.cea", "nb"]),
        # R16: a limit that is not a number.
        (
            valid_protocol(
                exams={"cea": {"nb": "CEA", "en": "CEA", "result": "value", "upper_limit": "5"}}
            ),
            ["exams.cea.upper_limit"],
        ),
        # R16: trend settings with a rise count of zero.
        (
            valid_protocol(
                exams={"cea": {"nb": "CEA", "en": "CEA", "result": "value", "trend": {"rises": 0}}}
            ),
            ["exams.cea.trend.rises"],
        ),
        # R4: the covering exam must be a declared code.
        (
            valid_protocol(controls=[{"months": [3], "exams": ["ct_liver"], "covered_by": "mri"}]),
            ["controls[0].covered_by", "mri"],
        ),
        # R16: unknown rule settings are named.
        (valid_protocol(rules={"hold_weeks": 12}), ["rules", "hold_weeks"]),
    ],
)
def test_parse_protocol_names_what_is_wrong(data, named):
    with pytest.raises(ProtocolError) as raised:
        parse_protocol(data, source="test.toml")
    message = str(raised.value)
    assert message.startswith("test.toml: ")
    for word in named:
        assert word in message


def test_unknown_protocol_code():
    with pytest.raises(ProtocolError, match="no-hdir-1999"):
        load_protocol("no-hdir-1999")
