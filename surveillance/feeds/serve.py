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
    feed_rows,
    feed_stamp,
    feed_versions,
    find_scope,
    remember_etag,
)

CACHED_FEEDS = 64  # whole feeds kept by ETag, at a few megabytes each for 10,000 events
# A change is stamped when it is written, and committed a moment later: one stamped before the
# latest stamp may become visible after it. While the latest change is younger than this (far
# longer than any transaction of the verbs, and than the clocks of two nodes differ), the ETag
# also changes every SETTLE_STEP, so a client's next fetch reads what was committed meanwhile.
SETTLE = timedelta(minutes=5)
SETTLE_STEP = 60  # seconds


@dataclass(frozen=True, slots=True)
class Feeds:
    """What a process serves feeds with: the settings, and caches of events and of whole feeds."""

    settings: FeedSettings
    cache: EventCache
    # feed id -> (ETag, text): an unchanged feed is sent again without reading its rows.
    bodies: dict[int, tuple[str, bytes]] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: Config) -> Feeds:
        """The feeds of a configuration, with empty caches."""
        return cls(FeedSettings.from_config(config), EventCache(config.feeds.cached_events))

    def clear(self) -> None:
        """Forget every cached event and feed."""
        self.cache.clear()
        self.bodies.clear()


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
    etag = feed_etag(scope, stamp + settling(stamp, now), today, feeds.settings)
    modified_at = scope.modified_at if scope.etag == etag and scope.modified_at else now
    body = None
    if not not_modified(etag, modified_at):
        body = _body(session, feeds, scope, etag, day)
    if scope.etag != etag:
        remember_etag(session, scope.id, etag, now)
    return Served(etag, modified_at, body)


def _body(session: Session, feeds: Feeds, scope: FeedScope, etag: str, day: FeedDay) -> bytes:
    """The feed's text: kept whole while its ETag holds, else rebuilt from cached events."""
    cached = feeds.bodies.get(scope.id)
    if cached is not None and cached[0] == etag:
        return cached[1]
    text = feed_text(
        feed_versions(session, scope, day),
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


def settling(stamp: tuple, now: datetime) -> tuple:
    """The current step of time while the latest change may still have company (see SETTLE);
    nothing once it has settled, so an unchanged feed keeps its ETag."""
    latest = max((v for v in stamp if isinstance(v, datetime)), default=None)
    if latest is None or now - latest >= SETTLE:
        return ()
    return ("settling", int(now.timestamp()) // SETTLE_STEP)


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
