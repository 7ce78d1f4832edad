"""The stored state held to `surveillance preview` of the same facts, read from the database."""

from __future__ import annotations

import json
from datetime import date, timedelta

from surveillance.db.models import Patient
from surveillance.preview import preview
from surveillance.protocol import load_protocol
from surveillance.services import worklist
from surveillance.services.plans import OWN_CANCEL, exam_record

# An exam loaded as done before the import has no result (the file gives none); preview
# needs one, so it is given one that raises nothing: a normal reading, an unchanging value.
NO_FINDING = {"reading": "normal", "value": 1.0}


def facts(patient: Patient, today: date) -> dict:
    """The patient's facts as preview's input, read from the database."""
    records = []
    for exam in patient.exams:
        record = exam_record(exam)
        if record is None:
            continue
        item: dict = {"exam": record.code, "due": record.due.isoformat()}
        if record.booked:
            item["booked"] = record.booked.isoformat()
        if record.done:
            item["done"] = record.done.isoformat()
            item.update(_result(patient, record.code, record.result))
        if record.missed:
            item["missed"] = min(record.missed, today).isoformat()
        if record.cancelled:
            item["cancelled"] = min(record.cancelled, today).isoformat()
            item["reason"] = record.reason or "-"
        records.append(item)
    return {
        "protocol": load_protocol(patient.protocol).code,
        "today": today.isoformat(),
        "candidate": True,
        "treatments": [
            {"date": t.date.isoformat(), "kind": t.kind}
            for t in patient.treatments
            if t.voided_at is None
        ],
        "primary_followups": [
            {
                "date": c.date.isoformat(),
                "exams": c.exams.split(),
                "done": c.done,
                "results": dict(c.results or {}),
            }
            for c in patient.primary_controls
        ],
        "records": records,
        "measurements": [
            {"date": m.date.isoformat(), "cea": m.value}
            for m in patient.measurements
            if m.withdrawn_at is None
        ],
        "decisions": [
            {"date": d.date.isoformat(), "decision": d.decision}
            | ({"exam": d.exam, "due": d.due.isoformat()} if d.decision == "recheck" else {})
            for d in patient.decisions
            if d.withdrawn_at is None
        ],
    }


def stored_plan(patient: Patient) -> list[tuple[str, str, str]]:
    """The stored exams as (code, due, state), automatic cancellations left out."""
    rows = [
        (e.code, e.due.isoformat(), e.state)
        for e in patient.exams
        if not (e.state == "cancelled" and e.cancel_reason != OWN_CANCEL)
    ]
    return sorted(rows, key=lambda r: (r[1], r[0]))


def listed(session, ctx, patient: Patient) -> dict[tuple[str, str], str]:
    """(code, due) -> worklist category, for the patient's exams on the worklist."""
    page = worklist(session, ctx, [patient.clinic_id], page_size=1000)
    found = {}
    for item in page.items:
        if item.patient_id == patient.id:
            for code in item.codes:
                found[(code, item.due.isoformat())] = item.category
    return found


def check(session, ctx, patient: Patient) -> None:
    """The stored answer equals preview's for the same facts."""
    session.expire_all()
    patient = session.get(Patient, patient.id)
    answer = preview(json.dumps(facts(patient, ctx.today)), ctx.settings)
    expected_status = answer["status_reason"] if answer["status"] == "ended" else answer["status"]
    assert patient.status == (expected_status or "active")
    flags = answer["flags"]
    assert patient.mdt_review == any(f["flag"] == "mdt_review" for f in flags)
    assert patient.lost_to_follow_up == any(f["flag"] == "lost_to_follow_up" for f in flags)
    stored = stored_plan(patient)
    planned = [(e["kind"], e["due"], e["state"]) for e in answer["exams"]]
    # Every exam of the plan is stored in the state preview gives it...
    assert [row for row in planned if row not in stored] == []
    # ...and no exam waits for a booking or a result outside the plan (history stays as is).
    live = {"open", "booked", "missed"}
    assert [row for row in stored if row[2] in live and row not in planned] == []
    horizon = ctx.today + timedelta(days=ctx.settings.book_ahead_days)
    expected = {
        (e["kind"], e["due"]): e["list"]
        for e in answer["exams"]
        if e["list"] not in (None, "upcoming")
        # Upcoming controls wait beyond the horizon; on hold and booked ones are listed
        # whatever their due date (R10, R13).
        and (
            date.fromisoformat(e["due"]) <= horizon
            or e["list"] == "on_hold"
            or e["state"] == "booked"
        )
    }
    assert listed(session, ctx, patient) == expected


def _result(patient: Patient, code: str, result) -> dict:
    """A done record's result as preview reads it; one that raises nothing if none was given."""
    if result is None:
        kind = load_protocol(patient.protocol).exams[code].result.value
        return {kind: NO_FINDING[kind]}
    return {"reading" if isinstance(result, str) else "value": result}
