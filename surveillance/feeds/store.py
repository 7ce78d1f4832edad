"""Feeds in the database: create, list and revoke them; find one by token; read its controls."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, selectinload

from ..clock import utcnow
from ..db.choices import FeedKind
from ..db.models import (
    CalendarFeed,
    Clinic,
    Control,
    FeedEvent,
    Patient,
    PlannedExam,
    User,
    user_clinics,
)
from ..errors import Busy, Conflict, NotFound
from ..services.audit import Actor, record_event
from ..services.control_rows import OPEN_STATES, controls_due_between
from ..services.transactions import transaction
from ..services.validate import parse_text
from .events import ExamRow, FeedDay
from .render import KeptEvent
from .tokens import feed_path, new_token, same_hash, token_hash, well_formed

_INDEX_ORDER = (
    PlannedExam.clinic_id,
    PlannedExam.due_working_day,
    PlannedExam.patient_id,
    PlannedExam.anchor_treatment_id,
    PlannedExam.month,
    PlannedExam.id,
)
ID_CHUNK = 500  # ids per IN list: within every driver's parameter limits
FETCH_BY_WINDOW = 2000  # more changed exams than this: read the shown controls instead


@dataclass(frozen=True, slots=True)
class NewFeed:
    """A feed just made: its token exists only here, to be shown once."""

    id: int
    token: str

    @property
    def path(self) -> str:
        """The feed's path: /feeds/<token>.ics."""
        return feed_path(self.token)


@dataclass(frozen=True, slots=True)
class FeedScope:
    """A live feed as a request needs it: whose exams, how much to show, its last ETag."""

    id: int
    label: str
    clinic_ids: tuple[int, ...]
    clinic_codes: tuple[str, ...]
    details_ids: tuple[int, ...]  # the clinics that opted in to names and exam names
    etag: str | None
    modified_at: datetime | None


def create_clinic_feed(
    session: Session, actor: Actor, clinic_id: int, label: str | None = None
) -> NewFeed:
    """A feed of a clinic's controls."""
    return _create(session, actor, label, kind=FeedKind.CLINIC, clinic_id=clinic_id)


def create_user_feed(
    session: Session, actor: Actor, user_id: int, label: str | None = None
) -> NewFeed:
    """A personal feed: the controls of the user's clinics, whichever they are at each fetch."""
    return _create(session, actor, label, kind=FeedKind.USER, user_id=user_id)


def _create(session: Session, actor: Actor, label: str | None, **owner) -> NewFeed:
    token = new_token()
    with transaction(session):
        feed = CalendarFeed(
            token_hash=token_hash(token),
            created_by=actor.name,
            label=parse_text("label", label, max_length=200, required=False) or "",
            **owner,
        )
        session.add(feed)
        session.flush()
        record_event(session, actor, "feed.create", feed=feed.id, **owner)
    return NewFeed(feed.id, token)


def list_feeds(
    session: Session, user_id: int | None = None, clinic_ids: list[int] | None = None
) -> list[CalendarFeed]:
    """Every feed (command line), or a user's own and their clinics' (dashboard); newest first."""
    query = (
        sa.select(CalendarFeed)
        .options(selectinload(CalendarFeed.clinic), selectinload(CalendarFeed.user))
        .order_by(CalendarFeed.created_at.desc(), CalendarFeed.id.desc())
    )
    if user_id is not None:
        query = query.where(_managed_by(user_id, clinic_ids or []))
    return list(session.scalars(query))


def _managed_by(user_id: int, clinic_ids: list[int]):
    mine = sa.and_(CalendarFeed.kind == FeedKind.USER, CalendarFeed.user_id == user_id)
    return sa.or_(mine, CalendarFeed.clinic_id.in_(clinic_ids)) if clinic_ids else mine


def revoke_feed(
    session: Session,
    actor: Actor,
    feed_id: int,
    user_id: int | None = None,
    clinic_ids: list[int] | None = None,
) -> CalendarFeed:
    """Revoke a feed at once; a user may revoke their own feeds and their clinics'."""
    with transaction(session):
        query = sa.select(CalendarFeed).where(CalendarFeed.id == feed_id)
        if user_id is not None:
            query = query.where(_managed_by(user_id, clinic_ids or []))
        feed = session.scalar(query)
        if feed is None:
            raise NotFound(f"feed {feed_id} not found")
        if feed.revoked_at is None:
            feed.revoked_at = utcnow()
            record_event(session, actor, "feed.revoke", feed=feed.id)
    return feed


def find_scope(session: Session, token: str) -> FeedScope | None:
    """The live feed of a token, in one query; None for a malformed, unknown or revoked one."""
    if not well_formed(token):
        return None
    rows = _scope_rows(session, CalendarFeed.token_hash == token_hash(token))
    if not rows or not same_hash(rows[0].token_hash, token):
        return None
    return _scope(rows)


def live_scopes(session: Session) -> list[FeedScope]:
    """Every live feed's scope (the command line prepares their events), by id."""
    ids = session.scalars(
        sa.select(CalendarFeed.id)
        .where(CalendarFeed.revoked_at.is_(None))
        .order_by(CalendarFeed.id)
    ).all()
    scopes = (_scope(_scope_rows(session, CalendarFeed.id == i)) for i in ids)
    return [scope for scope in scopes if scope is not None]


def _scope_rows(session: Session, which) -> list:
    owner_clinic = sa.func.coalesce(CalendarFeed.clinic_id, user_clinics.c.clinic_id)
    return list(
        session.execute(
            sa.select(
                CalendarFeed.id,
                CalendarFeed.token_hash,
                CalendarFeed.kind,
                CalendarFeed.label,
                CalendarFeed.etag,
                CalendarFeed.modified_at,
                User.active,
                Clinic.id.label("clinic_id"),
                Clinic.code,
                Clinic.feed_include_details,
            )
            .select_from(CalendarFeed)
            .outerjoin(User, User.id == CalendarFeed.user_id)
            .outerjoin(user_clinics, user_clinics.c.user_id == CalendarFeed.user_id)
            .outerjoin(Clinic, Clinic.id == owner_clinic)
            .where(which, CalendarFeed.revoked_at.is_(None))
            .order_by(Clinic.code)
        ).all()
    )


def _scope(rows: list) -> FeedScope | None:
    first = rows[0]
    if first.kind == FeedKind.USER and not first.active:  # a disabled account's feeds stop with it
        return None
    clinics = [r for r in rows if r.clinic_id is not None]
    return FeedScope(
        first.id,
        first.label,
        tuple(r.clinic_id for r in clinics),
        tuple(r.code for r in clinics),
        tuple(r.clinic_id for r in clinics if r.feed_include_details),
        first.etag,
        first.modified_at,
    )


def _in_window(scope: FeedScope, first: date, last: date):
    exam = PlannedExam
    if not scope.clinic_ids:
        return sa.false()
    clinic = (
        exam.clinic_id == scope.clinic_ids[0]
        if len(scope.clinic_ids) == 1
        else exam.clinic_id.in_(scope.clinic_ids)
    )
    return sa.and_(clinic, exam.due_working_day.between(first, last))


def _shown(scope: FeedScope, day: FeedDay, patient_ids: list[int] | None = None):
    """The (patient, due) of the controls a feed shows: the open ones from the stored controls
    (what the worklist reads), and in the window those done or lately cancelled; of these
    patients only, when given."""
    exam = PlannedExam
    closed = sa.select(exam.patient_id, exam.due).where(
        _in_window(scope, day.first, day.last),
        sa.or_(
            exam.state == "done",
            sa.and_(exam.state == "cancelled", exam.updated_at >= day.cancelled_since),
        ),
    )
    if patient_ids is not None:
        closed = closed.where(exam.patient_id.in_(patient_ids))
    if not scope.clinic_ids:
        return closed.subquery("shown")
    open_ = controls_due_between(scope.clinic_ids, day.first, day.last)
    if patient_ids is not None:
        open_ = open_.where(Control.patient_id.in_(patient_ids))
    return sa.union(open_, closed).subquery("shown")


def _lists(day: FeedDay) -> list:
    """The engine's lists of an exam's control on the feed's day, as the worklist reads them."""
    exam, patient = PlannedExam, Patient
    # A hold covers the exams still to book (open or missed); a booked exam keeps its booking
    # and its list, overdue included (R10, R13: as the control rows hold it for the worklist).
    held = sa.and_(patient.hold_until > day.today, exam.state.in_(("open", "missed")))
    overdue = sa.and_(
        exam.state.in_(sorted(OPEN_STATES)),
        exam.due < day.late,
        sa.not_(sa.func.coalesce(held, False)),
    )
    return [
        sa.case((overdue, True), else_=False).label("overdue"),
        sa.case((held, patient.hold_until), else_=sa.null()).label("held_until"),
        patient.mdt_review,
        patient.lost_to_follow_up,
    ]


def _of_shown(query, scope: FeedScope, day: FeedDay, patient_ids: list[int] | None = None):
    shown = _shown(scope, day, patient_ids)
    exam = PlannedExam
    return query.join(
        shown, sa.and_(shown.c.patient_id == exam.patient_id, shown.c.due == exam.due)
    ).join(Patient, Patient.id == exam.patient_id)


def feed_versions(
    session: Session, scope: FeedScope, day: FeedDay, patient_ids: list[int] | None = None
) -> list[tuple]:
    """The versions of the exams of the controls a feed shows, in O(controls shown); of these
    patients only, when given (a feed kept up to date by its changes)."""
    # The connection, not the session: no ORM step. Plain tuples (see VERSION_FIELDS).
    connection = session.connection()
    if patient_ids is None:
        return list(map(tuple, connection.execute(versions_query(scope, day)).all()))
    return [
        tuple(row)
        for chunk in range(0, len(patient_ids), ID_CHUNK)
        for row in connection.execute(
            versions_query(scope, day, patient_ids[chunk : chunk + ID_CHUNK])
        )
    ]


def versions_query(
    scope: FeedScope, day: FeedDay, patient_ids: list[int] | None = None
) -> sa.Select:
    """The feed's versions as a statement (its plan is checked against the indexes). Each
    version ends with its place in the feed: the exam's clinic and working day."""
    exam, patient = PlannedExam, Patient
    query = sa.select(
        exam.id,
        exam.patient_id,
        exam.anchor_treatment_id,
        exam.month,
        exam.due,
        exam.state,
        exam.sequence,
        _as_read(exam.updated_at),
        _shown_patient(scope, _as_read(patient.updated_at)),
        *_lists(day),
        exam.clinic_id,
        exam.due_working_day,
    )
    # Each control's exams together, by id.
    return _of_shown(query, scope, day, patient_ids).order_by(*_INDEX_ORDER)


def changed_patients(session: Session, scope: FeedScope, since: datetime) -> list[int]:
    """The feed's clinics' patients with an exam or themselves changed since `since`: a range
    of ix_planned_exams_clinic_updated and of ix_patients_clinic_updated per clinic."""
    if not scope.clinic_ids:
        return []
    return sorted(session.scalars(changed_patients_query(scope.clinic_ids, since)))


def changed_patients_query(clinic_ids: tuple[int, ...], since: datetime) -> sa.CompoundSelect:
    """changed_patients' statement (its plan is checked against the indexes)."""
    exam, patient = PlannedExam, Patient
    exams = sa.select(exam.patient_id).where(
        exam.clinic_id.in_(clinic_ids), exam.updated_at >= since
    )
    patients = sa.select(patient.id).where(
        patient.clinic_id.in_(clinic_ids), patient.updated_at >= since
    )
    return sa.union(exams, patients)


def feed_stamp(session: Session, scope: FeedScope) -> tuple:
    """What the feed's ETag is made of, in one statement of O(1) index searches: each clinic's
    latest exam change and latest patient change, the last entries of
    ix_planned_exams_clinic_updated and ix_patients_clinic_updated. Every change a calendar
    shows stamps its exam (a booking, a result, a cancellation, a re-plan) or its patient
    (lists, names); the day, which moves the window and the lists, is in the ETag apart."""
    latest = [
        query(c).scalar_subquery()
        for c in scope.clinic_ids
        for query in (latest_exam_change, latest_patient_change)
    ]
    if not latest:
        return ()
    stamp = session.execute(sa.select(*latest)).one()
    # The same instant reads back with another tzinfo on another driver or connection.
    return tuple(v.astimezone(UTC) if isinstance(v, datetime) else v for v in stamp)


def recent_changes(session: Session, scope: FeedScope, since: datetime) -> tuple:
    """Count and sequence sum of the exams, and count of the patients, of the feed's clinics
    changed since `since`: ranges of ix_planned_exams_clinic_updated and
    ix_patients_clinic_updated, as long as the changes of the last minutes."""
    exam, patient = PlannedExam, Patient
    exams = sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(exam.sequence), 0)).where(
        exam.clinic_id.in_(scope.clinic_ids), exam.updated_at >= since
    )
    patients = sa.select(sa.func.count()).where(
        patient.clinic_id.in_(scope.clinic_ids), patient.updated_at >= since
    )
    return (*session.execute(exams).one(), session.scalar(patients))


def latest_exam_change(clinic_id: int) -> sa.Select:
    """The latest change of a clinic's exams: the last entry of ix_planned_exams_clinic_updated."""
    return sa.select(sa.func.max(PlannedExam.updated_at)).where(PlannedExam.clinic_id == clinic_id)


def latest_patient_change(clinic_id: int) -> sa.Select:
    """The latest change of a clinic's patients: the last entry of ix_patients_clinic_updated."""
    return sa.select(sa.func.max(Patient.updated_at)).where(Patient.clinic_id == clinic_id)


def _as_read(column):
    # A version is compared only with itself: the driver's value will do (naive UTC on
    # SQLite) and saves the UTC type's Python call per row.
    return sa.type_coerce(column, sa.DateTime(timezone=True)).label(column.key)


def _shown_patient(scope: FeedScope, column):
    """A patient's column where names are shown (the clinic opted in), else NULL."""
    if not scope.details_ids:
        return sa.null()
    return sa.case((PlannedExam.clinic_id.in_(scope.details_ids), column), else_=sa.null())


def feed_rows(session: Session, scope: FeedScope, day: FeedDay, ids: list[int]) -> list[ExamRow]:
    """The exams of these ids, with what an event shows of their patient."""
    exam, patient = PlannedExam, Patient
    details = exam.clinic_id.in_(scope.details_ids) if scope.details_ids else sa.false()
    query = sa.select(
        exam.id,
        exam.patient_id,
        exam.anchor_treatment_id,
        exam.month,
        exam.due,
        exam.state,
        exam.sequence,
        exam.updated_at,
        exam.uid,
        exam.code,
        exam.due_working_day,
        exam.booked_date,
        exam.booked_time,
        exam.booked_place,
        exam.coordinated_date,
        patient.local_number,
        details,
        _shown_patient(scope, patient.name),
        *_lists(day),
    )
    connection = session.connection()
    if len(ids) > FETCH_BY_WINDOW:  # many: one pass over the shown controls beats many lookups
        wanted = set(ids)
        rows = connection.execute(_of_shown(query, scope, day).order_by(*_INDEX_ORDER)).all()
        return [ExamRow._make(row) for row in rows if row[0] in wanted]
    query = query.join(patient, patient.id == exam.patient_id).order_by(
        exam.patient_id, exam.anchor_treatment_id, exam.month, exam.due, exam.id
    )
    return [
        ExamRow._make(row)
        for chunk in range(0, len(ids), ID_CHUNK)
        for row in connection.execute(query.where(exam.id.in_(ids[chunk : chunk + ID_CHUNK])))
    ]


class DatabaseEvents:
    """The serialised events kept in the database (feed_events), as a feed's EventStore."""

    def __init__(self, session: Session):
        self.session = session

    def load(self, first_ids: list[int]) -> dict[int, KeptEvent]:
        """The kept events of these controls, by primary key, whatever their version."""
        event = FeedEvent
        query = sa.select(
            event.first_exam_id,
            event.version,
            event.head,
            event.alarm,
            event.deadline,
            event.timed,
        )
        connection = self.session.connection()
        return {
            row[0]: KeptEvent(*row)
            for chunk in range(0, len(first_ids), ID_CHUNK)
            for row in connection.execute(
                query.where(event.first_exam_id.in_(first_ids[chunk : chunk + ID_CHUNK]))
            )
        }

    def save(self, events: list[KeptEvent]) -> None:
        """Keep the events, each replacing its control's older version. A feed is served even
        if this fails: another request will keep them."""
        if not events:
            return
        rows = [
            dict(
                first_exam_id=e.first_id,
                version=e.version,
                head=e.head,
                alarm=e.alarm,
                deadline=e.deadline,
                timed=e.timed,
            )
            for e in sorted(events, key=lambda e: e.first_id)  # one order: no deadlock
        ]
        dialect = self.session.get_bind().dialect.name
        insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(FeedEvent)
        upsert = insert.on_conflict_do_update(
            index_elements=[FeedEvent.first_exam_id],
            set_={c: insert.excluded[c] for c in ("version", "head", "alarm", "deadline", "timed")},
        )
        try:
            with transaction(self.session):
                for chunk in range(0, len(rows), ID_CHUNK):
                    self.session.execute(upsert, rows[chunk : chunk + ID_CHUNK])
        except (Busy, Conflict):
            pass  # two nodes keeping the same events at once, or SQLite's writer busy


def remember_etag(session: Session, feed_id: int, etag: str, now: datetime) -> None:
    """Keep the ETag just served and, when it changed, the time: the feed's Last-Modified."""
    with transaction(session):
        session.execute(
            sa.update(CalendarFeed)
            .where(
                CalendarFeed.id == feed_id,
                sa.or_(CalendarFeed.etag.is_(None), CalendarFeed.etag != etag),
            )
            .values(etag=etag, modified_at=now)
        )


def set_details(session: Session, actor: Actor, clinic_id: int, include: bool) -> None:
    """A clinic's opt-in: its feeds show names, exam names and places (off: references only).

    Turned off, the clinic's kept events go too: those that showed names would never be
    served again, but they are copies of patient data the clinic no longer wants in feeds."""
    with transaction(session):
        session.get_one(Clinic, clinic_id).feed_include_details = include
        if not include:
            clinics_exams = sa.select(PlannedExam.id).where(PlannedExam.clinic_id == clinic_id)
            session.execute(sa.delete(FeedEvent).where(FeedEvent.first_exam_id.in_(clinics_exams)))
        record_event(session, actor, "clinic.feed_details", clinic=clinic_id, include=include)


def user_by_email(session: Session, email: str) -> User:
    """The account with this e-mail address."""
    user = session.scalar(sa.select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFound(f"no account {email!r}")
    return user
