"""Serving a feed: its ETag from cheap indexed aggregates, its text only when the client lacks it."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from ..config import Config
from .events import FeedDay
from .render import EventCache, FeedSettings, feed_text
from .store import (
    DatabaseEvents,
    FeedScope,
    changed_patients,
    feed_rows,
    feed_stamp,
    feed_versions,
    find_scope,
    live_scopes,
    recent_changes,
    remember_etag,
)

CACHED_FEEDS = 64  # whole feeds kept by ETag, at a few megabytes each for 10,000 events
# A change is stamped when it is written, and committed a moment later: one stamped before the
# latest stamp may become visible after it. While the latest change is younger than this (far
# longer than any transaction of the verbs, and than the clocks of two nodes differ), the ETag
# also holds the count and sequence sum of the changes since SETTLE before it (a short range
# of the index), and the current step of SETTLE_STEP seconds.
SETTLE = timedelta(minutes=5)
SETTLE_STEP = 60  # seconds
# More changed patients than this since a feed was last read: read the whole feed again.
REREAD_PATIENTS = 2000


@dataclass(frozen=True, slots=True)
class FeedState:
    """A feed's versions as last read, in the feed's order, and what they hold: the scope and
    day they were read for, and the latest change (of the ETag's stamp) they include."""

    clinic_ids: tuple[int, ...]
    details_ids: tuple[int, ...]
    day: FeedDay
    since: datetime
    versions: list[tuple]


@dataclass(frozen=True, slots=True)
class Feeds:
    """What a process serves feeds with: the settings, and caches of events and of whole feeds."""

    settings: FeedSettings
    cache: EventCache
    # feed id -> (ETag, text): an unchanged feed is sent again without reading its rows.
    bodies: dict[int, tuple[str, bytes]] = field(default_factory=dict)
    # feed id -> its versions as last read: a change re-reads only the patients it touched.
    states: dict[int, FeedState] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: Config) -> Feeds:
        """The feeds of a configuration, with empty caches."""
        return cls(FeedSettings.from_config(config), EventCache(config.feeds.cached_events))

    def clear(self) -> None:
        """Forget every cached event and feed."""
        self.cache.clear()
        self.bodies.clear()
        self.states.clear()


@dataclass(frozen=True, slots=True)
class Served:
    """A feed's answer: its validators, and its text unless the client has it already."""

    etag: str
    modified_at: datetime
    body: bytes | None  # None: not modified


def serve_feed(
    session: Session,
    feeds: Feeds,
    token: str,
    today: date,
    now: datetime,
    not_modified: Callable[[str, datetime], bool],
) -> Served | None:
    """The feed of a token on the clinic's `today`; None for an unknown or revoked token."""
    scope = find_scope(session, token)
    if scope is None:
        return None
    day = feeds.settings.day(today)
    stamp = feed_stamp(session, scope)
    etag = feed_etag(scope, stamp + settling(session, scope, stamp, now), today, feeds.settings)
    modified_at = scope.modified_at if scope.etag == etag and scope.modified_at else now
    body = None
    if not not_modified(etag, modified_at):
        body = _body(session, feeds, scope, etag, day, now)
    if scope.etag != etag:
        remember_etag(session, scope.id, etag, now)
    return Served(etag, modified_at, body)


def prepare_feeds(session: Session, feeds: Feeds, today: date, now: datetime) -> int:
    """Serialise every live feed's events into the database before calendars fetch them: run
    after an upgrade or a change of the feeds' settings, so that no first fetch waits for a
    whole feed to be serialised (minutes at 100,000 patients). The number of feeds."""
    scopes = live_scopes(session)
    day = feeds.settings.day(today)
    for scope in scopes:
        stamp = feed_stamp(session, scope)
        etag = feed_etag(scope, stamp + settling(session, scope, stamp, now), today, feeds.settings)
        _body(session, feeds, scope, etag, day, now)
        feeds.bodies.clear()  # kept in the database; the texts are not needed here
    return len(scopes)


def _body(
    session: Session, feeds: Feeds, scope: FeedScope, etag: str, day: FeedDay, since: datetime
) -> bytes:
    """The feed's text: kept whole while its ETag holds, else rebuilt from cached events."""
    cached = feeds.bodies.get(scope.id)
    if cached is not None and cached[0] == etag:
        return cached[1]
    text = feed_text(
        _versions(session, feeds, scope, day, since),
        lambda ids: feed_rows(session, scope, day, ids),
        calendar_name(scope, feeds.settings),
        day,
        feeds.settings,
        feeds.cache,
        DatabaseEvents(session),
    ).encode()
    if len(feeds.bodies) >= CACHED_FEEDS and scope.id not in feeds.bodies:
        feeds.bodies.clear()  # one step, safe among threads; the events stay cached
    feeds.bodies[scope.id] = (etag, text)
    return text


def _versions(
    session: Session, feeds: Feeds, scope: FeedScope, day: FeedDay, since: datetime
) -> list[tuple]:
    """The feed's versions in its order: of the patients changed since the feed was last read
    (on the same day and scope) read again and merged, else all read. `since`: what the rows
    read now include, every change committed by then: the request's time, never a change's
    stamp (a row stamped ahead of the clock would hide the changes after it until then)."""
    last = feeds.states.get(scope.id)
    if last is None or (last.clinic_ids, last.details_ids, last.day) != (
        scope.clinic_ids,
        scope.details_ids,
        day,
    ):
        versions = feed_versions(session, scope, day)
    else:
        # A change committed after the last read may be stamped up to SETTLE before its latest.
        changed = changed_patients(session, scope, last.since - SETTLE)
        if len(changed) > REREAD_PATIENTS:
            versions = feed_versions(session, scope, day)
        else:
            gone = set(changed)
            versions = [v for v in last.versions if v[1] not in gone]
            versions += feed_versions(session, scope, day, changed)
    versions.sort(key=_feed_order)  # nearly sorted when merged: one pass
    if len(feeds.states) >= CACHED_FEEDS and scope.id not in feeds.states:
        feeds.states.clear()  # one step, safe among threads
    feeds.states[scope.id] = FeedState(scope.clinic_ids, scope.details_ids, day, since, versions)
    return versions


def _feed_order(version: tuple) -> tuple:
    """An exam's place in the feed: clinic, working day, patient, anchor, month, id (as
    ix_planned_exams_feed, an extra exam's month first), the same on every database."""
    month = version[3]
    return (
        version[-2],
        version[-1],
        version[1],
        version[2],
        -1 if month is None else month,
        version[0],
    )


def settling(session: Session, scope: FeedScope, stamp: tuple, now: datetime) -> tuple:
    """While the latest change may still have company (see SETTLE): the changes since SETTLE
    before it and the current step of time; nothing once it has settled, so an unchanged feed
    keeps its ETag."""
    latest = max(_instants(stamp), default=None)
    if latest is None or now - latest >= SETTLE:
        return ()
    recent = recent_changes(session, scope, latest - SETTLE)
    return ("settling", recent, int(now.timestamp()) // SETTLE_STEP)


def _instants(stamp: tuple) -> list[datetime]:
    return [v for v in stamp if isinstance(v, datetime)]


def feed_etag(scope: FeedScope, stamp: tuple, today: date, s: FeedSettings) -> str:
    """Changes whenever the feed's text may: its rows, its clinics, the day, the settings."""
    parts = (
        scope.id,
        scope.label,
        scope.clinic_ids,
        scope.clinic_codes,
        scope.details_ids,
        today,
        stamp,
        s.fingerprint,
    )
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]


def calendar_name(scope: FeedScope, s: FeedSettings) -> str:
    """The calendar's name in the client: "Liver follow-up · <label or clinic codes>"."""
    return f"{s.calendar_word} · {scope.label or ', '.join(scope.clinic_codes)}"
