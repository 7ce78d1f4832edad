"""The tables, as typed SQLAlchemy 2 models. Thin: columns, relations, small derived facts."""

from __future__ import annotations

from datetime import date, datetime, time, timezone

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from ..clock import utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

PATIENT_STATUSES = ("active", "completed", "not_candidate", "deceased", "moved", "transplanted")
EXAM_STATES = ("open", "booked", "done", "missed", "cancelled")
ROLES = ("nurse", "admin")

# The worklist's partial indexes and queries share this literal condition: with bound
# parameters instead (column.in_([...])) SQLite would not use the partial index.
OPEN_EXAM = sa.text("state IN ('open', 'booked')")


class UTCDateTime(sa.TypeDecorator):
    """A timestamp stored in UTC and always read back time-zone aware (SQLite forgets)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime: store UTC timestamps only")
        return value.astimezone(timezone.utc) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime}


def _choice(name: str, values: tuple[str, ...]) -> sa.CheckConstraint:
    listed = ", ".join(f"'{v}'" for v in values)
    return sa.CheckConstraint(f"{name} IN ({listed})", name=name)


user_clinics = sa.Table(
    "user_clinics",
    Base.metadata,
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("clinic_id", sa.ForeignKey("clinics.id", ondelete="CASCADE"), primary_key=True),
)


class Clinic(Base):
    __tablename__ = "clinics"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (_choice("role", ROLES),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.String(16))
    active: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    clinics: Mapped[list[Clinic]] = relationship(secondary=user_clinics)


class Patient(Base):
    __tablename__ = "patients"
    __table_args__ = (_choice("status", PATIENT_STATUSES),)

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(sa.ForeignKey("clinics.id"), index=True)
    # The number behind the local reference ("P-0042"): shown where a name must not be.
    local_number: Mapped[int] = mapped_column(unique=True)
    national_id: Mapped[str] = mapped_column(sa.String(11), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    birth_date: Mapped[date]
    protocol: Mapped[str] = mapped_column(sa.String(32))
    status: Mapped[str] = mapped_column(sa.String(16), default="active")
    status_reason: Mapped[str | None] = mapped_column(sa.Text)
    mdt_review: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    mdt_reason: Mapped[str | None] = mapped_column(sa.Text)
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    clinic: Mapped[Clinic] = relationship()
    treatments: Mapped[list[LiverTreatment]] = relationship(
        back_populates="patient", order_by="LiverTreatment.date"
    )
    primary_controls: Mapped[list[PrimaryControl]] = relationship(
        back_populates="patient", order_by="PrimaryControl.date"
    )
    exams: Mapped[list[PlannedExam]] = relationship(
        back_populates="patient", order_by="(PlannedExam.due, PlannedExam.code)",
        foreign_keys="PlannedExam.patient_id",
    )

    __mapper_args__ = {"version_id_col": version}


class LiverTreatment(Base):
    __tablename__ = "liver_treatments"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patients.id"), index=True)
    date: Mapped[date]
    kind: Mapped[str] = mapped_column(sa.String(32))
    note: Mapped[str | None] = mapped_column(sa.Text)
    # Deleting a treatment only voids it: exams planned from it keep their anchor.
    voided_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    patient: Mapped[Patient] = relationship(back_populates="treatments")


class PrimaryControl(Base):
    __tablename__ = "primary_controls"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patients.id"), index=True)
    date: Mapped[date]
    exams: Mapped[str] = mapped_column(sa.String(200))  # space-separated exam codes
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    patient: Mapped[Patient] = relationship(back_populates="primary_controls")

    @property
    def exam_codes(self) -> frozenset[str]:
        """The exam codes done at this control."""
        return frozenset(self.exams.split())


class PlannedExam(Base):
    __tablename__ = "planned_exams"
    __table_args__ = (
        _choice("state", EXAM_STATES),
        # The stable identity of design.md: one exam per anchor, code and month.
        sa.UniqueConstraint("patient_id", "anchor_treatment_id", "code", "month",
                            name="uq_planned_exams_identity"),
        sa.Index("ix_planned_exams_open_due", "clinic_id", "due",
                 sqlite_where=OPEN_EXAM, postgresql_where=OPEN_EXAM),
        sa.Index("ix_planned_exams_booking_to_cancel", "clinic_id",
                 sqlite_where=sa.text("booking_to_cancel"),
                 postgresql_where=sa.text("booking_to_cancel")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(sa.String(36), unique=True)
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patients.id"), index=True)
    # Copied from the patient so the worklist reads one index per clinic.
    clinic_id: Mapped[int] = mapped_column(sa.ForeignKey("clinics.id"))
    anchor_treatment_id: Mapped[int] = mapped_column(sa.ForeignKey("liver_treatments.id"))
    code: Mapped[str] = mapped_column(sa.String(16))
    month: Mapped[int]
    due: Mapped[date]
    due_working_day: Mapped[date]
    state: Mapped[str] = mapped_column(sa.String(16), default="open")
    booked_date: Mapped[date | None]
    booked_time: Mapped[time | None]
    booked_place: Mapped[str | None] = mapped_column(sa.String(200))
    done_date: Mapped[date | None]
    result: Mapped[str | None] = mapped_column(sa.String(16))  # normal / suspicious (CT)
    result_value: Mapped[float | None]  # CEA, µg/L
    missed_reason: Mapped[str | None] = mapped_column(sa.Text)
    cancel_reason: Mapped[str | None] = mapped_column(sa.String(32))
    # A booked exam cancelled by a re-plan: the appointment must be cancelled by hand.
    booking_to_cancel: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    coordinated_with_id: Mapped[int | None] = mapped_column(sa.ForeignKey("primary_controls.id"))
    coordinated_date: Mapped[date | None]
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    # Bumped on every change a calendar would show (RFC 5545 SEQUENCE).
    sequence: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    patient: Mapped[Patient] = relationship(back_populates="exams", foreign_keys=[patient_id])
    anchor_treatment: Mapped[LiverTreatment] = relationship()
    coordinated_with: Mapped[PrimaryControl | None] = relationship()

    __mapper_args__ = {"version_id_col": version}


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    actor: Mapped[str] = mapped_column(sa.String(254))
    action: Mapped[str] = mapped_column(sa.String(64))
    patient_id: Mapped[int | None] = mapped_column(sa.ForeignKey("patients.id"), index=True)
    details: Mapped[dict] = mapped_column(sa.JSON, default=dict)
