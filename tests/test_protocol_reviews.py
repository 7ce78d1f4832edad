"""How long each MDT flag waited for the decision that cleared it (R9, R13), hand-counted."""

from __future__ import annotations

from datetime import date

from surveillance.protocol import (
    Decision,
    DecisionRecord,
    ExamRecord,
    History,
    Measurement,
    Treatment,
    decision_waits,
    load_protocol,
)

day = date.fromisoformat
DEFAULT = load_protocol("no-hdir-2025")


def decided(when: str, decision: Decision = Decision.NO_RECURRENCE) -> DecisionRecord:
    return DecisionRecord(day(when), decision)


def cea(when: str, value: float) -> Measurement:
    return Measurement(day(when), "cea", value)


def test_each_decision_waits_from_the_oldest_flag_it_cleared():
    history = History(
        treatments=(Treatment(day("2025-01-15"), "resection"),),
        records=(
            # the 6-month CT suspicious on 2025-07-20: a flag
            ExamRecord("ct_tap", day("2025-07-15"), done=day("2025-07-20"), result="suspicious"),
        ),
        measurements=(
            cea("2025-07-25", 7.0),  # a second flag, later: the wait counts from 07-20
            cea("2025-10-01", 2.0),  # no flag
            cea("2026-01-10", 6.5),  # a flag, cleared on its own day
        ),
        decisions=(
            decided("2025-08-04"),  # 2025-07-20 -> 15 days
            decided("2025-11-01"),  # nothing raised since 08-04: no wait
            decided("2026-01-10"),  # same day: 0 days
        ),
    )
    assert decision_waits(DEFAULT, history) == [
        (day("2025-08-04"), day("2025-07-20")),
        (day("2026-01-10"), day("2026-01-10")),
    ]


def test_a_result_before_the_anchor_raises_nothing_to_wait_for():
    history = History(
        treatments=(Treatment(day("2025-06-01"), "resection"),),
        measurements=(cea("2025-05-01", 9.0),),  # before the resection: not R9's
        decisions=(decided("2025-06-10"),),
    )
    assert decision_waits(DEFAULT, history) == []


def test_a_rising_cea_waits_from_the_value_that_made_it_rise():
    # R9 (c), protocol.md example 7: 1.2, 2.0, 2.9 -> a flag on the third value's date
    history = History(
        treatments=(Treatment(day("2025-01-15"), "resection"),),
        measurements=(cea("2025-07-15", 1.2), cea("2026-01-15", 2.0), cea("2026-07-15", 2.9)),
        decisions=(decided("2026-08-01"),),
    )
    assert decision_waits(DEFAULT, history) == [(day("2026-08-01"), day("2026-07-15"))]
