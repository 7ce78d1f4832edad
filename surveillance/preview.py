"""`surveillance preview`: one patient's facts as JSON in, the engine's answer as JSON out."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

from .protocol import (
    DEFAULT_PROTOCOL,
    Answer,
    DecisionRecord,
    ExamRecord,
    FlagAnswer,
    History,
    Measurement,
    Plan,
    PlannedExam,
    PrimaryControl,
    Protocol,
    Settings,
    Treatment,
    evaluate,
    find_anchor,
    load_protocol,
    make_plan,
)
from .protocol.model import ResultValue
from .protocol.states import Decision, Flag, Reading, ResultKind
from .protocol.vocabulary import TREATMENT_KINDS

KEYS = {
    "candidate",
    "treatments",
    "primary_followups",
    "protocol",
    "today",
    "records",
    "measurements",
    "decisions",
}
JSON_TYPES = {
    list: "an array",
    dict: "an object",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "true or false",
    type(None): "null",
}
# Only YYYY-MM-DD: date.fromisoformat alone would also take week dates such as 2025-W03-1.
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
RECORD_DATES = ("booked", "done", "missed", "cancelled")


class PreviewError(ValueError):
    """Bad preview input; the message names the field and the value."""


class _Input:
    """The parts of the input every item is checked against: protocol, today, settings."""

    def __init__(self, protocol: Protocol, today: date | None, settings: Settings):
        self.protocol, self.today, self.settings = protocol, today, settings

    def not_after_today(self, value: date, field: str) -> None:
        """Results, misses and cancellations cannot lie ahead of today."""
        if self.today is not None and value > self.today:
            raise PreviewError(f"{field}: {_shown(value.isoformat())} is after today")

    def result(self, code: str, value, field: str) -> ResultValue:
        """A reading or a value, as the protocol declares the code's result."""
        spec = self.protocol.exams[code]
        if spec.result == ResultKind.READING:
            if value not in tuple(Reading):
                raise PreviewError(f"{field}: unknown reading {_shown(value)}")
            return str(value)
        if type(value) not in (int, float) or value < 0:
            raise PreviewError(f"{field}: {_shown(value)} is not a value of 0 or more")
        return float(value)


def preview(text: str, settings: Settings = Settings(), default: str = DEFAULT_PROTOCOL) -> dict:
    """The answer for the JSON facts in `text`, as the JSON-ready dict of protocol.md."""
    data = _json_object(text)
    if unknown := sorted(set(data) - KEYS):
        raise PreviewError(f"{unknown[0]}: unknown field")
    protocol = _protocol(data.get("protocol", default))
    today = _date(data["today"], "today") if "today" in data else None
    given = _Input(protocol, today, settings)
    history = _history(data, given)
    if today is None:
        return plan_json(_plan(protocol, history, settings))
    return answer_json(_answer(protocol, history, today, settings))


def _json_object(text: str) -> dict:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PreviewError(
            f"input: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    except RecursionError:
        raise PreviewError("input: not valid JSON (nested too deeply)") from None
    if not isinstance(data, dict):
        raise PreviewError(f"input: expected a JSON object, got {JSON_TYPES[type(data)]}")
    return data


def _protocol(code) -> Protocol:
    try:
        return load_protocol(code) if isinstance(code, str) else load_protocol(repr(code))
    except ValueError:
        raise PreviewError(f"protocol: unknown protocol {_shown(code)}") from None


def _history(data: dict, given: _Input) -> History:
    candidate = data.get("candidate", True)
    if not isinstance(candidate, bool):
        raise PreviewError(f"candidate: {_shown(candidate)} is not true or false")
    records = tuple(_record(r, i, given) for i, r in enumerate(_list(data, "records")))
    _no_twins(records)
    return History(
        treatments=tuple(_treatment(t, i) for i, t in enumerate(_list(data, "treatments"))),
        primary_controls=tuple(
            _control(c, i, given) for i, c in enumerate(_list(data, "primary_followups"))
        ),
        candidate=candidate,
        records=records,
        measurements=tuple(
            _measurement(m, i, given) for i, m in enumerate(_list(data, "measurements"))
        ),
        decisions=tuple(_decision(d, i, given) for i, d in enumerate(_list(data, "decisions"))),
    )


def _too_late(protocol: Protocol, history: History) -> PreviewError:
    # Only an anchor near the year 9999 gets here: its plan runs off the calendar.
    anchor = find_anchor(protocol, history.treatments)
    if anchor is None:  # an extra exam's date ran off the calendar instead
        return PreviewError("input: a date is too late to plan")
    field = f"treatments[{history.treatments.index(anchor)}].date"
    return PreviewError(f"{field}: {_shown(anchor.date.isoformat())} is too late to plan")


def _plan(protocol: Protocol, history: History, settings: Settings) -> Plan:
    try:
        return make_plan(protocol, history, settings)
    except (ValueError, OverflowError):
        raise _too_late(protocol, history) from None


def _answer(protocol: Protocol, history: History, today: date, settings: Settings) -> Answer:
    try:
        return evaluate(protocol, history, today, settings)
    except (ValueError, OverflowError):
        raise _too_late(protocol, history) from None


def plan_json(plan: Plan) -> dict:
    """A plan in the shape of protocol.md's preview output without `today`."""
    anchor = plan.anchor
    return {
        "protocol": plan.protocol,
        "anchor": {"date": anchor.date.isoformat(), "kind": anchor.kind} if anchor else None,
        "exams": [_exam_json(e) for e in plan.exams],
    }


def answer_json(answer: Answer) -> dict:
    """The engine's answer in the shape of protocol.md's preview output with `today`."""
    out = plan_json(answer.plan)
    exams = out.pop("exams")
    out["status"] = answer.status.value if answer.status else None
    if answer.status_reason:
        out["status_reason"] = answer.status_reason.value
    out["flags"] = [_flag_json(f) for f in answer.flags]
    out["exams"] = [
        {**exam, "state": e.state.value, "list": e.list.value if e.list else None}
        for exam, e in zip(exams, answer.exams, strict=True)
    ]
    return out


def _exam_json(e: PlannedExam) -> dict:
    dated_from = e.dated_from
    return {
        "kind": e.code,
        "month": e.month,
        "due": e.due.isoformat(),
        "due_working_day": e.due_working_day.isoformat(),
        "from": dated_from.isoformat() if dated_from else None,
        "extra": e.extra,
        "coordinated_with": e.coordinated_with.date.isoformat() if e.coordinated_with else None,
    }


def _flag_json(f: FlagAnswer) -> dict:
    if f.flag == Flag.MDT_REVIEW:
        reason = f.reason.value if f.reason else None
        return {"flag": f.flag.value, "reason": reason, "date": _iso(f.date)}
    if f.flag == Flag.CANCEL_BOOKING:
        return {"flag": f.flag.value, "exam": f.exam, "due": _iso(f.due)}
    return {"flag": f.flag.value}


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _list(data: dict, key: str) -> list:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise PreviewError(f"{key}: {_shown(value)} is not a list")
    return value


def _treatment(item, i: int) -> Treatment:
    field = f"treatments[{i}]"
    _object(item, field, {"date", "kind"})
    kind = item.get("kind")
    if not isinstance(kind, str) or kind not in TREATMENT_KINDS:
        raise PreviewError(f"{field}.kind: unknown kind {_shown(kind)}")
    return Treatment(_date(item.get("date"), f"{field}.date"), kind)


def _control(item, i: int, given: _Input) -> PrimaryControl:
    field = f"primary_followups[{i}]"
    _object(item, field, {"date", "exams"}, {"done", "results"})
    exams = item.get("exams")
    if not isinstance(exams, list) or not exams:
        raise PreviewError(f"{field}.exams: {_shown(exams)} is not a list of exam codes")
    for code in exams:
        if not isinstance(code, str) or code not in given.protocol.primary_exams:
            raise PreviewError(f"{field}.exams: unknown exam code {_shown(code)}")
    when = _date(item.get("date"), f"{field}.date")
    done = item.get("done", False)
    if not isinstance(done, bool):
        raise PreviewError(f"{field}.done: {_shown(done)} is not true or false")
    results = _control_results(item.get("results", {}), f"{field}.results", exams, done, given)
    if done:
        given.not_after_today(when, f"{field}.date")
    return PrimaryControl(when, frozenset(exams), done=done, results=results)


def _control_results(
    results, field: str, exams: list, done: bool, given: _Input
) -> tuple[tuple[str, ResultValue], ...]:
    if not isinstance(results, dict):
        raise PreviewError(f"{field}: {_shown(results)} is not an object")
    if results and not done:
        raise PreviewError(f"{field}: {_shown(results)} given, but the control is not done")
    found = []
    for code, value in results.items():
        if code not in exams or code not in given.protocol.exams:
            raise PreviewError(f"{field}.{code}: no result expected for {_shown(code)}")
        found.append((code, given.result(code, value, f"{field}.{code}")))
    return tuple(found)


def _record(item, i: int, given: _Input) -> ExamRecord:
    field = f"records[{i}]"
    _object(item, field, {"exam", "due"}, {*RECORD_DATES, "value", "reading", "reason"})
    code = item.get("exam")
    if not isinstance(code, str) or code not in given.protocol.exams:
        raise PreviewError(f"{field}.exam: unknown exam code {_shown(code)}")
    due = _date(item.get("due"), f"{field}.due")
    dates = {k: _date(item[k], f"{field}.{k}") for k in RECORD_DATES if k in item}
    for key in ("done", "missed", "cancelled"):
        if key in dates:
            given.not_after_today(dates[key], f"{field}.{key}")
    result = _record_result(item, field, code, dates.get("done"), given)
    _check_record_dates(dates, due, field, given)
    reason = _reason(item, field, "cancelled" in dates)
    return ExamRecord(
        code,
        due,
        booked=dates.get("booked"),
        done=dates.get("done"),
        result=result,
        missed=dates.get("missed"),
        cancelled=dates.get("cancelled"),
        reason=reason,
    )


def _record_result(item: dict, field: str, code: str, done: date | None, given: _Input):
    """A done record carries exactly the result its code declares: `value` or `reading`."""
    wanted = "reading" if given.protocol.exams[code].result == ResultKind.READING else "value"
    wrong = "value" if wanted == "reading" else "reading"
    if wrong in item:
        raise PreviewError(f"{field}.{wrong}: {code} takes a {wanted}, not a {wrong}")
    if done is None:
        if wanted in item:
            raise PreviewError(f"{field}.{wanted}: {_shown(item[wanted])} given without done")
        return None
    if wanted not in item:
        raise PreviewError(f"{field}.{wanted}: missing (done needs its {wanted})")
    return given.result(code, item[wanted], f"{field}.{wanted}")


def _check_record_dates(dates: dict[str, date], due: date, field: str, given: _Input) -> None:
    """R12: a result dated before D - 42 belongs to no control (an extra measurement instead)."""
    earliest = due - timedelta(days=given.settings.book_ahead_days)
    if "done" in dates and dates["done"] < earliest:
        raise PreviewError(
            f"{field}.done: {_shown(dates['done'].isoformat())} is before"
            f" {earliest.isoformat()} (due date - {given.settings.book_ahead_days} days):"
            " record it as a measurement or an extra exam"
        )


def _reason(item: dict, field: str, cancelled: bool) -> str | None:
    reason = item.get("reason")
    if cancelled and (not isinstance(reason, str) or not reason.strip()):
        raise PreviewError(f"{field}.reason: {_shown(reason)}: a cancellation needs a reason")
    if not cancelled and "reason" in item:
        raise PreviewError(f"{field}.reason: {_shown(reason)} given without cancelled")
    return reason


def _no_twins(records: tuple[ExamRecord, ...]) -> None:
    seen: set[tuple[str, date]] = set()
    for i, record in enumerate(records):
        key = (record.code, record.due)
        if key in seen:
            raise PreviewError(
                f"records[{i}]: a second record for {record.code} due {record.due.isoformat()}"
            )
        seen.add(key)


def _measurement(item, i: int, given: _Input) -> Measurement:
    field = f"measurements[{i}]"
    if not isinstance(item, dict):
        raise PreviewError(f"{field}: {_shown(item)} is not an object")
    codes = sorted(set(item) - {"date"})
    values = [c for c in codes if c in given.protocol.exams]
    if "date" not in item:
        raise PreviewError(f"{field}.date: missing")
    if len(codes) != 1 or len(values) != 1:
        name = next((c for c in codes if c not in values), codes[0] if codes else "value")
        raise PreviewError(f'{field}.{name}: expected one measured value such as "cea"')
    code = values[0]
    if given.protocol.exams[code].result != ResultKind.VALUE:
        raise PreviewError(f"{field}.{code}: {code} is not measured as a value")
    when = _date(item["date"], f"{field}.date")
    given.not_after_today(when, f"{field}.date")
    return Measurement(when, code, float(given.result(code, item[code], f"{field}.{code}")))


def _decision(item, i: int, given: _Input) -> DecisionRecord:
    field = f"decisions[{i}]"
    _object(item, field, {"date", "decision"}, {"note", "exam", "due"})
    kind = item.get("decision")
    if kind not in tuple(Decision):
        raise PreviewError(f"{field}.decision: unknown decision {_shown(kind)}")
    note = item.get("note", "")
    if not isinstance(note, str):
        raise PreviewError(f"{field}.note: {_shown(note)} is not text")
    when = _date(item.get("date"), f"{field}.date")
    if kind != Decision.RECHECK:
        if extra := sorted({"exam", "due"} & set(item)):
            raise PreviewError(f"{field}.{extra[0]}: only a recheck names an exam")
        return DecisionRecord(when, Decision(kind), note)
    code = item.get("exam")
    if not isinstance(code, str) or code not in given.protocol.exams:
        raise PreviewError(f"{field}.exam: unknown exam code {_shown(code)}")
    due = _date(item.get("due"), f"{field}.due")
    return DecisionRecord(when, Decision.RECHECK, note, code, due)


def _object(
    item, field: str, keys: set[str], optional: frozenset[str] | set[str] = frozenset()
) -> None:
    if not isinstance(item, dict):
        raise PreviewError(f"{field}: {_shown(item)} is not an object")
    if missing := sorted(keys - set(item)):
        raise PreviewError(f"{field}.{missing[0]}: missing")
    if unknown := sorted(set(item) - keys - optional):
        raise PreviewError(f"{field}.{unknown[0]}: unknown field")


def _shown(value) -> str:
    """A value as the user wrote it: JSON (null, "text"), not Python (None, 'text')."""
    return json.dumps(value, ensure_ascii=False)


def _date(value, field: str) -> date:
    try:
        if isinstance(value, str) and ISO_DATE.fullmatch(value):
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise PreviewError(f"{field}: {_shown(value)} is not a valid date (YYYY-MM-DD)")
