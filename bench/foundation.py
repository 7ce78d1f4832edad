"""Benchmark of the foundation: planning, bulk load, worklist and memory, each against a floor.

Every figure is printed next to a hand-written floor measured in the same run, on the same
rows: the machine is shared, so only the ratio of the two is stable.
"""

from __future__ import annotations

import argparse
import re
import sqlite3
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from _databases import (
    POSTGRES_SERVER,
    analyze,
    begin,
    bind_date,
    count_rows,
    database,
    insert_many,
    placeholders,
    postgres_unreachable,
    raw_connection,
    read_rows,
)
from _floors import LISTS, count_sql, page_sql, rebuild_controls
from _measure import Figure, in_child, maxrss_mb, median_times, print_table, traced_peak
from _synthetic import CLINIC, CTX, TODAY, histories, synthetic_patients

from surveillance.db import make_engine, make_sessionmaker
from surveillance.protocol import add_months, find_anchor, load_protocol, make_plan
from surveillance.services import worklist
from surveillance.services.bulk import NewPatient, load_patients

# ---- a) planning --------------------------------------------------------------------


def bench_planning(patients: list[NewPatient], repeat: int) -> list[Figure]:
    """make_plan for every patient against the bare month arithmetic of the same anchors."""
    protocol = load_protocol()
    stories = histories(patients)
    months = {kind: tuple(m for m, _ in protocol.schedules[kind]) for kind in protocol.schedules}
    anchors = [
        (a.date, months[a.kind])
        for h in stories
        if (a := find_anchor(protocol, h.treatments)) is not None
    ]

    def ours():
        for history in stories:
            make_plan(protocol, history)

    def floor():
        for start, schedule in anchors:
            for month in schedule:
                add_months(start, month)

    n = len(patients)
    ours_s, floor_s = median_times(ours, floor, repeat)
    return [
        Figure(
            f"a) plans per second, make_plan ({n:,} patients)",
            n / ours_s,
            n / floor_s,
            "plans/s",
            3.0,
            rate=True,
        )
    ]


# ---- b) bulk load -------------------------------------------------------------------


def load_ours(url: str, patients: list[NewPatient]) -> tuple[float, float]:
    """load_patients in one transaction; its wall time and this process's CPU time, in s."""
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            start, cpu = time.perf_counter(), time.process_time()
            load_patients(session, CTX, CLINIC, patients)
            return time.perf_counter() - start, time.process_time() - cpu
    finally:
        engine.dispose()


def load_floor(source_url: str, target_url: str) -> tuple[float, float]:
    """The rows load_patients wrote, inserted by the driver's executemany; wall and CPU s."""
    rows = read_rows(source_url)
    conn = raw_connection(target_url)
    try:
        start, cpu = time.perf_counter(), time.process_time()
        begin(conn)
        for table, (columns, values) in rows.items():
            insert_many(conn, table, columns, values)
        conn.commit()
        return time.perf_counter() - start, time.process_time() - cpu
    finally:
        conn.close()


# ---- c) the worklist ----------------------------------------------------------------


def realistic_worklist(url: str) -> None:
    """Book a third of the exams due now; some missed, MDT reviews and bookings to cancel."""
    conn = raw_connection(url)
    params = worklist_parameters(conn)
    try:
        begin(conn)
        for sql in (
            (
                "UPDATE planned_exams SET state = 'booked', booked_date = due_working_day, "
                "booked_place = 'Radiologisk avdeling' WHERE state = 'open' AND due >= :late "
                "AND due <= :horizon AND patient_id % 3 = 0"
            ),
            (
                "UPDATE planned_exams SET state = 'cancelled', cancel_reason = 'superseded', "
                "booking_to_cancel = TRUE WHERE state = 'booked' AND patient_id % 7 = 0"
            ),
            (
                "UPDATE planned_exams SET state = 'missed', missed_reason = 'Møtte ikke' "
                "WHERE state = 'open' AND due < :late AND patient_id % 5 = 0"
            ),
            "UPDATE patients SET mdt_review = TRUE, mdt_reason = 'CEA 12.3' WHERE id % 211 = 0",
        ):
            conn.execute(placeholders(conn, sql), params)
        conn.commit()
        rebuild_controls(conn)
        analyze(conn)
    finally:
        conn.close()


# The worklist's own queries, by hand: what a careful programmer would send without an ORM,
# against the controls (bench/_floors.py).
RAW_MDT = "SELECT count(*) FROM patients WHERE clinic_id = :clinic AND mdt_review"
RAW_LOST = "SELECT count(*) FROM patients WHERE clinic_id = :clinic AND lost_to_follow_up"
RAW_TO_CANCEL = "SELECT count(*) FROM planned_exams WHERE clinic_id = :clinic AND booking_to_cancel"


def raw_worklist_queries(conn) -> list[str]:
    """The counts and the first page of the worklist in the driver's SQL dialect."""
    return [
        placeholders(conn, sql)
        for sql in (count_sql(":clinic"), RAW_MDT, RAW_LOST, RAW_TO_CANCEL, page_sql(":clinic"))
    ]


def worklist_parameters(conn) -> dict:
    """The values the raw worklist queries are run with: clinic 1 on TODAY."""
    late = TODAY - timedelta(days=CTX.settings.overdue_after_days)
    horizon = TODAY + timedelta(days=CTX.settings.book_ahead_days)
    return {
        "clinic": 1,
        "today": bind_date(conn, TODAY),
        "late": bind_date(conn, late),
        "horizon": bind_date(conn, horizon),
        "page_size": 50,
    }


def bench_worklist(backend: str, url: str, repeat: int) -> tuple[Figure, dict[str, int]]:
    """worklist() against the same queries through the driver cursor; and the counts."""
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    conn = raw_connection(url)
    queries, params = raw_worklist_queries(conn), worklist_parameters(conn)

    def ours():
        with sessions() as session:
            return worklist(session, CTX, [1], page_size=50)

    def floor():
        results = [conn.execute(sql, params).fetchall() for sql in queries]
        conn.rollback()
        return results

    try:
        page = ours()
        _check_same(page, floor())
        figure = Figure(
            f"c) worklist page + counts, {backend}",
            *median_times(ours, floor, repeat, warmup=3),
            "s",
            3.0,  # issue 10: counts + page <= 3x the hand-written floor
        )
        return figure, page.counts
    finally:
        conn.close()
        engine.dispose()


def _check_same(page, raw: list[list[tuple]]) -> None:
    """The floor must answer what worklist() answers, or the comparison means nothing."""
    [counts], [(mdt,)], [(lost,)], [(to_cancel,)], rows = raw
    theirs = dict(zip(LISTS, counts)) | {
        "mdt_review": mdt,
        "lost_to_follow_up": lost,
        "booking_to_cancel": to_cancel,
    }
    if page.counts != theirs:
        raise SystemExit(
            f"the raw worklist counts differ from worklist(): {theirs} != {page.counts}"
        )
    names = list(LISTS)
    items = [(i.category, i.patient_id, str(i.due), i.codes) for i in page.items]
    if items != [(names[r[0]], r[1], str(r[2]), tuple(r[5].split())) for r in rows]:
        raise SystemExit("the raw worklist page differs from worklist()")


# ---- query plans --------------------------------------------------------------------


def worklist_plans(url: str) -> list[tuple[str, list[str]]]:
    """Each statement worklist() sends, with its plan from the database itself."""
    engine = make_engine(url)
    statements = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", capture)
    try:
        with make_sessionmaker(engine)() as session:
            worklist(session, CTX, [1], page_size=50)
        conn = engine.raw_connection()
        try:
            return [(s, explain(conn.driver_connection, s, p)) for s, p in statements]
        finally:
            conn.close()
    finally:
        engine.dispose()


def explain(conn, statement: str, parameters) -> list[str]:
    """EXPLAIN QUERY PLAN on SQLite, EXPLAIN ANALYZE on PostgreSQL, as lines of text."""
    if isinstance(conn, sqlite3.Connection):
        rows = conn.execute(f"EXPLAIN QUERY PLAN {statement}", parameters).fetchall()
        depth = {0: -1}
        lines = []
        for node, parent, _, detail in rows:
            depth[node] = depth.get(parent, -1) + 1
            lines.append("  " * depth[node] + detail)
        return lines
    with conn.cursor() as cur:
        cur.execute(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", parameters)
        lines = [row[0] for row in cur.fetchall()]
    conn.rollback()
    return lines


def print_plans(backend: str, plans) -> list[str]:
    """Print each worklist statement and its plan; return the warnings found in them."""
    warnings = []
    print(f"\n== worklist query plans, {backend} ==")
    for statement, plan in plans:
        print("\n" + _one_line(statement))
        print("\n".join("    " + line for line in plan))
        text = "\n".join(plan)
        if "FROM controls" in statement:
            used = re.findall(r"ix_controls_\w+", text)
            scan = "Seq Scan on controls" in text or re.search(r"SCAN controls(?! USING)", text)
            print(f"    -> index used: {', '.join(sorted(set(used))) or 'NONE'}")
            if not used or scan:
                warnings.append(f"{backend}: a scan of the controls in {_one_line(statement)[:60]}")
        if jit := re.search(r"Timing: .*Total ([\d.]+) ms", text):
            print(f"    -> JIT compilation: {jit.group(1)} ms of this statement's time")
        if "Gather" in text:
            warnings.append(f"{backend}: a parallel plan (Gather) in {_one_line(statement)[:60]}")
    return warnings


def _one_line(sql: str) -> str:
    return " ".join(sql.split())


# ---- the run ------------------------------------------------------------------------


def bench_backend(backend: str, workdir: Path, patients: list[NewPatient], args) -> list[Figure]:
    """Load, then query, one backend; the floor loads the same rows into a database of its own."""
    n = len(patients)
    with database(backend, workdir, "ours", args.postgres) as url:
        print(f"\n{backend}: loading {n:,} patients with load_patients ...", flush=True)
        (ours_s, ours_cpu), ours_mb = in_child(load_ours, url, patients)
        with database(backend, workdir, "floor", args.postgres) as floor_url:
            print(f"{backend}: loading the same rows with executemany ...", flush=True)
            (floor_s, floor_cpu), floor_mb = in_child(load_floor, url, floor_url)
            _same_counts(count_rows(url), count_rows(floor_url))
        print(
            f"{backend}: CPU time of this process: load_patients {ours_cpu:.1f} s, "
            f"executemany {floor_cpu:.1f} s (wall {ours_s:.1f} s and {floor_s:.1f} s)"
        )
        rows = count_rows(url)
        print(f"{backend}: " + ", ".join(f"{t} {c:,}" for t, c in rows.items()))
        realistic_worklist(url)
        worklist_figure, counts = bench_worklist(backend, url, args.repeat)
        print(
            f"{backend}: the worklist counts " + ", ".join(f"{k} {v:,}" for k, v in counts.items())
        )
        warnings = print_plans(backend, worklist_plans(url))
    for warning in warnings:
        print(f"WARNING: {warning}")
    return [
        Figure(f"b) bulk load of {n:,} patients, {backend}", ours_s, floor_s, "s", 2.0),
        worklist_figure,
        Figure(f"d) peak RSS growth during the load, {backend}", ours_mb, floor_mb, "MB"),
    ]


def _same_counts(ours: dict[str, int], floor: dict[str, int]) -> None:
    if ours != floor:
        raise SystemExit(f"the floor did not load the same rows: {ours} != {floor}")


def bench_traced(workdir: Path, patients: list[NewPatient], args) -> Figure:
    """The peak of Python allocations during a load, ours against the floor's (SQLite)."""
    with database("sqlite", workdir, "traced", args.postgres) as url:
        ours_mb, _ = in_child(traced_peak, load_ours, url, patients)
        with database("sqlite", workdir, "traced_floor", args.postgres) as floor_url:
            floor_mb, _ = in_child(traced_peak, load_floor, url, floor_url)
    return Figure(
        f"d) tracemalloc peak, load of {len(patients):,} patients, sqlite", ours_mb, floor_mb, "MB"
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000, help="default 100000")
    parser.add_argument(
        "--backends",
        default="sqlite,postgresql",
        help="comma-separated: sqlite, postgresql (default both)",
    )
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument(
        "--repeat", type=int, default=15, help="runs of each small measurement; the median is shown"
    )
    parser.add_argument(
        "--traced", type=int, default=10_000, help="patients in the tracemalloc load (0: skip it)"
    )
    parser.add_argument(
        "--postgres",
        default=POSTGRES_SERVER,
        help="the server where a throwaway database is made and dropped",
    )
    args = parser.parse_args(argv)
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if unknown := set(args.backends) - {"sqlite", "postgresql"}:
        parser.error(f"unknown backends: {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    print(
        f"foundation benchmark: {args.patients:,} patients, seed {args.seed}, today {TODAY}, "
        f"Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}"
    )
    start = time.perf_counter()
    patients = synthetic_patients(args.patients, args.seed)
    print(f"built {len(patients):,} synthetic patients in {time.perf_counter() - start:.1f} s")
    figures = bench_planning(patients, repeat=5)
    with tempfile.TemporaryDirectory(prefix="surveillance-bench-") as workdir:
        for backend in args.backends:
            if backend == "postgresql" and (reason := postgres_unreachable(args.postgres)):
                print(f"\npostgresql skipped: {reason}")
                continue
            figures += bench_backend(backend, Path(workdir), patients, args)
        if args.traced:
            figures.append(bench_traced(Path(workdir), patients[: args.traced], args))
    print_table(figures)
    print(
        f"\npeak RSS of the benchmark process itself: {maxrss_mb():,.0f} MB "
        f"(the loads ran in child processes)"
    )


if __name__ == "__main__":
    main()
