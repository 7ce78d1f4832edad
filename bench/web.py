"""Benchmark of the dashboard under gunicorn: requests/s and p95 of the worklist and a patient page.

Each page is measured with concurrent logged-in clients on loopback, next to two references
served by the same gunicorn in the same run: a bare route (the ceiling) and the worklist as
ONE raw SQL query through the driver, rendered by the same template (the floor).
"""

from __future__ import annotations

import argparse
import difflib
import http.client
import os
import random
import re
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa

HERE = Path(__file__).resolve().parent
EMAIL, PASSWORD = "bench-nurse@example.org", "bench-password-0123456789"
ROUTES = (
    ("ceiling", "/bench/bare"),
    ("floor", "/bench/floor"),
    ("worklist", "/"),
    ("patient", "/patients/{id}"),
    ("search", "POST /search"),  # a name, as a nurse types it
    ("feed", "/feeds/{token}.ics"),  # the clinic's calendar, fetched anew (no ETag sent)
)
PAGES = ("worklist", "patient", "search", "feed")
AIM_RATIO, AIM_P95_MS = 0.6, 50.0
SEARCHED = ("hansen", "olsen", "Berg", "dahl")  # name parts a nurse would type


# ---- the server side: the product's app plus two test-only routes ---------------------


def bench_app():
    """create_app with a config built in code, plus /bench/bare and /bench/floor.

    gunicorn calls this in each worker (`web:bench_app()`); the database URL and the
    instance folder come from the environment the benchmark gives gunicorn.
    """
    from flask_login import login_required

    from surveillance.config import load_config
    from surveillance.web import create_app

    base = load_config(environ={})
    config = replace(
        base,
        database=replace(base.database, url=os.environ["BENCH_WEB_DATABASE"]),
        patients=replace(base.patients, accept_synthetic_ids=True),
        web=replace(
            base.web,
            secret_key=os.environ["BENCH_WEB_SECRET"],
            instance_dir=os.environ["BENCH_WEB_INSTANCE"],
        ),
    )
    app = create_app(config)
    app.add_url_rule("/bench/bare", "bench_bare", lambda: "ok")
    app.add_url_rule("/bench/floor", "bench_floor", login_required(_floor_page))
    return app


# The side lists beside the worklist, by hand: the first rows of each and its length.
SIDE_SQL = {
    "mdt_review": """SELECT id, local_number, name, birth_date, status, mdt_reason,
               mdt_flagged_on, (SELECT d.note FROM mdt_decisions AS d
                   WHERE d.patient_id = patients.id AND d.withdrawn_at IS NULL
                   ORDER BY d.date DESC, d.id DESC LIMIT 1), version
        FROM patients WHERE clinic_id IN ({clinics}) AND mdt_review
        ORDER BY mdt_flagged_on DESC NULLS LAST, local_number LIMIT :side""",
    "lost_to_follow_up": """SELECT id, local_number, name, birth_date, status FROM patients
        WHERE clinic_id IN ({clinics}) AND lost_to_follow_up ORDER BY local_number LIMIT :side""",
    "booking_to_cancel": """SELECT e.id, e.patient_id, p.local_number, p.name, e.code,
               e.booked_date, e.version, p.birth_date
        FROM planned_exams AS e JOIN patients AS p ON p.id = e.patient_id
        WHERE e.clinic_id IN ({clinics}) AND booking_to_cancel
        ORDER BY e.booked_date, p.local_number, e.code LIMIT :side""",
}
SIDE_COUNTS = """SELECT
    (SELECT count(*) FROM patients WHERE clinic_id IN ({clinics}) AND mdt_review),
    (SELECT count(*) FROM patients WHERE clinic_id IN ({clinics}) AND lost_to_follow_up),
    (SELECT count(*) FROM planned_exams WHERE clinic_id IN ({clinics}) AND booking_to_cancel)"""


def _floor_page():
    """The worklist page from raw SQL (bench/_floors.py) through the request's driver connection."""
    from _floors import LISTS as FLOOR_LISTS
    from _floors import count_sql, page_sql
    from flask import render_template
    from flask_login import current_user
    from markupsafe import Markup

    from surveillance.services.review import CancelRow, PatientRow
    from surveillance.services.worklist import CATEGORIES, LISTS, WorklistItem, WorklistPage
    from surveillance.web.per_request import config, db, service_context
    from surveillance.web.reasons import mdt_reasons
    from surveillance.web.worklist import EXAM_CODES, SIDE_LIST_PREVIEW

    ctx = service_context()
    clinic_ids = current_user.clinic_ids
    conn = db().connection().connection.driver_connection  # the pool's DBAPI connection
    sqlite = isinstance(conn, sqlite3.Connection)
    page_size = config().worklist.page_size
    today = ctx.today
    params = {
        "today": today,
        "late": today - timedelta(days=ctx.settings.overdue_after_days),
        "horizon": today + timedelta(days=ctx.settings.book_ahead_days),
        "page_size": page_size,
        "side": SIDE_LIST_PREVIEW,
    }
    if sqlite:
        params = {k: v.isoformat() if isinstance(v, date) else v for k, v in params.items()}

        def day(v):
            return date.fromisoformat(v) if v else None
    else:
        day = lambda v: v  # noqa: E731
    clinics = ", ".join(str(int(c)) for c in clinic_ids) or "NULL"

    def rows(sql: str) -> list[tuple]:
        sql = sql.format(clinics=clinics)
        cur = conn.cursor()
        cur.execute(sql if sqlite else re.sub(r":(\w+)", r"%(\1)s", sql), params)
        found = cur.fetchall()
        cur.close()
        return found

    counts = dict(zip(FLOOR_LISTS, rows(count_sql("{clinics}"))[0]))
    counts["mdt_review"], counts["lost_to_follow_up"], counts["booking_to_cancel"] = rows(
        SIDE_COUNTS
    )[0]
    names = list(FLOOR_LISTS)
    items = [
        WorklistItem(
            names[rank],
            patient_id,
            ctx.reference(number),
            name,
            day(born),
            tuple(codes.split()),
            day(due),
            day(working_day),
            day(booked),
            (today - day(due)).days,
            bool(missed),
        )
        for rank, patient_id, due, working_day, booked, codes, number, name, born, missed in rows(
            page_sql("{clinics}")
        )
    ]
    mdt = [
        PatientRow(i, ctx.reference(n), m, day(d), s, r, day(f), note or None, v)
        for i, n, m, d, s, r, f, note, v in rows(SIDE_SQL["mdt_review"])
    ]
    lost = [
        PatientRow(i, ctx.reference(n), m, day(d), s, None)
        for i, n, m, d, s in rows(SIDE_SQL["lost_to_follow_up"])
    ]
    cancels = [
        CancelRow(i, p, ctx.reference(n), m, c, day(b), v, day(d))
        for i, p, n, m, c, b, v, d in rows(SIDE_SQL["booking_to_cancel"])
    ]
    counts = {name: counts.get(name, 0) for name in LISTS}
    result = WorklistPage(tuple(items), counts, sum(counts[c] for c in CATEGORIES), 1, page_size)
    lists = render_template(
        "_worklist_lists.html",
        result=result,
        lists=LISTS,
        category=None,
        exam=None,
        query="",
        sort="due",
        args={},
        due_range={"due_from": "", "due_to": ""},
        refused=None,
        refused_field=None,
        today=today,
        clinic_ids=clinic_ids,
        found=None,
        mdt=mdt,
        cancels=cancels,
        lost=lost,
        reasons=lambda text: mdt_reasons(text, ctx.settings.cea_upper_limit),
        exam_codes=EXAM_CODES,
        failed_digests=0,
    )
    return render_template("worklist.html", lists=Markup(lists))  # rendered anew every time


# ---- the client side ----------------------------------------------------------------


class Client:
    """One nurse's browser: a keep-alive connection and the session cookie of one login."""

    def __init__(self, port: int):
        self.port = port
        self.timeout: float | None = 30
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=self.timeout)
        self.cookies: dict[str, str] = {}

    def reconnect(self, timeout: float | None = 30) -> None:
        """A new connection (the session cookie stays), with this time-out for its answers."""
        self.conn.close()
        self.timeout = timeout
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, str]:
        headers = {"User-Agent": "bench/web.py", "Host": f"127.0.0.1:{self.port}"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (1, 2):  # a keep-alive connection the server closed: reconnect once
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                text = response.read().decode()
                break
            except (http.client.RemoteDisconnected, ConnectionError, http.client.BadStatusLine):
                self.reconnect(self.timeout)
                if attempt == 2:
                    raise
            except TimeoutError:
                self.reconnect(self.timeout)  # else the connection is left mid-request
                raise
        for header in response.headers.get_all("Set-Cookie") or ():
            name, _, rest = header.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response.status, text

    def log_in(self) -> None:
        """Through the real form: the csrf_token scraped from the page, then the POST."""
        status, page = self.request("GET", "/login")
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
            r'id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)"', page
        )
        if status != 200 or not token:
            raise SystemExit(f"no login form (HTTP {status})")
        body = urllib.parse.urlencode(
            {"csrf_token": token.group(1), "email": EMAIL, "password": PASSWORD}
        )
        status, _ = self.request("POST", "/login", body)
        if status != 302:
            raise SystemExit(f"login failed (HTTP {status}); stopping before the throttle")
        _, page = self.request("GET", "/")
        found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
        self.csrf = found.group(1) if found else ""

    def search_body(self, text: str) -> str:
        """The search form as the browser posts it."""
        return urllib.parse.urlencode({"csrf_token": self.csrf, "q": text})


def measure(
    clients: list[Client], path: str, patient_ids: list[int], seconds: float, max_requests: int
) -> tuple[float, float, int, int]:
    """All clients on one route for `seconds` (or `max_requests` each): req/s, p95 s, n, errors."""
    latencies: list[list[float]] = [[] for _ in clients]
    errors = [0] * len(clients)
    start = time.perf_counter()
    stop = start + seconds

    def work(i: int) -> None:
        rng = random.Random(i)
        client, spent = clients[i], latencies[i]
        for _ in range(max_requests):
            if time.perf_counter() >= stop:
                break
            target = path.format(id=rng.choice(patient_ids)) if "{id}" in path else path
            began = time.perf_counter()
            if target.startswith("POST "):
                body = client.search_body(rng.choice(SEARCHED))
                status, _ = client.request("POST", target.removeprefix("POST "), body)
            else:
                status, _ = client.request("GET", target)
            spent.append(time.perf_counter() - began)
            errors[i] += status != 200

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    every = [x for spent in latencies for x in spent]
    p95 = statistics.quantiles(every, n=20)[-1] if len(every) >= 20 else max(every, default=0)
    return len(every) / elapsed, p95, len(every), sum(errors)


def warm_up(clients: list[Client], path: str, patient_ids: list[int], seconds: float) -> None:
    """One request per client, one after the other and with no time-out (a cold feed of
    100,000 patients is built once per worker: minutes, not the clients' 30 s), then load."""
    for client in clients:
        client.reconnect(None)
        began = time.perf_counter()
        measure([client], path, patient_ids, 1e9, 1)
        spent = time.perf_counter() - began
        if spent > 5:
            print(f"  (warm-up: {path.split('/')[1] or '/'} answered in {spent:.0f} s)", flush=True)
        client.reconnect(30)
    measure(clients, path, patient_ids, seconds, 10_000)


# ---- the run ------------------------------------------------------------------------


def free_port() -> int:
    """A free port on loopback; within BENCH_PORTS ("7500-7519") if set (a shared machine)."""
    first, _, last = os.environ.get("BENCH_PORTS", "0-0").partition("-")
    for port in range(int(first), int(last or first) + 1):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise SystemExit(f"no free port in BENCH_PORTS={os.environ['BENCH_PORTS']}")


def start_server(url: str, workdir: Path, args) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = dict(
        os.environ,
        BENCH_WEB_DATABASE=url,
        BENCH_WEB_SECRET="bench-" + os.urandom(16).hex(),
        BENCH_WEB_INSTANCE=str(workdir / "instance"),
    )
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--chdir",
        str(HERE),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(args.workers),
        "--threads",
        str(args.threads),
        "--worker-class",
        args.worker_class,
        "--log-level",
        "warning",
        "web:bench_app()",
    ]
    # From this checkout's root: `python -m` puts the working directory first on sys.path, so
    # a run started elsewhere (another checkout, to compare with) would serve that one's code.
    server = subprocess.Popen(command, env=env, cwd=HERE.parent)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server, port
        except OSError:
            time.sleep(0.2)
    stop_server(server)
    raise SystemExit("gunicorn did not answer within 60 s")


def stop_server(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def prepare(url: str, patients, loaded: bool = False) -> tuple[list[int], str]:
    """Load the patients (unless `loaded`), make the worklist realistic, add the nurse; some
    ids, a feed token."""
    from _synthetic import CLINIC
    from foundation import load_ours, realistic_worklist

    from surveillance.db import make_engine, make_sessionmaker
    from surveillance.feeds.store import create_clinic_feed
    from surveillance.services import Actor
    from surveillance.services.accounts import Admin, add_user

    if not loaded:
        wall, _ = load_ours(url, patients)
        print(f"  loaded {len(patients):,} patients in {wall:.1f} s", flush=True)
        realistic_worklist(url)
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            if not loaded:
                add_user(
                    session,
                    Admin(Actor("bench")),
                    email=EMAIL,
                    password=PASSWORD,
                    role="nurse",
                    clinic_codes=[CLINIC],
                )
                session.commit()
            ids = session.scalars(sa.text("SELECT id FROM patients ORDER BY id")).all()
            clinic = session.scalar(sa.text("SELECT min(id) FROM clinics"))
            token = create_clinic_feed(session, Actor("bench"), clinic).token
    finally:
        engine.dispose()
    return random.Random(1).sample(ids, min(1000, len(ids))), token


def _without_tokens(page: str) -> str:
    """The page without its CSRF tokens (timestamped) and with the floor's path as "/"."""
    page = re.sub(r'(name="csrf_token"[^>]*value=")[^"]+"', r'\1"', page)
    return page.replace("/bench/floor?", "/?")


def bench_backend(
    backend: str, url: str, workdir: Path, patients, args, loaded: bool = False
) -> tuple[list[tuple], float]:
    """Load, serve and measure one backend: its two table rows and the floor's p95."""
    from foundation import bench_worklist

    print(f"\n{backend}: {'reusing the kept database' if loaded else 'loading ...'}", flush=True)
    patient_ids, token = prepare(url, patients, loaded)
    if args.load_only:
        return [], 0.0
    figure, _ = bench_worklist(backend, url, args.repeat)
    print(
        f"  worklist() counts + page in process: {figure.ours * 1000:.2f} ms, "
        f"floor {figure.floor * 1000:.2f} ms ({figure.ours / figure.floor:.2f}x)",
        flush=True,
    )
    server, port = start_server(url, workdir, args)
    try:
        clients = [Client(port) for _ in range(args.clients)]
        for client in clients:
            client.log_in()
        # The floor must show what the worklist shows, or the comparison means nothing.
        _, ours = clients[0].request("GET", "/")
        _, floor = clients[0].request("GET", "/bench/floor")
        if _without_tokens(ours) != _without_tokens(floor):
            diff = difflib.unified_diff(
                _without_tokens(ours).splitlines(),
                _without_tokens(floor).splitlines(),
                lineterm="",
                n=1,
            )
            print("\n".join(list(diff)[:40]))
            raise SystemExit(f"{backend}: the floor page differs from the worklist page")
        print(
            f"  the worklist page: {len(ours.encode()):,} bytes, {ours.count('<tr')} table rows "
            f"(the MDT and to-cancel lists show their first rows)",
            flush=True,
        )
        results = {}
        routes = [
            (name, path.replace("{token}", token)) for name, path in ROUTES if name not in args.skip
        ]
        for _name, path in routes:  # warm every worker and pool up first
            warm_up(clients, path, patient_ids, args.warmup)
        for name, path in routes:
            rps, p95, n, errors = measure(clients, path, patient_ids, args.seconds, 1_000_000)
            results[name] = (rps, p95)
            print(
                f"  {name:<9} {path:<16} {n:>7,} requests  {rps:8,.0f} req/s  "
                f"p95 {p95 * 1000:6.1f} ms" + (f"  ERRORS {errors}" if errors else ""),
                flush=True,
            )
            if errors:
                raise SystemExit(f"{backend}: {errors} responses other than 200 on {path}")
    finally:
        stop_server(server)
    ceiling, floor = results["ceiling"][0], results["floor"][0]
    GROWTH.append((len(patients), backend, figure.ours, figure.floor, results))
    return (
        [(backend, page, *results[page], ceiling, floor) for page in ("worklist", "patient")],
        results["floor"][1],
    )


GROWTH: list[tuple] = []  # (patients, backend, worklist() s, floor s, {route: (req/s, p95)})


def print_growth() -> None:
    """The growth table, and the cost at the largest size over the smallest (aim <= 1.5x)."""
    print("\ngrowth: worklist() counts + page in process, then HTTP req/s and p95 ms per page")
    header = f"{'patients':>9}  {'backend':<10}  {'worklist() ms':>13}  {'floor ms':>8}"
    print(header + "".join(f"  {p + ' req/s':>14}  {'p95':>6}" for p in PAGES))
    for n, backend, ours, floor, results in GROWTH:
        line = f"{n:>9,}  {backend:<10}  {ours * 1000:>13.2f}  {floor * 1000:>8.2f}"
        print(line + "".join(_cells(results.get(p)) for p in PAGES))
    for backend in sorted({g[1] for g in GROWTH}):
        rows = sorted(g for g in GROWTH if g[1] == backend)
        if len(rows) < 2:
            continue
        (small, *_, s_ours, _, s_res), (large, *_, l_ours, _, l_res) = rows[0], rows[-1]
        ratios = [f"worklist() {l_ours / s_ours:.2f}x"] + [
            f"{p} {s_res[p][0] / l_res[p][0]:.2f}x" if p in s_res and p in l_res else f"{p} -"
            for p in PAGES
        ]
        print(
            f"{backend}: cost at {large:,} over {small:,} patients (aim <= 1.5x for the worklist "
            f"and the patient page; HTTP cost = 1 / req/s): " + ", ".join(ratios)
        )


def _cells(measured: tuple[float, float] | None) -> str:
    if measured is None:  # a route left out (--skip)
        return f"  {'-':>14}  {'-':>6}"
    return f"  {measured[0]:>14,.0f}  {measured[1] * 1000:>6.1f}"


def print_table(rows: list[tuple], floor_p95: dict) -> None:
    header = (
        "backend",
        "page",
        "req/s",
        "p95 ms",
        "ceiling req/s",
        "floor req/s",
        "ours/floor",
        "aim (>= 0.6x, p95 < 50 ms)",
    )
    lines = []
    for backend, page, rps, p95, ceiling, floor in rows:
        ratio = rps / floor
        met = ratio >= AIM_RATIO and p95 * 1000 < AIM_P95_MS
        why = (
            []
            if met
            else ([f"ratio {ratio:.2f}"] if ratio < AIM_RATIO else [])
            + ([f"p95 {p95 * 1000:.0f} ms"] if p95 * 1000 >= AIM_P95_MS else [])
        )
        lines.append(
            (
                backend,
                page,
                f"{rps:,.0f}",
                f"{p95 * 1000:.1f}",
                f"{ceiling:,.0f}",
                f"{floor:,.0f} (p95 {floor_p95[backend] * 1000:.1f})",
                f"{ratio:.2f}x",
                "met" if met else "MISSED: " + ", ".join(why),
            )
        )
    widths = [max(len(r[i]) for r in lines + [header]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" if i < 2 else f"{{:>{w}}}" for i, w in enumerate(widths))
    print("\n" + fmt.format(*header))
    print("  ".join("-" * w for w in widths))
    for line in lines:
        print(fmt.format(*line))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    from _databases import POSTGRES_SERVER

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000, help="default 100000")
    parser.add_argument(
        "--sizes",
        default="",
        help="comma-separated patient counts for a growth table (e.g. 1000,10000,100000)",
    )
    parser.add_argument("--repeat", type=int, default=15, help="runs of worklist() in process")
    parser.add_argument(
        "--backends",
        default="sqlite,postgresql",
        help="comma-separated: sqlite, postgresql (default both)",
    )
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--seconds", type=float, default=10.0, help="per route (default 10)")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds per route before")
    parser.add_argument("--clients", type=int, default=8)
    # The deployment guide's gunicorn (docs/deploy.md): sync workers behind the TLS proxy.
    parser.add_argument(
        "--worker-class",
        choices=("sync", "gthread"),
        default="sync",
        help="gunicorn's worker class (default sync, as docs/deploy.md deploys it)",
    )
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers (default 3)")
    parser.add_argument(
        "--threads", type=int, default=1, help="threads per gthread worker (default 1)"
    )
    parser.add_argument(
        "--postgres",
        default=POSTGRES_SERVER,
        help="the server where a throwaway database is made and dropped",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        default=None,
        help="a folder where the loaded databases are kept and reused by later runs "
        "(SQLite files, and PostgreSQL databases <--keep-database>_<size>)",
    )
    parser.add_argument(
        "--keep-database",
        default="surveillance_bench_keep",
        help="with --keep: the kept PostgreSQL databases are named <this>_<size> "
        "(default surveillance_bench_keep)",
    )
    parser.add_argument(
        "--load-only", action="store_true", help="with --keep: load the databases and stop"
    )
    parser.add_argument(
        "--skip",
        default="",
        help="comma-separated routes left out: search, feed (a cold feed of 100,000 "
        "patients takes minutes per worker to build)",
    )
    args = parser.parse_args(argv)
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    args.skip = {r.strip() for r in args.skip.split(",") if r.strip()}
    if args.skip - {"search", "feed"}:
        parser.error("--skip takes search and feed only (the tables need the others)")
    args.sizes = [int(n) for n in args.sizes.split(",") if n.strip()] or [args.patients]
    if unknown := set(args.backends) - {"sqlite", "postgresql"}:
        parser.error(f"unknown backends: {', '.join(sorted(unknown))}")
    if args.worker_class == "sync" and args.threads != 1:
        parser.error("--threads needs --worker-class gthread (a sync worker has one)")
    if not 0 < args.seconds <= 120 or not 0 < args.clients <= 64:
        parser.error("--seconds must be in (0, 120] and --clients in (0, 64]")
    return args


def use_real_date() -> date:
    """Make the synthetic world's "today" the server's, which the app's pages use.

    The generator and foundation's load and booking steps are written for a fixed day; the
    dashboard has no clock to set, so the data move to the real date instead (else months of
    exams would be overdue on the worklist and the page would measure a stale clinic).
    """
    import _synthetic
    import foundation

    from surveillance.clock import clinic_today
    from surveillance.config import load_config

    today = clinic_today(load_config(environ={}).protocol.timezone)
    _synthetic.TODAY = foundation.TODAY = today
    _synthetic.CTX = foundation.CTX = replace(_synthetic.CTX, today=today)
    return today


def main(argv: list[str] | None = None) -> None:
    from _databases import database, kept_database, postgres_unreachable
    from _synthetic import synthetic_patients

    args = parse_args(argv)
    today = use_real_date()
    print(
        f"web benchmark: {', '.join(f'{n:,}' for n in args.sizes)} patients, seed {args.seed},"
        f" data made for "
        f"{today} (the server's date), gunicorn {args.worker_class} {args.workers} workers x "
        f"{args.threads} threads, {args.clients} clients, {args.seconds:g} s per route, "
        f"Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}"
    )
    for size in args.sizes:
        print(f"\n=== {size:,} patients ===")
        patients = synthetic_patients(size, args.seed)
        rows, floor_p95 = [], {}
        with tempfile.TemporaryDirectory(prefix="surveillance-bench-web-") as workdir:
            for backend in args.backends:
                if backend == "postgresql" and (reason := postgres_unreachable(args.postgres)):
                    print(f"\npostgresql skipped: {reason}")
                    continue
                if args.keep:
                    kept = kept_database(
                        backend, args.keep, size, args.postgres, args.keep_database
                    )
                else:
                    kept = database(backend, Path(workdir), "web", args.postgres)
                with kept as url:
                    ready = args.keep / f"{backend}-{size}.ready" if args.keep else None
                    loaded = ready is not None and ready.exists()
                    got, floor_p95[backend] = bench_backend(
                        backend, url, Path(workdir), patients, args, loaded
                    )
                    if ready is not None:
                        ready.touch()
                rows += got
        print_table(rows, floor_p95)
    print_growth()


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    main()
