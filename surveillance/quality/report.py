"""The report of one clinic: its exams read in one query, the CSV and the chart's bars."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from ..db.models import MdtDecision, Patient, PlannedExam
from ..protocol import Flag, Settings, decision_waits, evaluate, load_protocol
from ..services.plans import patient_history
from .figures import ExamRow, Quarter, quarters

CSV_COLUMNS = (
    "quarter",
    "controls",
    "done_within_window",
    "share_within_window",
    "median_delay_days",
    "exams_overdue",
    "mdt_flags",
    "completed_programmes",
    "lost_to_follow_up",
    "mdt_decisions",
    "median_days_to_decision",
)
WIDTH, HEIGHT, PAD = 640, 220, 32


def clinic_report(
    session: Session, clinic_id: int, today: date, settings: Settings
) -> list[Quarter]:
    """The clinic's figures per quarter, from its exams' columns (no name, no number)."""
    e = PlannedExam
    rows = [
        ExamRow(*row)
        for row in session.execute(
            sa.select(
                e.patient_id, e.anchor_treatment_id, e.code, e.due, e.state, e.done_date,
                e.result, e.result_value,
            ).where(e.clinic_id == clinic_id)
        )
    ]  # fmt: skip
    completed = set(
        session.scalars(
            sa.select(Patient.id).where(
                Patient.clinic_id == clinic_id, Patient.status == "completed"
            )
        )
    )
    lost, waits = _engine_figures(session, clinic_id, today, settings)
    return quarters(rows, completed, today, settings, lost, waits)


def _engine_figures(
    session: Session, clinic_id: int, today: date, settings: Settings
) -> tuple[list[date], list[tuple[date, date]]]:
    """The dates of the lost-to-follow-up flags and the decisions' waits, as the engine reads
    them, of the few patients either concerns (flagged lost, or with a decision)."""
    lost: list[date] = []
    waits: list[tuple[date, date]] = []
    for patient in _reviewed_or_lost(session, clinic_id):
        protocol, history = load_protocol(patient.protocol), patient_history(patient)
        if patient.lost_to_follow_up:
            flags = evaluate(protocol, history, today, settings).flags
            lost += [f.date for f in flags if f.flag == Flag.LOST_TO_FOLLOW_UP and f.date]
        waits += [w for w in decision_waits(protocol, history, settings) if w[0] <= today]
    return lost, waits


def _reviewed_or_lost(session: Session, clinic_id: int) -> list[Patient]:
    decided = sa.select(MdtDecision.patient_id).where(MdtDecision.withdrawn_at.is_(None))
    return list(
        session.scalars(
            sa.select(Patient)
            .where(
                Patient.clinic_id == clinic_id,
                sa.or_(Patient.lost_to_follow_up, Patient.id.in_(decided)),
            )
            .options(
                selectinload(Patient.treatments),
                selectinload(Patient.primary_controls),
                selectinload(Patient.exams),
                selectinload(Patient.measurements),
                selectinload(Patient.decisions),
            )
        )
    )


def report_csv(figures: list[Quarter]) -> str:
    """One line per quarter, the share as a fraction and the delay in days."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for q in figures:
        writer.writerow(
            (
                q.label,
                q.controls,
                q.in_window,
                "" if q.share is None else f"{q.share:.3f}",
                "" if q.median_delay is None else f"{q.median_delay:g}",
                q.overdue,
                q.mdt_flags,
                q.completed,
                q.lost,
                q.decisions,
                "" if q.median_decision_days is None else f"{q.median_decision_days:g}",
            )
        )
    return out.getvalue()


@dataclass(frozen=True, slots=True)
class Bar:
    """One quarter's bar: the share within the window, 0-100 %."""

    x: float
    y: float
    width: float
    height: float
    label: str
    percent: int | None

    @property
    def axis_label(self) -> str:
        """The year under each first quarter (every quarter's label would overlap)."""
        return self.label[:4] if self.label.endswith("Q1") else ""


def share_bars(figures: list[Quarter]) -> list[Bar]:
    """The bars of the chart of shares within the window, one per quarter."""
    if not figures:
        return []
    slot = (WIDTH - 2 * PAD) / len(figures)
    bars = []
    for i, q in enumerate(figures):
        percent = None if q.share is None else round(q.share * 100)
        height = (HEIGHT - 2 * PAD) * (percent or 0) / 100
        bars.append(
            Bar(
                PAD + i * slot + slot * 0.15,
                HEIGHT - PAD - height,
                slot * 0.7,
                height,
                q.label,
                percent,
            )
        )
    return bars
