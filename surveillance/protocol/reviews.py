"""R13 looked back on: how long each MDT flag waited for the decision that cleared it."""

from __future__ import annotations

from datetime import date

from .model import DecisionRecord, History, Protocol, Settings
from .planning import DEFAULT_SETTINGS, find_anchor
from .results import raising_flags, results


def decision_waits(
    protocol: Protocol, history: History, settings: Settings = DEFAULT_SETTINGS
) -> list[tuple[date, date]]:
    """(decision date, date its oldest cleared flag was raised) for each decision that cleared one.

    As R9 and R13 read the facts on the decision's day: results since the anchor of that
    day, up to and including the decision, that no earlier decision had cleared.
    """
    found: list[tuple[date, date]] = []
    previous: date | None = None
    for decision in sorted(history.decisions, key=lambda d: d.date):
        raised = _raised_before(protocol, history, decision, previous, settings)
        if raised is not None:
            found.append((decision.date, raised))
        previous = decision.date
    return found


def _raised_before(
    protocol: Protocol,
    history: History,
    decision: DecisionRecord,
    previous: date | None,
    settings: Settings,
) -> date | None:
    treated = tuple(t for t in history.treatments if t.date <= decision.date)
    anchor = find_anchor(protocol, treated)
    if anchor is None:
        return None
    recent = [r for r in results(history) if anchor.date <= r.date <= decision.date]
    raised = [
        f.date
        for f in raising_flags(protocol, recent, settings)
        if f.date is not None and (previous is None or f.date > previous)
    ]
    return min(raised, default=None)
