"""protocol.md v2 as tables: the engine's answer (states, lists, flags, status) for the facts."""

from __future__ import annotations

from datetime import date

import pytest

from surveillance.protocol import (
    DecisionRecord,
    ExamRecord,
    History,
    Measurement,
    PrimaryControl,
    Settings,
    Treatment,
    evaluate,
    load_protocol,
)
from surveillance.protocol.states import Decision, EndReason

day = date.fromisoformat
DEFAULT = load_protocol("no-hdir-2025")


def facts(
    *treatments,
    controls=(),
    records=(),
    measurements=(),
    decisions=(),
    candidate=True,
) -> History:
    """Facts written the way a nurse reads them: ISO dates, codes, plain values."""
    return History(
        treatments=tuple(Treatment(day(d), k, ref) for ref, (d, k) in enumerate(treatments, 1)),
        primary_controls=tuple(_control(c, ref) for ref, c in enumerate(controls, 101)),
        candidate=candidate,
        records=tuple(_record(r) for r in records),
        measurements=tuple(Measurement(day(d), "cea", v) for d, v in measurements),
        decisions=tuple(_decision(d) for d in decisions),
    )


def _control(control: tuple, ref: int) -> PrimaryControl:
    when, codes, *done = control
    results = done[0] if done else None
    return PrimaryControl(
        day(when),
        frozenset(codes),
        ref,
        done=results is not None,
        results=tuple((results or {}).items()),
    )


def _record(r: dict) -> ExamRecord:
    dates = {
        k: day(v) for k, v in r.items() if k in ("due", "booked", "done", "missed", "cancelled")
    }
    return ExamRecord(r["exam"], result=r.get("result"), reason=r.get("reason"), **dates)


def _decision(d: tuple) -> DecisionRecord:
    when, decision, *recheck = d
    exam, due = recheck if recheck else (None, None)
    return DecisionRecord(day(when), Decision(decision), exam=exam, due=due and day(due))


def answer(history: History, today: str, protocol=DEFAULT, settings: Settings | None = None):
    """The engine's answer on `today`."""
    return evaluate(protocol, history, day(today), settings or Settings())


def lists(result, due: str) -> dict[str, tuple[str, str | None]]:
    """Code -> (state, list) of the exams due on `due`."""
    return {e.planned.code: (e.state, e.list) for e in result.exams if e.planned.due == day(due)}


def flags(result) -> list[tuple]:
    """The flags as (flag, reason or exam, date) triples."""
    return [
        (f.flag, f.reason or f.exam, f.date.isoformat() if f.date else None) for f in result.flags
    ]


def liver_cts(result) -> list[str]:
    """The due dates of the liver CTs planned."""
    return [e.planned.due.isoformat() for e in result.exams if e.planned.code == "ct_liver"]


RESECTION = ("2025-12-01", "resection")  # month 6 due 2026-06-01 (a Monday)
PRIMARY_PLANNED = ("2026-06-25", ["ct_tap", "cea"])


# --- Worked examples 5-7 --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("treatments", "records", "expected_liver"),
    [
        # Ex. 5: month 3 (2025-04-15) precedes the resection: superseded; month 9 stays.
        ([("2025-01-15", "ablation"), ("2025-06-02", "resection")], [], ["2025-10-15"]),
        # Ex. 5 variant: resection 2025-04-20; the 2025-10-15 CT is 5 days from the ct_tap.
        ([("2025-01-15", "ablation"), ("2025-04-20", "resection")], [], []),
        # R4: the covered CT stays when it is already booked (a nurse must decide).
        (
            [("2025-01-15", "ablation"), ("2025-04-20", "resection")],
            [{"exam": "ct_liver", "due": "2025-10-15", "booked": "2025-10-14"}],
            ["2025-10-15"],
        ),
        # R4: ... and when it is already done.
        (
            [("2025-01-15", "ablation"), ("2025-04-20", "resection")],
            [{"exam": "ct_liver", "due": "2025-10-15", "done": "2025-10-14", "result": "normal"}],
            ["2025-10-15"],
        ),
        # R4: a two-stage operation (ablation at stage 1, resection at stage 2, 6 weeks on).
        (
            [("2025-01-15", "ablation"), ("2025-03-01", "resection")],
            [],
            ["2025-04-15", "2025-10-15"],
        ),
        # R4: an ablation entered late, older than the anchor, adds its CTs due after it.
        ([("2025-06-02", "resection"), ("2025-01-15", "ablation")], [], ["2025-10-15"]),
        # R4: an ablation anchor plans its own liver CTs at 3 and 9 months (example 2).
        ([("2025-03-31", "ablation")], [], ["2025-06-30", "2025-12-31"]),
    ],
)
def test_r4_worked_example_5_ablation_cts_survive_a_later_anchor(
    treatments, records, expected_liver
):
    result = answer(facts(*treatments, records=records), "2025-03-01")
    assert liver_cts(result) == expected_liver


def test_worked_example_5_the_kept_ct_counts_from_the_ablation():
    result = answer(facts(("2025-01-15", "ablation"), ("2025-06-02", "resection")), "2025-06-03")
    kept = next(e.planned for e in result.exams if e.planned.code == "ct_liver")
    assert (kept.month, kept.dated_from, kept.source.kind) == (9, day("2025-01-15"), "ablation")
    first = next(e.planned for e in result.exams if e.planned.code == "ct_tap")
    assert first.due == day("2025-12-02")


@pytest.mark.parametrize(
    ("controls", "today", "expected", "mdt"),
    [
        # Ex. 6: the control planned, 24 days ahead: both month-6 exams coordinated.
        (
            [PRIMARY_PLANNED],
            "2026-06-01",
            {"cea": ("open", "coordinated"), "ct_tap": ("open", "coordinated")},
            [],
        ),
        # Ex. 6: on the control's day it is still coordinated.
        (
            [PRIMARY_PLANNED],
            "2026-06-25",
            {"cea": ("open", "coordinated"), "ct_tap": ("open", "coordinated")},
            [],
        ),
        # Ex. 6: its date passed, not recorded done: results missing.
        (
            [PRIMARY_PLANNED],
            "2026-06-28",
            {"cea": ("open", "results_missing"), "ct_tap": ("open", "results_missing")},
            [],
        ),
        # R8/R10: 30 days after the due date it is overdue like any exam (issue case 1).
        (
            [PRIMARY_PLANNED],
            "2026-07-02",
            {"cea": ("open", "overdue"), "ct_tap": ("open", "overdue")},
            [],
        ),
        # Ex. 6: done with a normal CT and CEA 7.2: both done, MDT list for the CEA.
        (
            [("2026-06-25", ["ct_tap", "cea"], {"ct_tap": "normal", "cea": 7.2})],
            "2026-06-28",
            {"cea": ("done", None), "ct_tap": ("done", None)},
            [("mdt_review", "cea_high", "2026-06-25")],
        ),
        # Ex. 6: done with the CEA only: the CT stays results_missing.
        (
            [("2026-06-25", ["ct_tap", "cea"], {"cea": 2.0})],
            "2026-06-28",
            {"cea": ("done", None), "ct_tap": ("open", "results_missing")},
            [],
        ),
        # R9 (a): a suspicious CT at a primary control reaches the MDT list (issue case 2).
        (
            [("2026-06-25", ["ct_tap", "cea"], {"ct_tap": "suspicious", "cea": 2.0})],
            "2026-06-28",
            {"cea": ("done", None), "ct_tap": ("done", None)},
            [("mdt_review", "ct_suspicious", "2026-06-25")],
        ),
    ],
)
def test_worked_example_6_primary_control(controls, today, expected, mdt):
    result = answer(facts(RESECTION, controls=controls), today)
    assert lists(result, "2026-06-01") == expected
    assert flags(result) == mdt


@pytest.mark.parametrize(
    ("values", "rising"),
    [
        # Ex. 7: 1.2, 2.0, 2.9 at 6, 12, 18 months: rising.
        ([1.2, 2.0, 2.9], True),
        # Ex. 7: 3.0, 3.2, 3.5: 3.5 is under 1.3 x 3.0: no flag.
        ([3.0, 3.2, 3.5], False),
        # 1.3 x 3.0 is exactly 3.9 (and 0.9 under the 1.0 rise): still no flag.
        ([3.0, 3.5, 3.9], False),
        # Exactly 1.0 above the lowest (and 1.5 x): a flag; floating point must not hide it.
        ([2.0, 2.5, 3.0], True),
        # The same with a lower start: 1.0, 1.5, 2.0 is 2x and +1.0.
        ([1.0, 1.5, 2.0], True),
        # Two values only: one rise is not a trend.
        ([1.0, 4.0], False),
        # A dip breaks "each rose over the one before".
        ([1.2, 2.9, 2.0], False),
    ],
)
def test_worked_example_7_rising_cea(values, rising):
    months = ["2025-07-15", "2026-01-15", "2026-07-15"]
    records = [
        {"exam": "cea", "due": due, "done": due, "result": v} for due, v in zip(months, values)
    ]
    result = answer(facts(("2025-01-15", "resection"), records=records), "2026-08-01")
    expected = [("mdt_review", "cea_rising", months[len(values) - 1])] if rising else []
    assert [f for f in flags(result) if f[0] == "mdt_review"] == expected


def test_r9_rising_flag_carries_the_values_for_the_reason_in_words():
    records = [
        {"exam": "cea", "due": d, "done": d, "result": v}
        for d, v in [("2025-07-15", 1.2), ("2026-01-15", 2.0), ("2026-07-15", 2.9)]
    ]
    result = answer(facts(("2025-01-15", "resection"), records=records), "2026-08-01")
    assert result.flags[0].values == (1.2, 2.0, 2.9)


# --- R7 Completion ---------------------------------------------------------------------------

OLD_RESECTION = ("2020-03-15", "resection")
MONTHS = [6, 12, 18, 24, 30, 36, 48, 60]
OLD_DUES = [
    "2020-09-15", "2021-03-15", "2021-09-15", "2022-03-15",
    "2022-09-15", "2023-03-15", "2024-03-15", "2025-03-15",
]  # fmt: skip


def all_done(*, but: dict[str, dict] | None = None) -> list[dict]:
    """Every exam of the 2020-03-15 plan done and normal, except those in `but` (due -> facts)."""
    but = but or {}
    records = []
    for due in OLD_DUES:
        for code, result in (("ct_tap", "normal"), ("cea", 2.0)):
            base = {"exam": code, "due": due}
            records.append({**base, **but[due]} if due in but else {**base, "done": due, "result": result})  # fmt: skip
    return records


@pytest.mark.parametrize(
    ("records", "controls", "status"),
    [
        # Every exam done: completed.
        (all_done(), [], "completed"),
        # Issue case 3: the 60-month control done at a primary control with results: completed.
        (
            all_done()[:-2],
            [("2025-03-10", ["ct_tap", "cea"], {"ct_tap": "normal", "cea": 2.0})],
            "completed",
        ),
        # The primary control done without results: not completed (results missing).
        (all_done()[:-2], [("2025-03-10", ["ct_tap", "cea"], {})], "active"),
        # Issue case 4: month 48 missed, month 60 cancelled: not completed.
        (
            all_done(
                but={
                    "2024-03-15": {"missed": "2024-04-20"},
                    "2025-03-15": {"cancelled": "2025-03-01", "reason": "patient_declined"},
                }
            ),
            [],
            "active",
        ),
        # Month 60 cancelled by a person with a reason, all else done: completed.
        (
            all_done(but={"2025-03-15": {"cancelled": "2025-03-01", "reason": "declined"}}),
            [],
            "completed",
        ),
        # A CEA over the limit at month 60 and no decision yet: not completed (R7 v2).
        (all_done(but={"2025-03-15": {"done": "2025-03-15", "result": 9.0}}), [], "active"),
        # Booked, past its date, no result: not completed, even past month 60.
        (all_done(but={"2025-03-15": {"booked": "2025-03-14"}}), [], "active"),
    ],
)
def test_r7_completion(records, controls, status):
    result = answer(facts(OLD_RESECTION, records=records, controls=controls), "2026-06-01")
    assert result.status == status


def test_r7_issue_case_4_the_missed_control_stays_overdue_on_the_worklist():
    records = all_done(but={"2024-03-15": {"missed": "2024-04-20"}})
    result = answer(facts(OLD_RESECTION, records=records), "2026-06-01")
    assert lists(result, "2024-03-15") == {"ct_tap": ("missed", "overdue"), "cea": ("missed", "overdue")}  # fmt: skip


# --- R8 Coordination -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("control_date", "records", "expected"),
    [
        # 31 days from the due date: outside the window, the exam keeps its own timing.
        ("2026-07-02", [], ("open", "to_book")),
        # 30 days before: inside the window.
        ("2026-05-02", [], ("open", "results_missing")),
        # An exam with a record of its own follows that record, not its partner.
        (
            "2026-06-25",
            [{"exam": "ct_tap", "due": "2026-06-01", "booked": "2026-06-03"}],
            ("booked", "booked"),
        ),
    ],
)
def test_r8_coordination_window_and_own_records(control_date, records, expected):
    result = answer(
        facts(RESECTION, controls=[(control_date, ["ct_tap"])], records=records), "2026-06-02"
    )
    assert lists(result, "2026-06-01")["ct_tap"] == expected


def test_r8_far_ahead_a_coordinated_exam_is_upcoming():
    result = answer(facts(RESECTION, controls=[PRIMARY_PLANNED]), "2026-04-01")
    assert lists(result, "2026-06-01")["ct_tap"] == ("open", "upcoming")


def test_r8_the_nearest_control_wins_and_a_tie_goes_to_the_earlier():
    result = answer(
        facts(RESECTION, controls=[("2026-05-27", ["cea"]), ("2026-06-06", ["cea"])]),
        "2026-06-01",
    )
    partner = next(e.planned.coordinated_with for e in result.exams if e.planned.code == "cea")
    assert partner.date == day("2026-05-27")


def test_r8_codes_that_match_nothing_coordinate_nothing():
    result = answer(facts(RESECTION, controls=[("2026-06-01", ["colonoscopy"])]), "2026-06-01")
    assert lists(result, "2026-06-01") == {"cea": ("open", "to_book"), "ct_tap": ("open", "to_book")}  # fmt: skip


# --- R9 Results and the MDT list -------------------------------------------------------------


@pytest.mark.parametrize(
    ("records", "measurements", "decisions", "expected"),
    [
        # (b) CEA 5.0 is not above the limit.
        ([{"exam": "cea", "due": "2026-06-01", "done": "2026-06-01", "result": 5.0}], [], [], []),
        # (b) CEA 5.1 is.
        (
            [{"exam": "cea", "due": "2026-06-01", "done": "2026-06-01", "result": 5.1}],
            [],
            [],
            [("mdt_review", "cea_high", "2026-06-01")],
        ),
        # A CEA measured outside a control counts too.
        ([], [("2026-03-01", 6.0)], [], [("mdt_review", "cea_high", "2026-03-01")]),
        # A result before the anchor does not count.
        ([], [("2025-11-01", 6.0)], [], []),
        # A decision clears the flags of results dated on or before it.
        ([], [("2026-03-01", 6.0)], [("2026-03-01", "no_recurrence")], []),
        # A result after the decision raises the flag afresh.
        (
            [],
            [("2026-03-01", 6.0), ("2026-04-01", 6.5)],
            [("2026-03-10", "no_recurrence")],
            [("mdt_review", "cea_high", "2026-04-01")],
        ),
        # (c) uses values from before a decision: 1.2 and 2.0 before, 2.9 after.
        (
            [],
            [("2026-01-01", 1.2), ("2026-02-01", 2.0), ("2026-03-01", 2.9)],
            [("2026-02-15", "no_recurrence")],
            [("mdt_review", "cea_rising", "2026-03-01")],
        ),
        # (a) a suspicious reading on a record; a history record (no exam of the plan) counts.
        (
            [{"exam": "ct_tap", "due": "2026-05-20", "done": "2026-05-20", "result": "suspicious"}],
            [],
            [],
            [("mdt_review", "ct_suspicious", "2026-05-20")],
        ),
        # Issue case 7: 1.2, 2.0, 2.9, 3.9, 4.8: flagged, dated by the latest rising value.
        (
            [],
            [
                ("2026-01-01", 1.2),
                ("2026-02-01", 2.0),
                ("2026-03-01", 2.9),
                ("2026-04-01", 3.9),
                ("2026-05-01", 4.8),
            ],
            [],
            [("mdt_review", "cea_rising", "2026-05-01")],
        ),
    ],
)
def test_r9_mdt_flags(records, measurements, decisions, expected):
    history = facts(RESECTION, records=records, measurements=measurements, decisions=decisions)
    assert flags(answer(history, "2026-06-02")) == expected


@pytest.mark.parametrize(
    ("reading_date", "extra_due"),
    [
        # An equivocal CT adds an extra CT 8 weeks after the result's date.
        ("2026-06-03", "2026-07-29"),
        # None is added on the day of an exam of the same code (month 12 is 2026-12-01).
        ("2026-10-06", None),
    ],
)
def test_r9_equivocal_reading_adds_an_extra_exam(reading_date, extra_due):
    records = [{"exam": "ct_tap", "due": "2026-06-01", "done": reading_date, "result": "equivocal"}]
    result = answer(facts(RESECTION, records=records), "2026-06-20")
    extras = [e.planned for e in result.exams if e.planned.extra]
    if extra_due is None:
        assert extras == []
    else:
        assert [(e.code, e.due, e.month, e.dated_from) for e in extras] == [
            ("ct_tap", day(extra_due), None, day(reading_date))
        ]
        assert lists(result, extra_due) == {"ct_tap": ("open", "to_book")}


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        # A booking left on an exam the plan no longer has: cancel_booking.
        (
            [{"exam": "ct_tap", "due": "2026-01-15", "booked": "2026-01-12"}],
            [("cancel_booking", "ct_tap", "2026-01-12")],
        ),
        # Done: nothing to cancel.
        (
            [
                {
                    "exam": "ct_tap",
                    "due": "2026-01-15",
                    "booked": "2026-01-12",
                    "done": "2026-01-12",
                    "result": "normal",
                }
            ],
            [],
        ),
        # Cancelled by a person: the booking went with it.
        (
            [
                {
                    "exam": "ct_tap",
                    "due": "2026-01-15",
                    "booked": "2026-01-12",
                    "cancelled": "2026-01-01",
                    "reason": "x",
                }
            ],
            [],
        ),
    ],
)
def test_r9_cancel_booking(records, expected):
    result = answer(facts(RESECTION, records=records), "2026-01-01")
    assert flags(result) == expected


# --- R10 Lists -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "today", "expected"),
    [
        # Open, more than 42 days ahead: upcoming.
        (None, "2026-04-19", ("open", "upcoming")),
        # Open, 42 days ahead: to book.
        (None, "2026-04-20", ("open", "to_book")),
        # Open, 30 days late: still to book.
        (None, "2026-07-01", ("open", "to_book")),
        # Open, 31 days late: overdue.
        (None, "2026-07-02", ("open", "overdue")),
        # Booked far ahead of the due date: booked, whatever T.
        ({"booked": "2026-06-03"}, "2026-03-01", ("booked", "booked")),
        # Booked, on the booked day: still booked.
        ({"booked": "2026-06-03"}, "2026-06-03", ("booked", "booked")),
        # Booked, the day after: results missing.
        ({"booked": "2026-06-03"}, "2026-06-04", ("booked", "results_missing")),
        # Booked and more than 30 days past due without a result: overdue.
        ({"booked": "2026-06-03"}, "2026-07-02", ("booked", "overdue")),
        # Missed: keeps state missed, listed to book.
        ({"missed": "2026-06-02"}, "2026-06-05", ("missed", "to_book")),
        # Booked again after the miss: booked.
        ({"missed": "2026-06-02", "booked": "2026-06-10"}, "2026-06-05", ("booked", "booked")),
        # Cancelled by a person: on no list.
        ({"cancelled": "2026-05-01", "reason": "declined"}, "2026-07-05", ("cancelled", None)),
        # Done: on no list.
        ({"done": "2026-06-01", "result": "normal"}, "2026-07-05", ("done", None)),
    ],
)
def test_r10_lists(record, today, expected):
    records = [{"exam": "ct_tap", "due": "2026-06-01", **record}] if record else []
    result = answer(facts(RESECTION, records=records), today)
    assert lists(result, "2026-06-01")["ct_tap"] == expected


# --- R13 Decisions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("decisions", "treatments", "today", "ct", "status", "expected_flags"),
    [
        # Treatment planned: every open exam on hold, whatever its timing; status on_hold.
        (
            [("2026-05-20", "treatment_planned")],
            [],
            "2026-07-10",
            ("open", "on_hold"),
            "on_hold",
            [],
        ),
        # The hold lapses 90 days after the decision: back on the MDT list.
        (
            [("2026-05-20", "treatment_planned")],
            [],
            "2026-08-18",
            ("open", "overdue"),
            "active",
            [("mdt_review", "hold_lapsed", "2026-08-18")],
        ),
        # The day before the lapse it still holds.
        (
            [("2026-05-20", "treatment_planned")],
            [],
            "2026-08-17",
            ("open", "on_hold"),
            "on_hold",
            [],
        ),
        # Resume lifts the hold.
        (
            [("2026-05-20", "treatment_planned"), ("2026-06-01", "resume")],
            [],
            "2026-06-02",
            ("open", "to_book"),
            "active",
            [],
        ),
        # A treatment after the decision ends the hold (a pve is history, not an anchor).
        (
            [("2026-05-20", "treatment_planned")],
            [("2026-06-01", "pve")],
            "2026-06-02",
            ("open", "to_book"),
            "active",
            [],
        ),
        # Not a candidate: surveillance ended, no exams.
        ([("2026-05-20", "not_candidate")], [], "2026-06-02", None, "ended", []),
    ],
)
def test_r13_decisions(decisions, treatments, today, ct, status, expected_flags):
    history = facts(RESECTION, *treatments, decisions=decisions)
    result = answer(history, today)
    if ct is not None:
        assert lists(result, "2026-06-01")["ct_tap"] == ct
    assert result.status == status
    assert flags(result) == expected_flags


def test_r13_a_booked_exam_keeps_its_booking_on_hold():
    records = [{"exam": "ct_tap", "due": "2026-06-01", "booked": "2026-06-20"}]
    result = answer(facts(RESECTION, records=records, decisions=[("2026-05-20", "treatment_planned")]), "2026-06-02")  # fmt: skip
    assert lists(result, "2026-06-01") == {
        "ct_tap": ("booked", "booked"),
        "cea": ("open", "on_hold"),
    }


def test_r13_recheck_adds_an_extra_exam():
    decisions = [("2026-06-10", "recheck", "cea", "2026-07-10")]
    result = answer(facts(RESECTION, decisions=decisions), "2026-06-11")
    extra = [e for e in result.exams if e.planned.extra]
    assert [(e.planned.code, e.planned.due, e.planned.dated_from, e.list) for e in extra] == [
        ("cea", day("2026-07-10"), day("2026-06-10"), "to_book")
    ]


def test_r13_a_later_anchor_after_not_candidate_starts_a_new_plan():
    history = facts(
        RESECTION, ("2026-09-01", "resection"), decisions=[("2026-05-20", "not_candidate")]
    )
    result = answer(history, "2026-09-02")
    assert (result.status, result.plan.anchor.date) == ("active", day("2026-09-01"))


# --- R14 Lost to follow-up -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("records", "today", "lost"),
    [
        # Months 6 and 12 both overdue: lost to follow-up.
        ([], "2027-01-05", True),
        # Only one control due before T - 30: no flag.
        ([], "2026-12-30", False),
        # Month 6 done, month 12 overdue: no flag.
        (
            [
                {"exam": "ct_tap", "due": "2026-06-01", "done": "2026-06-01", "result": "normal"},
                {"exam": "cea", "due": "2026-06-01", "done": "2026-06-01", "result": 1.0},
            ],
            "2027-01-05",
            False,
        ),
        # One exam overdue in each of the two latest controls is enough.
        (
            [{"exam": "cea", "due": "2026-06-01", "done": "2026-06-01", "result": 1.0}],
            "2027-01-05",
            True,
        ),
    ],
)
def test_r14_lost_to_follow_up(records, today, lost):
    result = answer(facts(RESECTION, records=records), today)
    assert any(f.flag == "lost_to_follow_up" for f in result.flags) is lost


# --- R15 Status ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("treatments", "candidate", "status", "reason", "anchor"),
    [
        # No anchoring treatment: no plan, no status.
        ([("2026-01-01", "pve")], True, None, None, None),
        # A transplant after the anchor ends it.
        ([RESECTION, ("2026-03-01", "transplant")], True, "ended", "transplanted", None),
        # Issue case 6: an anchoring treatment after the transplant starts a new plan.
        (
            [("2024-06-01", "transplant"), ("2026-02-02", "resection")],
            True,
            "active",
            None,
            "2026-02-02",
        ),
        # Not a candidate (R1).
        ([RESECTION], False, "ended", "not_candidate", None),
        # A resection: active.
        ([RESECTION], True, "active", None, "2025-12-01"),
    ],
)
def test_r15_status(treatments, candidate, status, reason, anchor):
    result = answer(facts(*treatments, candidate=candidate), "2026-06-01")
    assert (result.status, result.status_reason) == (status, reason)
    assert (result.plan.anchor.date.isoformat() if result.plan.anchor else None) == anchor


def test_r15_issue_case_6_the_new_plan_has_16_exams():
    result = answer(facts(("2024-06-01", "transplant"), ("2026-02-02", "resection")), "2026-06-01")
    assert len(result.exams) == 16


def test_r15_ended_reason_is_kept():
    history = History((Treatment(day("2025-12-01"), "resection", 1),), candidate=False, end_reason=EndReason.DECEASED)  # fmt: skip
    assert answer(history, "2026-06-01").status_reason == "deceased"


# --- The answer's per-control shape ----------------------------------------------------------


def test_controls_group_the_exams_of_one_due_date():
    result = answer(facts(("2025-03-31", "ablation")), "2025-04-01")
    shape = [(c.due.isoformat(), [e.planned.code for e in c.exams]) for c in result.controls]
    assert shape[:3] == [
        ("2025-06-30", ["ct_liver"]),
        ("2025-09-30", ["cea", "ct_tap"]),
        ("2025-12-31", ["ct_liver"]),
    ]


# --- R16 Protocols are data ------------------------------------------------------------------

CLINIC_PROTOCOL = """
code = "clinic-mri"
title = "Our clinic: MRI of the liver instead of the liver CT"
anchoring_kinds = ["resection_with_ablation", "ablation", "resection"]
ending_kinds = ["transplant"]
other_primary_exams = ["colonoscopy"]

[exams.ct_tap]
nb = "CT thorax/abdomen/bekken"
en = "CT chest/abdomen/pelvis"
result = "reading"

[exams.cea]
nb = "CEA"
en = "CEA blood test"
result = "value"
unit = "µg/L"
upper_limit = 5.0

[exams.mri_liver]
nb = "MR lever"
en = "liver MRI"
result = "reading"

[[controls]]
months = [6, 12, 18, 24, 30, 36, 48, 60]
exams = ["ct_tap", "cea"]

[[controls]]
months = [3, 9]
exams = ["mri_liver"]
only_after = ["ablation", "resection_with_ablation"]
covered_by = "ct_tap"
"""


@pytest.fixture
def clinic_folder(tmp_path, monkeypatch):
    """A configuration whose instance folder holds a clinic's own protocol file."""
    from surveillance.config import load_config
    from surveillance.protocol import set_protocol_folders

    (tmp_path / "protocols").mkdir()
    (tmp_path / "protocols" / "clinic-mri.toml").write_text(CLINIC_PROTOCOL, "utf-8")
    config = tmp_path / "surveillance.toml"
    config.write_text(f'[web]\ninstance_dir = "{tmp_path}"\n', "utf-8")
    yield lambda: load_config(config, environ={})
    set_protocol_folders()


def test_r16_a_clinics_own_protocol_in_the_instance_folder_loads(clinic_folder):
    clinic_folder()
    protocol = load_protocol("clinic-mri")
    assert protocol.exams["mri_liver"].name_nb == "MR lever"
    result = answer(facts(("2025-03-31", "ablation")), "2025-04-01", protocol=protocol)
    assert [(e.planned.code, e.planned.month) for e in result.exams][:2] == [
        ("mri_liver", 3),
        ("cea", 6),
    ]


def test_r16_a_broken_clinic_protocol_fails_at_start_naming_the_file(clinic_folder, tmp_path):
    from surveillance.config import ConfigError

    broken = CLINIC_PROTOCOL.replace('result = "reading"', 'result = "picture"', 1)
    (tmp_path / "protocols" / "clinic-mri.toml").write_text(broken, "utf-8")
    with pytest.raises(ConfigError, match=r"clinic-mri\.toml.*exams\.ct_tap\.result.*picture"):
        clinic_folder()


def test_r16_no_hdir_2019_images_liver_and_lungs_and_lung_resection_anchors():
    protocol = load_protocol("no-hdir-2019")
    assert protocol.exams["ct_liver_lungs"].name_nb == "CT lever og lunger"
    history = facts(("2025-01-31", "ablation"), ("2025-03-01", "lung_resection"))
    result = answer(history, "2025-03-02", protocol=protocol)
    assert result.plan.anchor.kind == "lung_resection"
    assert {e.planned.code for e in result.exams} == {"cea", "ct_liver_lungs"}
    assert [e.planned.month for e in result.exams if e.planned.code == "cea"] == [
        4, 8, 12, 18, 24, 30, 36, 42, 48, 54, 60,
    ]  # fmt: skip
