"""R9 and R13: the results since the anchor, the extra exams they add and the MDT flags."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise

from .model import FlagAnswer, History, Protocol, ResultValue, Settings
from .states import Decision, Flag, MdtReason, Reading, ResultKind


@dataclass(frozen=True, slots=True)
class Result:
    """One result, wherever recorded: an exam, a primary control or a measurement."""

    date: date
    code: str
    value: ResultValue


def results(history: History) -> list[Result]:
    """Every result of the history, in date order (records, primary controls, measurements)."""
    found = [Result(r.done, r.code, r.result) for r in history.records if r.done and r.result is not None]  # fmt: skip
    for control in history.primary_controls:
        if control.done:
            found += [Result(control.date, code, value) for code, value in control.results]
    found += [Result(m.date, m.code, m.value) for m in history.measurements]
    return sorted(found, key=lambda r: r.date)


def _equivocal(history: History) -> list[Result]:
    """The equivocal readings of the history in date order: results() without the rest."""
    found = [
        Result(r.done, r.code, Reading.EQUIVOCAL)
        for r in history.records
        if r.result == Reading.EQUIVOCAL and r.done
    ]
    for control in history.primary_controls:
        if control.done:
            found += [
                Result(control.date, code, value)
                for code, value in control.results
                if value == Reading.EQUIVOCAL
            ]
    return sorted(found, key=lambda r: r.date) if found else found


def extra_exam_origins(
    protocol: Protocol, history: History, since: date
) -> list[tuple[str, date, date]]:
    """(code, due, origin) of every extra exam: equivocal readings and recheck decisions."""
    step = timedelta(days=protocol.extra_exam_days)
    extras = [
        (r.code, r.date + step, r.date)
        for r in _equivocal(history)
        if r.date >= since and r.value == Reading.EQUIVOCAL
    ]
    for d in history.decisions:
        if d.decision == Decision.RECHECK and d.exam and d.due and d.date >= since:
            extras.append((d.exam, d.due, d.date))
    return extras


def limit_of(protocol: Protocol, code: str, settings: Settings) -> float | None:
    """The upper limit of a value exam; the configured CEA limit overrides the file's."""
    spec = protocol.exams.get(code)
    if spec is None or spec.result != ResultKind.VALUE:
        return None
    return settings.cea_upper_limit if code == "cea" else spec.upper_limit


def mdt_flags(
    protocol: Protocol, history: History, since: date, settings: Settings
) -> list[FlagAnswer]:
    """R9 (a)-(c): one flag per reason, from the latest raising result no decision cleared."""
    cleared = max((d.date for d in history.decisions), default=None)
    recent = [r for r in results(history) if r.date >= since]
    raised: dict[MdtReason, FlagAnswer] = {}
    for flag in raising_flags(protocol, recent, settings):
        if cleared is None or flag.date > cleared:  # type: ignore[operator]
            raised[flag.reason] = flag  # type: ignore[index]
    return sorted(raised.values(), key=lambda f: (f.date, f.reason))


def raising_flags(protocol: Protocol, recent: list[Result], settings: Settings) -> list[FlagAnswer]:
    """Every result that raises a flag, in date order."""
    flags = []
    values: dict[str, list[float]] = {}
    for result in recent:
        spec = protocol.exams.get(result.code)
        if spec is None:
            continue
        if spec.result == ResultKind.READING:
            if result.value == Reading.SUSPICIOUS:
                flags.append(_flag(MdtReason.CT_SUSPICIOUS, result))
            continue
        value = float(result.value)
        series = values.setdefault(result.code, [])
        series.append(value)
        limit = limit_of(protocol, result.code, settings)
        if limit is not None and value > limit:
            flags.append(_flag(MdtReason.CEA_HIGH, result, (value,)))
        if spec.trend_rises and _rising(series, spec.trend_rises, spec.trend_factor, spec.trend_min_rise):  # fmt: skip
            flags.append(
                _flag(MdtReason.CEA_RISING, result, tuple(series[-spec.trend_rises - 1 :]))
            )
    return flags


def _flag(reason: MdtReason, result: Result, values: tuple[float, ...] = ()) -> FlagAnswer:
    return FlagAnswer(Flag.MDT_REVIEW, result.date, reason, result.code, values=values)


def _rising(series: list[float], rises: int, factor: float, min_rise: float) -> bool:
    """R9 (c): the last `rises` values each rose, and the last is well over the lowest."""
    if len(series) < rises + 1:
        return False
    tail = series[-rises - 1 :]
    lowest, last = min(series), series[-1]
    each_rose = all(later > earlier for earlier, later in pairwise(tail))
    # Rounded: 1.3 x 3.0 is 3.9000000000000004 in floating point, and 3.9 must count.
    return each_rose and last >= round(factor * lowest, 9) and round(last - lowest, 9) >= min_rise
