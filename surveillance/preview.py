"""`surveillance preview`: one patient's history as JSON in, the plan as JSON out."""

from __future__ import annotations

import json
import re
from datetime import date

from .protocol import (
    DEFAULT_PROTOCOL,
    History,
    Plan,
    PrimaryControl,
    Protocol,
    Settings,
    Treatment,
    find_anchor,
    load_protocol,
    make_plan,
)
from .protocol.vocabulary import PRIMARY_EXAMS, TREATMENT_KINDS

KEYS = {"candidate", "treatments", "primary_followups", "protocol"}
JSON_TYPES = {
    list: "an array",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "true or false",
    type(None): "null",
}
# Only YYYY-MM-DD: date.fromisoformat alone would also take week dates such as 2025-W03-1.
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


class PreviewError(ValueError):
    """Bad preview input; the message names the field and the value."""


def preview(text: str, settings: Settings = Settings(), default: str = DEFAULT_PROTOCOL) -> dict:
    """The plan for the JSON history in `text`, as the JSON-ready dict of protocol.md."""
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
    if unknown := sorted(set(data) - KEYS):
        raise PreviewError(f"{unknown[0]}: unknown field")
    code = data.get("protocol", default)
    try:
        protocol = load_protocol(code) if isinstance(code, str) else load_protocol(repr(code))
    except ValueError:
        raise PreviewError(f"protocol: unknown protocol {_shown(code)}") from None
    candidate = data.get("candidate", True)
    if not isinstance(candidate, bool):
        raise PreviewError(f"candidate: {_shown(candidate)} is not true or false")
    history = History(
        treatments=tuple(_treatment(t, i) for i, t in enumerate(_list(data, "treatments"))),
        primary_controls=tuple(
            _control(c, i) for i, c in enumerate(_list(data, "primary_followups"))
        ),
        candidate=candidate,
    )
    return plan_json(_plan(protocol, history, settings))


def _plan(protocol: Protocol, history: History, settings: Settings) -> Plan:
    try:
        return make_plan(protocol, history, settings)
    except (ValueError, OverflowError):
        # Only an anchor near the year 9999 gets here: its plan runs off the calendar.
        anchor = find_anchor(protocol, history.treatments)
        assert anchor is not None  # a plan was being made, so there is an anchor
        field = f"treatments[{history.treatments.index(anchor)}].date"
        raise PreviewError(
            f"{field}: {_shown(anchor.date.isoformat())} is too late to plan"
        ) from None


def plan_json(plan: Plan) -> dict:
    """A plan in the shape of protocol.md's preview output."""
    anchor = plan.anchor
    return {
        "protocol": plan.protocol,
        "anchor": {"date": anchor.date.isoformat(), "kind": anchor.kind} if anchor else None,
        "exams": [
            {
                "kind": e.code,
                "month": e.month,
                "due": e.due.isoformat(),
                "due_working_day": e.due_working_day.isoformat(),
                "coordinated_with": e.coordinated_with.date.isoformat()
                if e.coordinated_with
                else None,
            }
            for e in plan.exams
        ],
    }


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


def _control(item, i: int) -> PrimaryControl:
    field = f"primary_followups[{i}]"
    _object(item, field, {"date", "exams"})
    exams = item.get("exams")
    if not isinstance(exams, list) or not exams:
        raise PreviewError(f"{field}.exams: {_shown(exams)} is not a list of exam codes")
    for code in exams:
        if not isinstance(code, str) or code not in PRIMARY_EXAMS:
            raise PreviewError(f"{field}.exams: unknown exam code {_shown(code)}")
    return PrimaryControl(_date(item.get("date"), f"{field}.date"), frozenset(exams))


def _object(item, field: str, keys: set[str]) -> None:
    if not isinstance(item, dict):
        raise PreviewError(f"{field}: {_shown(item)} is not an object")
    if missing := sorted(keys - set(item)):
        raise PreviewError(f"{field}.{missing[0]}: missing")
    if unknown := sorted(set(item) - keys):
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
