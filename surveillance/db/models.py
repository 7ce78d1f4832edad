"""The tables, as typed SQLAlchemy 2 models. Thin: columns, relations, small derived facts."""

from __future__ import annotations

import datetime as dt
from datetime import UTC, date, datetime, time

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates

from ..clock import utcnow
from .choices import DigestState, FeedKind, Role

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

PATIENT_STATUSES = (
    "active",
    "on_hold",
    "completed",
    "not_candidate",
    "deceased",
    "moved",
    "declined",
    "transplanted",
)
DECISIONS = ("no_recurrence", "recheck", "treatment_planned", "resume", "not_candidate")
EXAM_STATES = ("open", "booked", "done", "missed", "cancelled")
# A clinic administrator ("admin") manages their clinics; an installation administrator
# (made from the command line) manages clinics and every account.
ROLES = tuple(Role)
ADMIN_ROLES = (Role.ADMIN, Role.INSTALL_ADMIN)

# The worklist's partial indexes and queries share this literal condition: with bound
# parameters instead (column.in_([...])) SQLite would not use the partial index.
# A missed exam stays on the worklist until it is rebooked, done or cancelled.
OPEN_EXAM = sa.text("state IN ('open', 'booked', 'missed')")
# The condition of the search's partial index of names (a query repeats it word for word).
NAMED = sa.text("name_key <> ''")
# A string column compared by bytes (code points) on PostgreSQL too, whatever the locale:
# SQLite's default (BINARY) already is.
NAME_ORDER = sa.String(200).with_variant(sa.String(200, collation="C"), "postgresql")


class UTCDateTime(sa.TypeDecorator):
    """A timestamp stored in UTC and always read back time-zone aware (SQLite forgets)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime: store UTC timestamps only")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
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
    # The daily digest: addresses that get it (comma-separated), and whether it may name
    # patients by local reference (off: an e-mail is not a safe channel for health data).
    digest_recipients: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    digest_include_references: Mapped[bool] = mapped_column(
        default=False, server_default=sa.false()
    )
    # Calendar feeds may show names, exam names and places (off: a reference and a link).
    feed_include_details: Mapped[bool] = mapped_column(default=False, server_default=sa.false())


class User(Base):
    __tablename__ = "users"
    __table_args__ = (_choice("role", ROLES),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.String(16))
    active: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    # Gets the daily digest of each of the user's clinics.
    digest_opt_in: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    clinics: Mapped[list[Clinic]] = relationship(secondary=user_clinics)
    version: Mapped[int] = mapped_column(default=1, server_default="1")

    __mapper_args__ = {"version_id_col": version}


class Patient(Base):
    __tablename__ = "patients"
    __table_args__ = (
        _choice("status", PATIENT_STATUSES),
        # The MDT list: few rows flagged among many.
        sa.Index(
            "ix_patients_mdt_review",
            "clinic_id",
            "local_number",  # the list's order
            sqlite_where=sa.text("mdt_review"),
            postgresql_where=sa.text("mdt_review"),
        ),
        # R14's list: as few, counted beside the worklist.
        sa.Index(
            "ix_patients_lost_to_follow_up",
            "clinic_id",
            "local_number",  # the list's order
            sqlite_where=sa.text("lost_to_follow_up"),
            postgresql_where=sa.text("lost_to_follow_up"),
        ),
        # A feed's ETag: the latest change of a clinic's patients (their lists, their names)
        # is the index's last entry, not a read of every patient.
        sa.Index("ix_patients_clinic_updated", "clinic_id", "updated_at"),
        # The search's walk when its text is common (issue 10): a clinic's patients in the
        # results' order, the name key and id beside each, so the first page is read from the
        # index alone (PostgreSQL's indexes hold no id unless named; SQLite's hold the rowid).
        # Partial, so that only a query repeating its condition may use it: other queries of
        # a clinic's patients keep their own indexes (the planners took this one for them).
        sa.Index(
            "ix_patients_clinic_name",
            "clinic_id",
            "name",
            "local_number",
            "name_key",
            "id",
            sqlite_where=NAMED,
            postgresql_where=NAMED,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(sa.ForeignKey("clinics.id"), index=True)
    # The number behind the local reference ("P-0042"): shown where a name must not be.
    local_number: Mapped[int] = mapped_column(unique=True)
    national_id: Mapped[str] = mapped_column(sa.String(11), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    # The name case-folded, for search: SQLite's lower() knows no Æ, Ø or Å.
    name_key: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    birth_date: Mapped[date]
    protocol: Mapped[str] = mapped_column(sa.String(32))
    status: Mapped[str] = mapped_column(sa.String(16), default="active")
    status_reason: Mapped[str | None] = mapped_column(sa.Text)
    mdt_review: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    mdt_reason: Mapped[str | None] = mapped_column(sa.Text)
    # The day of the newest MDT flag: the MDT list shows the newest first.
    mdt_flagged_on: Mapped[date | None]
    # Contact details, as private as the name: never in URLs, logs, digests or feeds.
    phone: Mapped[str | None] = mapped_column(sa.String(16))
    gp: Mapped[str | None] = mapped_column(sa.String(200))  # the GP (fastlege)
    # R13: the last day of a "treatment planned" hold; R14: the engine's flag, as stored.
    hold_until: Mapped[date | None]
    lost_to_follow_up: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
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
        back_populates="patient",
        order_by="(PlannedExam.due, PlannedExam.code)",
        foreign_keys="PlannedExam.patient_id",
    )
    notes: Mapped[list[PatientNote]] = relationship(order_by="PatientNote.created_at")
    decisions: Mapped[list[MdtDecision]] = relationship(
        back_populates="patient", order_by="(MdtDecision.date, MdtDecision.id)"
    )
    measurements: Mapped[list[Measurement]] = relationship(
        back_populates="patient", order_by="(Measurement.date, Measurement.id)"
    )

    __mapper_args__ = {"version_id_col": version}

    @validates("name")
    def _keep_name_key(self, _key: str, name: str) -> str:
        self.name_key = name.casefold()
        return name


def name_suffixes(name_key: str) -> list[str]:
    """Every suffix of a name key: a text is in the name if and only if one begins with it."""
    return [name_key[start:] for start in range(len(name_key))]


class PatientNameSuffix(Base):
    """One row per suffix of a patient's name key (issue 10): a search for a part of a name
    is one index range of suffixes beginning with it, not a scan of the clinic's patients.

    Kept in step by the services that write names (register, bulk load, correct_name), in
    the same transaction. Compared by bytes (code points) on both databases, so that the
    strings beginning with a text are exactly one range.
    """

    __tablename__ = "patient_name_suffixes"
    # SQLite: the rows are the primary key's index itself (no second copy with a rowid).
    __table_args__ = {"sqlite_with_rowid": False}

    clinic_id: Mapped[int] = mapped_column(primary_key=True)
    suffix: Mapped[str] = mapped_column(NAME_ORDER, primary_key=True)
    # The results' order, copied from the patient: the first page of a range is sorted from
    # the index alone, without reading a patient per match (an index-only scan).
    name: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    local_number: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        sa.ForeignKey("patients.id"), primary_key=True, index=True
    )


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
    # R8 v2: planned until recorded done; once done, results by code (reading or value).
    done: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    results: Mapped[dict] = mapped_column(sa.JSON, default=dict, server_default="{}")
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
        sa.UniqueConstraint(
            "patient_id", "anchor_treatment_id", "code", "month", name="uq_planned_exams_identity"
        ),
        # Covering: the worklist reads every column it needs from the index alone.
        sa.Index(
            "ix_planned_exams_open_due",
            "clinic_id",
            "due",
            "patient_id",
            "state",
            "booked_date",
            "due_working_day",
            "code",
            "coordinated_with_id",
            sqlite_where=OPEN_EXAM,
            postgresql_where=OPEN_EXAM,
        ),
        sa.Index(
            "ix_planned_exams_booking_to_cancel",
            "clinic_id",
            "booked_date",  # the list's order: a page without sorting every booking
            sqlite_where=sa.text("booking_to_cancel"),
            postgresql_where=sa.text("booking_to_cancel"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(sa.String(36), unique=True)
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patients.id"), index=True)
    # Copied from the patient so the worklist reads one index per clinic.
    clinic_id: Mapped[int] = mapped_column(sa.ForeignKey("clinics.id"))
    anchor_treatment_id: Mapped[int] = mapped_column(sa.ForeignKey("liver_treatments.id"))
    code: Mapped[str] = mapped_column(sa.String(16))
    month: Mapped[int | None]  # None: an extra exam (R9, R13), known by code and due date
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
    contact_attempt: Mapped[str | None] = mapped_column(sa.Text)
    cancel_note: Mapped[str | None] = mapped_column(sa.Text)  # why the clinic cancelled it
    cancel_reason: Mapped[str | None] = mapped_column(sa.String(32))
    # A booked exam cancelled by a re-plan: the appointment must be cancelled by hand.
    booking_to_cancel: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    coordinated_with_id: Mapped[int | None] = mapped_column(sa.ForeignKey("primary_controls.id"))
    coordinated_date: Mapped[date | None]
    # R8 v2: the partner is recorded done (without this exam's result: results missing).
    coordinated_done: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # Done because the coordinated primary control recorded its result, not by its own record.
    result_from_control: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    # Bumped on every change a calendar would show (RFC 5545 SEQUENCE).
    sequence: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    patient: Mapped[Patient] = relationship(back_populates="exams", foreign_keys=[patient_id])
    anchor_treatment: Mapped[LiverTreatment] = relationship()
    coordinated_with: Mapped[PrimaryControl | None] = relationship()

    __mapper_args__ = {"version_id_col": version}


CONTROL_STAGES = ("open", "booked", "coordinated")
# The literal conditions of the controls' partial indexes: a list query repeats them word for
# word, or SQLite would not use the index (design.md's traps).
CONTROL_TO_BOOK = sa.text("stage = 'open'")
CONTROL_WAITING = sa.text("stage IN ('booked', 'coordinated')")
CONTROL_HELD = sa.text("hold_until IS NOT NULL")
# The columns a nurse may sort the control lists by besides the due date (issue 12), each
# walked in an index per list index below: (clinic, key, due, id), then the columns the
# lists' conditions name, so that a page is read from the index without a sort.
CONTROL_SORT_KEYS = ("local_number", "name_order", "birth_date", "booked_date")
CONTROL_SORT_INDEXES = {  # the list index's name: its partial condition, its columns
    "due": (None, ("hold_until",)),
    "to_book": (CONTROL_TO_BOOK, ("hold_until", "stage")),
    "waiting": (CONTROL_WAITING, ("stage", "results_on", "hold_until")),
    "held": (CONTROL_HELD, ("hold_until",)),
}
# Names in Norwegian order (... x y z æ ø å) by their bytes, whatever the database's locale.
NORWEGIAN_LETTERS = str.maketrans("æøå", "{|}")


def name_order(name: str) -> str:
    """A name's sort key: case-folded, Æ Ø Å after Z as the Norwegian alphabet has them."""
    return name.casefold().translate(NORWEGIAN_LETTERS)


def _control_sort_indexes() -> list[sa.Index]:
    return [
        sa.Index(
            f"ix_controls_{flavour}_by_{key}",
            "clinic_id",
            key,
            "due",
            "id",
            *(c for c in columns if c != key),
            sqlite_where=where,
            postgresql_where=where,
        )
        for flavour, (where, columns) in CONTROL_SORT_INDEXES.items()
        for key in CONTROL_SORT_KEYS
    ]


class Control(Base):
    """An open control: one patient's open exams due the same day in one stage (R10).

    Derived from the planned exams whenever the services store the engine's answer, and
    holding the dates its list changes on, so that each list is one indexed range.
    """

    __tablename__ = "controls"
    __table_args__ = (
        _choice("stage", CONTROL_STAGES),
        # Booked (or coordinated) exams of one due date whose results are missing from
        # different days are apart (R10 lists each exam); NULLs are distinct, so open
        # controls are held unique by control_rows alone.
        sa.UniqueConstraint(
            "patient_id", "due", "stage", "results_on", name="uq_controls_patient_due_stage_results"
        ),
        # Overdue, across stages: due before today - overdue_after_days.
        sa.Index("ix_controls_due", "clinic_id", "due", "local_number", "hold_until"),
        sa.Index(
            "ix_controls_to_book",
            "clinic_id",
            "due",
            "local_number",
            "hold_until",
            # Not read, but SQLite covers a query with the index only if it holds every
            # column the query names, the partial condition's too (else a row read each).
            "stage",
            sqlite_where=CONTROL_TO_BOOK,
            postgresql_where=CONTROL_TO_BOOK,
        ),
        sa.Index(
            "ix_controls_waiting",
            "clinic_id",
            "due",
            "local_number",
            "stage",
            "results_on",
            "hold_until",
            sqlite_where=CONTROL_WAITING,
            postgresql_where=CONTROL_WAITING,
        ),
        sa.Index(
            "ix_controls_held",
            "clinic_id",
            "due",
            "local_number",
            "hold_until",
            sqlite_where=CONTROL_HELD,
            postgresql_where=CONTROL_HELD,
        ),
        *_control_sort_indexes(),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(sa.ForeignKey("clinics.id"))
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patients.id"), index=True)
    # Copied from the patient: the lists sort by it, within the index.
    local_number: Mapped[int]
    # Copied from the patient too (kept current when the name is corrected): sort keys.
    name_order: Mapped[str] = mapped_column(NAME_ORDER, default="", server_default="")
    birth_date: Mapped[date | None]
    due: Mapped[date]
    due_working_day: Mapped[date]
    # open (to book, or missed), booked, or coordinated with a primary control (R8).
    stage: Mapped[str] = mapped_column(sa.String(16))
    codes: Mapped[str] = mapped_column(sa.String(200))  # space-separated, sorted
    booked_date: Mapped[date | None]
    # Booked or coordinated: the day results are missing from (the partner done: 0001-01-01).
    results_on: Mapped[date | None]
    # R13: the patient's hold, on the controls it holds (not on booked ones).
    hold_until: Mapped[date | None]
    # An exam of it was missed: the list marks it so, not as a booking.
    missed: Mapped[bool] = mapped_column(default=False, server_default=sa.false())


# The tables whose rows the worklist's counts are made of: a write to any of them gives the
# clinic's row of list_stamps a stamp never used before (triggers of migration 0018). So
# does a write to mdt_decisions, whose notes the kept worklist page shows: its patient's
# clinic's (migration 0020).
LIST_TABLES = ("controls", "patients", "planned_exams")


class ListStamp(Base):
    """A clinic's list data, stamped: a new stamp on every write to its LIST_TABLES rows.

    Written by database triggers only (every writer: the services, a bulk load, raw SQL),
    so that the dashboard may keep each clinic's list counts for as long as its stamp holds.
    A stamp is a token, not a counter: PostgreSQL's writing transaction id (a transaction
    stamps once), SQLite's random(); a clinic never written since 0018 has no row.
    """

    __tablename__ = "list_stamps"

    clinic_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    stamp: Mapped[int] = mapped_column(sa.BigInteger)


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    actor: Mapped[str] = mapped_column(sa.String(254))
    action: Mapped[str] = mapped_column(sa.String(64))
    patient_id: Mapped[int | None] = mapped_column(sa.ForeignKey("patients.id"), index=True)
    details: Mapped[dict] = mapped_column(sa.JSON, default=dict)


DIGEST_STATES = tuple(DigestState)


class Digest(Base):
    """The outbox: one daily digest per clinic and day, whose Message-ID is its key."""

    __tablename__ = "digests"
    __table_args__ = (
        _choice("state", DIGEST_STATES),
        sa.UniqueConstraint("clinic_id", "day", name="uq_digests_clinic_day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(sa.ForeignKey("clinics.id"))
    day: Mapped[date]  # the clinic's date (Europe/Oslo) the digest is for
    message_id: Mapped[str] = mapped_column(sa.String(254), unique=True)
    # skipped: nothing to say that day; the counts are kept for the next day's change.
    state: Mapped[str] = mapped_column(sa.String(16), default=DigestState.PENDING)
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None]
    # Set when a sender takes the row, before it talks to the server: a pending row with
    # an attempt and no sent_at may have been delivered before a crash.
    claimed_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    counts: Mapped[dict] = mapped_column(sa.JSON)
    # Local references per list, only for clinics that opted in.
    local_references: Mapped[dict | None] = mapped_column(sa.JSON)
    recipients: Mapped[str | None] = mapped_column(sa.Text)  # as last sent
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]

    clinic: Mapped[Clinic] = relationship()


class UserSession(Base):
    """A login on the server side: logout and a disabled account end it, whatever the cookie says."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]


class LoginThrottle(Base):
    """Failed logins counted per account and per address ("account:x", "address:y")."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(sa.String(300), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PatientNote(Base):
    """A nurse's free-text note on a patient."""

    __tablename__ = "patient_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patients.id"), index=True)
    author: Mapped[str] = mapped_column(sa.String(254))
    text: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MdtDecision(Base):
    """An MDT decision (R13); withdrawn by a correction (R12), never deleted."""

    __tablename__ = "mdt_decisions"
    __table_args__ = (_choice("decision", DECISIONS),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patients.id"), index=True)
    date: Mapped[date]
    decision: Mapped[str] = mapped_column(sa.String(32))
    note: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    exam: Mapped[str | None] = mapped_column(sa.String(32))  # a recheck's exam code
    due: Mapped[dt.date | None]  # and its due date (`date` is the column above)
    author: Mapped[str] = mapped_column(sa.String(254))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    withdrawn_at: Mapped[datetime | None]
    withdrawn_reason: Mapped[str | None] = mapped_column(sa.Text)

    patient: Mapped[Patient] = relationship(back_populates="decisions")


class Measurement(Base):
    """A value measured outside any control (an extra CEA), counted by R9."""

    __tablename__ = "measurements"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patients.id"), index=True)
    date: Mapped[date]
    code: Mapped[str] = mapped_column(sa.String(32))
    value: Mapped[float]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    withdrawn_at: Mapped[datetime | None]
    withdrawn_reason: Mapped[str | None] = mapped_column(sa.Text)

    patient: Mapped[Patient] = relationship(back_populates="measurements")


FEED_KINDS = tuple(FeedKind)


class CalendarFeed(Base):
    """An iCal subscription to a clinic's controls or a user's (their clinics'), by secret token."""

    __tablename__ = "calendar_feeds"
    __table_args__ = (
        _choice("kind", FEED_KINDS),
        sa.CheckConstraint(
            "(kind = 'clinic' AND clinic_id IS NOT NULL AND user_id IS NULL)"
            " OR (kind = 'user' AND user_id IS NOT NULL AND clinic_id IS NULL)",
            name="owner",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # SHA-256 of the token (hex): the token itself is shown once and never stored.
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(8))
    clinic_id: Mapped[int | None] = mapped_column(sa.ForeignKey("clinics.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    label: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    created_by: Mapped[str] = mapped_column(sa.String(254))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    # The ETag last served and when it changed: an exact Last-Modified, even when a
    # control leaves the feed (a max(updated_at) would not move then).
    etag: Mapped[str | None] = mapped_column(sa.String(64))
    modified_at: Mapped[datetime | None]

    clinic: Mapped[Clinic | None] = relationship()
    user: Mapped[User | None] = relationship()


# A feed reads a clinic's exams by working day. The other columns ride along so that the
# ETag (the 304 path) and each control's version (which cached events still hold) are read
# from the index alone: only changed controls need their rows.
sa.Index(
    "ix_planned_exams_feed",
    PlannedExam.clinic_id,
    PlannedExam.due_working_day,
    PlannedExam.patient_id,
    PlannedExam.anchor_treatment_id,
    PlannedExam.month,
    PlannedExam.id,
    PlannedExam.state,
    PlannedExam.sequence,
    PlannedExam.updated_at,
)


# The feeds' ETag: a clinic's latest exam change, the last entry per clinic (one search).
sa.Index("ix_planned_exams_clinic_updated", PlannedExam.clinic_id, PlannedExam.updated_at)


class FeedEvent(Base):
    """A control's VEVENT as a feed serialised it, kept for every process and every restart:
    a cold feed reads its unchanged events here instead of serialising each again."""

    __tablename__ = "feed_events"

    # The id of the control's first exam: the control's key while it lives (as in the cache).
    first_exam_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    # SHA-256 of the versions of the control's exams and of the feeds' settings: a row whose
    # version differs is stale and serialised again.
    version: Mapped[str] = mapped_column(sa.String(64))
    head: Mapped[str] = mapped_column(sa.Text)  # the VEVENT up to its END line
    alarm: Mapped[str] = mapped_column(sa.Text)  # its VALARM, "" when nothing is to be booked
    deadline: Mapped[date | None]  # the booking deadline: past it, the alarm is left out
    timed: Mapped[bool]  # refers to the VTIMEZONE


class ApiToken(Base):
    """A machine's read-only key to one clinic's FHIR API, sent as `Authorization: Bearer`."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    # SHA-256 of the token (hex): the token itself is shown once and never stored.
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    clinic_id: Mapped[int] = mapped_column(sa.ForeignKey("clinics.id"), index=True)
    label: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    created_by: Mapped[str] = mapped_column(sa.String(254))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]

    clinic: Mapped[Clinic] = relationship()


class KeptUpload(Base):
    """A checked CSV file kept between its preview and the confirmation, on any node."""

    __tablename__ = "kept_uploads"

    id: Mapped[int] = mapped_column(primary_key=True)
    # SHA-256 of the token in the preview's form (hex): the database alone cannot claim it.
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    clinic_id: Mapped[int] = mapped_column(sa.ForeignKey("clinics.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(sa.String(255))
    size: Mapped[int]
    data: Mapped[bytes] = mapped_column(sa.LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)

    clinic: Mapped[Clinic] = relationship()


class ApiRateCount(Base):
    """Requests of one API token in one window (a minute), counted in the shared database so
    that every node behind the load balancer sees the same count."""

    __tablename__ = "api_rate_counts"

    token_id: Mapped[int] = mapped_column(
        sa.ForeignKey("api_tokens.id", ondelete="CASCADE"), primary_key=True
    )
    window: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)  # seconds // window
    requests: Mapped[int] = mapped_column(default=0)


EXPORT_STATES = ("running", "done", "failed")


class ExportJob(Base):
    """A FHIR bulk `$export` of one clinic: its state, progress and output live here, so any
    node can answer its status and serve its files."""

    __tablename__ = "export_jobs"
    __table_args__ = (_choice("state", EXPORT_STATES),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # The status URL's random key: unguessable, so a URL names one job and nothing more.
    key: Mapped[str] = mapped_column(sa.String(32), unique=True)
    token_id: Mapped[int] = mapped_column(
        sa.ForeignKey("api_tokens.id", ondelete="CASCADE"), index=True
    )
    clinic_id: Mapped[int] = mapped_column(sa.ForeignKey("clinics.id", ondelete="CASCADE"))
    types: Mapped[str] = mapped_column(sa.String(200))  # resource types, comma-separated
    request_url: Mapped[str] = mapped_column(sa.Text)
    state: Mapped[str] = mapped_column(sa.String(16), default="running")
    progress: Mapped[str] = mapped_column(sa.String(100), default="", server_default="")
    error: Mapped[str | None] = mapped_column(sa.Text)
    transaction_time: Mapped[datetime]
    # The running node writes it after every chunk: an old one means the node is gone.
    heartbeat_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class ExportFile(Base):
    """One NDJSON file of an export: the lines of one resource type."""

    __tablename__ = "export_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(
        sa.ForeignKey("export_jobs.id", ondelete="CASCADE"), index=True
    )
    resource_type: Mapped[str] = mapped_column(sa.String(32))
    lines: Mapped[int]
    data: Mapped[bytes] = mapped_column(sa.LargeBinary)
