"""Benchmark of the calendar feed: serving ~10,000 events cold, repeated and unchanged (304),
next to a hand-written RFC 5545 serialisation of the same events (the floor) and icalendar 7.

The floor and ours are measured in the same run, on the same rows: the machine is shared, so
only their ratio is stable. Run: `python bench/run.py feeds [--events N] [--backend B]`.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import tempfile
import timeit
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import sqlalchemy as sa

from surveillance.clock import clinic_today
from surveillance.config import Config
from surveillance.db import make_engine, make_sessionmaker, writing
from surveillance.db.migrate import upgrade
from surveillance.db.models import Clinic, FeedEvent, Patient, PlannedExam
from surveillance.feeds.events import group_controls, is_shown
from surveillance.feeds.render import EventCache, feed_text
from surveillance.feeds.store import create_clinic_feed, feed_rows, feed_versions, find_scope
from surveillance.identity import make_synthetic_id
from surveillance.services import Actor, Context
from surveillance.services.bulk import NewPatient, load_patients

CLINIC = "BENCH"
KINDS = ("resection",) * 6 + ("ablation",) * 3 + ("resection_with_ablation",)
POSTGRES_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"


# ---- data --------------------------------------------------------------------------------


def patients(count: int, today: date, rng: random.Random) -> list[NewPatient]:
    """Patients treated over the last three years, their past exams done."""
    numbers = (n for birth in _births() for i in range(500) if (n := make_synthetic_id(birth, i)))
    return [
        NewPatient(
            next(numbers),
            f"Pasient {i}",
            ((today - timedelta(days=rng.randint(1, 3 * 365)), rng.choice(KINDS)),),
            done_before=today - timedelta(days=rng.randint(0, 30)),
        )
        for i in range(count)
    ]


def _births():
    day = date(1940, 1, 1)
    while True:
        yield day
        day += timedelta(days=1)


def load(url: str, events: int, today: date) -> str:
    """A clinic with about `events` controls in the feed's window; the feed's token."""
    engine = make_engine(url)
    upgrade(engine)
    ctx = Context(Actor("bench"), today, accept_synthetic_ids=True)
    with make_sessionmaker(engine)() as session:
        with writing(session):
            session.add(Clinic(code=CLINIC, name="Benchmark"))
        # About 2.7 controls of a patient fall in the default window.
        load_patients(session, ctx, CLINIC, patients(int(events / 2.7), today, random.Random(5)))
        _book_some(session, today)
        token = create_clinic_feed(session, Actor("bench"), _clinic_id(session)).token
        _settle(session)
    _vacuum(engine)
    engine.dispose()
    return token


def _settle(session) -> None:
    """Every exam and patient last changed a day ago: a clinic's feed between its changes
    (right after the load, every row is a change of the last minutes, and the ETag settling)."""
    day_ago = datetime.now(UTC) - timedelta(days=1)
    with writing(session):
        for model in (PlannedExam, Patient):
            session.execute(sa.update(model).values(updated_at=day_ago))


def _vacuum(engine: sa.Engine) -> None:
    """What autovacuum does in a running clinic: statistics, and PostgreSQL's visibility map
    (without which an index-only scan still visits every row: 28 ms instead of 2 here)."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE")


def _clinic_id(session) -> int:
    return session.scalar(sa.select(Clinic.id).where(Clinic.code == CLINIC))


def _book_some(session, today: date) -> None:
    """One open exam in five booked, most of them with a time: timed events and a VTIMEZONE."""
    exam = PlannedExam
    with writing(session):
        session.execute(
            sa.update(exam)
            .where(
                exam.state == "open",
                exam.id % 5 == 0,
                exam.due_working_day < today + timedelta(days=60),
            )
            .values(
                state="booked",
                booked_date=exam.due_working_day,
                booked_time=sa.case(
                    (exam.id % 3 == 0, sa.null()), else_=sa.literal(time(9, 30), sa.Time)
                ),
                booked_place="Radiologi, 2. etasje",
                sequence=exam.sequence + 1,
            )
        )


# ---- the three serialisations ------------------------------------------------------------


def event_fields(rows, today: date, settings) -> list[dict]:
    """What each event says, computed once, for the floor and icalendar to write out."""
    fields = []
    since = settings.cancelled_since(today)
    for members in group_controls(rows):
        if not is_shown(members, since):
            continue
        first, live = members[0], [m for m in members if m.state != "cancelled"]
        day = min((m.booked_date or m.due_working_day) for m in (live or members))
        fields.append(
            {
                "uid": f"control-{first.uid}",
                "start": day,
                "end": day + timedelta(days=1),
                "stamp": max(m.updated_at for m in members),
                "sequence": sum(m.sequence for m in members),
                "status": "CONFIRMED" if live else "CANCELLED",
                "summary": f"P-{first.local_number:04d} · Follow-up control",
                "description": f"Book by {day:%d.%m.%Y}\nOpen in the dashboard: "
                f"https://example.no/patients/{first.patient_id}",
                "url": f"https://example.no/patients/{first.patient_id}",
            }
        )
    return fields


def floor(fields: list[dict]) -> str:
    """The plainest correct RFC 5545 writer: f-strings, escaping and folding, nothing else."""
    out = ["BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//floor//EN\r\n"]
    for f in fields:
        stamp = f["stamp"].astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        out.append(
            f"BEGIN:VEVENT\r\nUID:{f['uid']}\r\nDTSTAMP:{stamp}\r\nLAST-MODIFIED:{stamp}\r\n"
            f"SEQUENCE:{f['sequence']}\r\nSTATUS:{f['status']}\r\n"
            f"DTSTART;VALUE=DATE:{f['start']:%Y%m%d}\r\nDTEND;VALUE=DATE:{f['end']:%Y%m%d}\r\n"
            + _fold("SUMMARY:" + _escape(f["summary"]))
            + _fold("DESCRIPTION:" + _escape(f["description"]))
            + _fold("URL:" + f["url"])
            + "END:VEVENT\r\n"
        )
    out.append("END:VCALENDAR\r\n")
    return "".join(out)


def _escape(text: str) -> str:
    return (
        text.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def _fold(line: str) -> str:
    data, out = line.encode(), []
    while len(data) > 75:
        cut = 75 if not out else 74
        while data[cut] & 0xC0 == 0x80:
            cut -= 1
        out.append(data[:cut])
        data = data[cut:]
    out.append(data)
    return b"\r\n ".join(out).decode() + "\r\n"


def with_icalendar(fields: list[dict]) -> bytes:
    """The same events through icalendar 7 (uid and stamp given, as design.md warns)."""
    import icalendar

    calendar = icalendar.Calendar.new(prodid="-//bench//icalendar//EN")
    for f in fields:
        event = icalendar.Event.new(
            uid=f["uid"],
            stamp=f["stamp"],
            start=f["start"],
            end=f["end"],
            summary=f["summary"],
            description=f["description"],
            sequence=f["sequence"],
            last_modified=f["stamp"],
        )
        event.add("status", f["status"])
        event.add("url", f["url"])
        calendar.add_component(event)
    return calendar.to_ical()


# ---- timing ------------------------------------------------------------------------------


def median_ms(run, repeat: int, prepare=lambda: None) -> float:
    """The median wall time of `run`, in milliseconds, after one warm-up; `prepare` untimed."""
    prepare()
    run()
    times = []
    for _ in range(repeat):
        prepare()
        start = timeit.default_timer()
        run()
        times.append((timeit.default_timer() - start) * 1000)
    return statistics.median(times)


def once_ms(run, prepare) -> float:
    """The wall time of one run of `run` (too long to repeat), `prepare` untimed."""
    prepare()
    start = timeit.default_timer()
    run()
    return (timeit.default_timer() - start) * 1000


def bench(url: str, events: int, repeat: int, loaded: bool = False) -> list[tuple[str, float, str]]:
    """The figures of one database: (measure, milliseconds, aim). `loaded`: a database
    loaded before (bench/web.py --keep), its first clinic's feed; icalendar alone and our
    serialisation alone are left out there (minutes each at 100,000 patients)."""
    from surveillance.web import create_app

    today = clinic_today()
    token = _first_clinics_feed(url) if loaded else load(url, events, today)
    base = Config()
    config = replace(
        base,
        database=replace(base.database, url=url),
        web=replace(base.web, secret_key="b" * 32, instance_dir=tempfile.mkdtemp()),
    )
    app = create_app(config)
    feeds, client, path = app.extensions["feeds"], app.test_client(), f"/feeds/{token}.ics"
    sessions = app.extensions["surveillance"].sessions
    figures, ids = _serialisations(sessions, token, today, feeds.settings, repeat, loaded)
    gc.collect()  # the requests below run in a process as lean as a server's

    def get():
        _ok(client.get(path), 200)

    def forget_all():
        feeds.clear()
        with sessions() as session, writing(session):
            session.execute(sa.delete(FeedEvent))

    cold = once_ms(get, forget_all)
    etag = client.get(path).headers["ETag"]

    def not_modified():
        _ok(client.get(path, headers={"If-None-Match": etag}), 304)

    settled_304 = median_ms(not_modified, repeat * 4)
    figures += [
        ("ours: GET, cold, no event kept (once)", cold, ""),
        ("ours: GET, restart, events kept in the db", median_ms(get, repeat, feeds.clear), ""),
        (
            "ours: GET, repeated, one control changed",
            median_ms(get, repeat, lambda: _change_one(sessions, ids)),
            "< 2x floor",
        ),
        ("ours: GET, repeated, nothing changed", median_ms(get, repeat), "< 2x floor"),
        ("ours: 304, settled (no change in 5 min)", settled_304, "< 5 ms"),
    ]
    etag = client.get(path).headers["ETag"]
    figures.append(("ours: 304, a change settling", median_ms(not_modified, repeat * 4), "< 5 ms"))
    sessions.kw["bind"].dispose()
    return figures


def _first_clinics_feed(url: str) -> str:
    """A new feed of the first clinic of a loaded database; its token."""
    engine = make_engine(url)
    upgrade(engine)
    with make_sessionmaker(engine)() as session:
        token = create_clinic_feed(
            session, Actor("bench"), session.scalar(sa.select(sa.func.min(Clinic.id)))
        ).token
    engine.dispose()
    return token


def _serialisations(sessions, token: str, today: date, settings, repeat: int, floor_only: bool):
    """The floor, icalendar and our serialisation alone, on the feed's rows; and their ids."""
    with sessions() as session:
        scope = find_scope(session, token)
        day = settings.day(today)
        ids = [version[0] for version in feed_versions(session, scope, day)]
        rows = feed_rows(session, scope, day, ids)
    fields = event_fields(rows, today, settings)
    figures = [
        ("events in the feed", len(fields), ""),
        ("floor: hand-written serialisation", median_ms(lambda: floor(fields), repeat), ""),
    ]
    if floor_only:
        return figures, ids
    return [
        *figures,
        (
            "icalendar 7: the same events",
            median_ms(lambda: with_icalendar(fields), max(1, repeat // 2)),
            "",
        ),
        (
            "ours: serialisation alone, cold",
            median_ms(
                lambda: feed_text(rows, lambda _: rows, "x", day, settings, EventCache(10**6)),
                repeat,
            ),
            "",
        ),
    ], ids


def _change_one(sessions, ids: list[int]) -> None:
    """A nurse's change to one exam of the feed, as the services make it."""
    exam = PlannedExam
    with sessions() as session, writing(session):
        session.execute(
            sa.update(exam).where(exam.id == random.choice(ids)).values(sequence=exam.sequence + 1)
        )


def _ok(response, status: int) -> None:
    if response.status_code != status:
        raise SystemExit(f"expected {status}, got {response.status_code}")
    response.get_data()


def print_table(backend: str, figures: list[tuple[str, float, str]]) -> None:
    """The figures, each as a multiple of the floor."""
    floor_ms = figures[1][1]
    print(f"\n{backend}: {int(figures[0][1])} events")
    print(f"{'measure':<40} {'ms':>9} {'x floor':>8}  aim")
    for measure, value, aim in figures[1:]:
        print(f"{measure:<40} {value:>9.2f} {value / floor_ms:>8.2f}  {aim}")


def postgres_database(server: str):
    """A fresh PostgreSQL database's URL, and a function that drops it."""
    name = f"bench_feeds_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')

    def drop():
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()

    return f"{server}/{name}", drop


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--postgres", default=POSTGRES_SERVER, help="server URL, no database")
    parser.add_argument(
        "--database",
        help="a loaded database's URL (a copy of bench/web.py --keep's): its first clinic's "
        "feed, the floor and our requests only",
    )
    args = parser.parse_args(argv)
    if args.database:
        backend = sa.make_url(args.database).get_backend_name()
        print_table(backend, bench(args.database, 0, args.repeat, loaded=True))
        return 0
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{Path(folder)}/feeds.db"
            print_table("sqlite", bench(url, args.events, args.repeat))
    if args.backend in ("postgresql", "both"):
        url, drop = postgres_database(args.postgres)
        try:
            print_table("postgresql", bench(url, args.events, args.repeat))
        finally:
            drop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
