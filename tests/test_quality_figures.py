"""The quality report's figures, against data counted by hand (pure: no database)."""

from __future__ import annotations

from datetime import date

from surveillance.quality.figures import ExamRow, quarter_of, quarters
from surveillance.quality.report import report_csv, share_bars

TODAY = date(2026, 6, 1)
D = date


def control(patient: int, due: date, *exams: tuple, anchor: int = 1) -> list[ExamRow]:
    """The exams of one control: (code, state, done_date, result, value) each."""
    return [ExamRow(patient, anchor, code, due, *rest) for code, *rest in exams]


# Q1 2026: four controls whose window has closed (due + 30 < 2026-06-01) or that are done
ROWS = [
    # 1: due 2026-01-15, both exams done 10 days late -> in window, delay 10
    *control(1, D(2026, 1, 15), ("ct_tap", "done", D(2026, 1, 25), "normal"),
             ("cea", "done", D(2026, 1, 20), None, 2.0)),
    # 2: due 2026-02-10, CEA done 45 days late (7.1: an MDT flag in Q1) -> late, delay 45
    *control(2, D(2026, 2, 10), ("ct_tap", "done", D(2026, 2, 10), "normal"),
             ("cea", "done", D(2026, 3, 27), None, 7.1)),
    # 3: due 2026-03-02, CT open: overdue (window closed 2026-04-01) -> not in window
    *control(3, D(2026, 3, 2), ("ct_tap", "open"), ("cea", "done", D(2026, 3, 1), None, 1.0)),
    # 4: due 2026-03-31, done a day early; the cancelled exam does not count
    *control(4, D(2026, 3, 31), ("ct_tap", "done", D(2026, 3, 30), "suspicious"),
             ("cea", "cancelled")),
    # Q2: 5 due 2026-05-10: window still open, not done -> not counted, not overdue
    *control(5, D(2026, 5, 10), ("ct_tap", "booked"), ("cea", "booked")),
    # Q2: 6 due 2026-04-20, done in time (the last control of a completed programme)
    *control(6, D(2026, 4, 20), ("ct_tap", "done", D(2026, 4, 22), "normal")),
    # Q4 2025: 7, a missed exam long overdue; a cancelled control counts for nothing
    *control(7, D(2025, 11, 3), ("cea", "missed")),
    *control(7, D(2025, 12, 1), ("cea", "cancelled")),
    # the future: nothing
    *control(1, D(2026, 7, 15), ("ct_tap", "open"), ("cea", "open")),
]  # fmt: skip


def test_hand_counted_quarters():
    found = {q.label: q for q in quarters(ROWS, completed_patients={6}, today=TODAY)}
    assert sorted(found) == ["2025-Q4", "2026-Q1", "2026-Q2"]
    q1 = found["2026-Q1"]
    assert (q1.controls, q1.in_window) == (4, 2)  # controls 1 and 4 (3 open, 2 late)
    assert q1.share == 0.5
    assert q1.median_delay == 10  # delays 10, 45, -1 -> 10
    assert q1.overdue == 1  # control 3's CT
    assert q1.mdt_flags == 2  # CEA 7.1 (control 2) and the suspicious CT (control 4)
    q2 = found["2026-Q2"]
    assert (q2.controls, q2.in_window, q2.median_delay, q2.completed) == (1, 1, 2, 1)
    assert q2.overdue == 0  # control 5's window is still open
    q4 = found["2025-Q4"]
    assert (q4.controls, q4.in_window, q4.share, q4.median_delay, q4.overdue) == (1, 0, 0, None, 1)


def test_the_csv_has_one_line_per_quarter():
    text = report_csv(quarters(ROWS, {6}, TODAY))
    assert text.splitlines() == [
        (
            "quarter,controls,done_within_window,share_within_window,median_delay_days,"
            "exams_overdue,mdt_flags,completed_programmes,lost_to_follow_up,mdt_decisions,"
            "median_days_to_decision"
        ),
        "2025-Q4,1,0,0.000,,1,0,0,0,0,",
        "2026-Q1,4,2,0.500,10,1,2,0,0,0,",
        "2026-Q2,1,1,1.000,2,0,0,1,0,0,",
    ]


def test_the_bars_are_as_high_as_the_share():
    bars = share_bars(quarters(ROWS, {6}, TODAY))
    assert [b.percent for b in bars] == [0, 50, 100]
    assert bars[2].height == 2 * bars[1].height and bars[0].height == 0


def test_quarters_are_calendar_quarters():
    assert [quarter_of(D(2026, m, 1)) for m in (1, 3, 4, 6, 7, 9, 10, 12)] == [
        "2026-Q1", "2026-Q1", "2026-Q2", "2026-Q2", "2026-Q3", "2026-Q3", "2026-Q4", "2026-Q4",
    ]  # fmt: skip


# The engine's dates (report.py asks it): lost-to-follow-up flags, decisions and their flags.
LOST = [D(2026, 1, 15), D(2026, 3, 2), D(2025, 11, 3)]
WAITS = [
    (D(2026, 1, 30), D(2026, 1, 10)),  # 20 days, Q1
    (D(2026, 2, 15), D(2026, 2, 1)),  # 14 days, Q1
    (D(2026, 3, 31), D(2025, 12, 31)),  # 90 days, Q1: counted in the decision's quarter
    (D(2026, 4, 12), D(2026, 4, 2)),  # 10 days, Q2
]


def test_lost_patients_and_the_time_to_decision_per_quarter():
    found = {q.label: q for q in quarters(ROWS, {6}, TODAY, lost=LOST, decisions=WAITS)}
    assert [(q, found[q].lost) for q in sorted(found)] == [
        ("2025-Q4", 1), ("2026-Q1", 2), ("2026-Q2", 0),
    ]  # fmt: skip
    assert (found["2026-Q1"].decisions, found["2026-Q1"].median_decision_days) == (3, 20)
    assert (found["2026-Q2"].decisions, found["2026-Q2"].median_decision_days) == (1, 10)
    assert (found["2025-Q4"].decisions, found["2025-Q4"].median_decision_days) == (0, None)
    lines = report_csv(list(found.values())).splitlines()
    assert lines[2].endswith(",2,3,20") and lines[3].endswith(",0,1,10")
