"""Benchmark of `surveillance demo`: its load time and memory at several sizes.

The demo is loaded in one transaction (all or nothing), each size into a fresh database made
by the migrations, in a forked child so that each peak memory is its own. The aim is a time
that grows with the patients, not faster: the time per patient at each size is printed next
to the smallest size's, and their ratio should stay near 1.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

from _databases import POSTGRES_SERVER, count_rows, database, postgres_unreachable
from _measure import Figure, in_child, print_table
from _synthetic import CTX

from surveillance.db import make_engine, make_sessionmaker
from surveillance.demo import load_demo

# The aim: from the smallest size to each larger one, the time per patient grows by at most this.
LINEAR_AIM = 1.3


def load(url: str, patients: int, seed: int) -> tuple[float, float]:
    """Load the demo; its wall time and the CPU time of this process (SQLite's work included)."""
    engine = make_engine(url)
    try:
        if engine.dialect.name == "postgresql":
            # The benchmark's clinic was inserted with its id given: move the sequence past it.
            with engine.begin() as conn:
                conn.exec_driver_sql(
                    "SELECT setval(pg_get_serial_sequence('clinics', 'id'), max(id)) FROM clinics"
                )
        wall, cpu = time.perf_counter(), time.process_time()
        with make_sessionmaker(engine)() as session:
            assert load_demo(session, CTX, patients, seed) == "DEMO"
        return time.perf_counter() - wall, time.process_time() - cpu
    finally:
        engine.dispose()


def bench_backend(backend: str, sizes: list[int], seed: int, server: str) -> list[Figure]:
    figures: list[Figure] = []
    first: tuple[float, float] | None = None
    with tempfile.TemporaryDirectory(prefix="bench-demo-") as workdir:
        for size in sizes:
            with database(backend, Path(workdir), f"demo{size}", server) as url:
                (wall, cpu), rss = in_child(load, url, size, seed)
                rows = count_rows(url)
                size_mb = _file_mb(Path(workdir) / f"demo{size}.db") if backend == "sqlite" else 0
            per_patient = wall / size
            first = first or (per_patient, cpu / size)
            print(
                f"{backend} {size:>7,} patients: {wall:7.1f} s wall, {cpu:7.1f} s CPU here, "
                f"{per_patient * 1000:6.2f} ms/patient, peak RSS growth {rss:,.0f} MB, "
                f"{rows['planned_exams']:,} exams, {rows['controls']:,} controls"
                + (f", file {size_mb:,.0f} MB" if size_mb else ""),
                flush=True,
            )
            aim = LINEAR_AIM if figures else None
            figures += [
                Figure(f"{backend}: time per patient at {size:,}", per_patient, first[0], "s", aim),
                # The machine is shared: the CPU time of the loading process is steadier.
                Figure(f"{backend}: its CPU time per patient", cpu / size, first[1], "s", aim),
            ]
    return figures


def _with_cpu(record: logging.LogRecord) -> bool:
    """The loading process's CPU time so far (the machine is shared: wall time is not ours)."""
    record.cpu = time.process_time()
    return True


def _file_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 1024 / 1024


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--postgres", default=POSTGRES_SERVER)
    parser.add_argument("--progress", action="store_true", help="log every batch of patients")
    args = parser.parse_args(argv)
    if args.progress:  # the time of each batch: a load growing faster than its size shows here
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s cpu %(cpu).1f s: %(message)s"))
        handler.addFilter(_with_cpu)
        logging.getLogger("surveillance.demo").addHandler(handler)
        logging.getLogger("surveillance.demo").setLevel(logging.DEBUG)
    figures: list[Figure] = []
    for backend in args.backends:
        if backend == "postgresql" and (why := postgres_unreachable(args.postgres)):
            print(f"postgresql skipped: {why}")
            continue
        figures += bench_backend(backend, sorted(args.patients), args.seed, args.postgres)
    print_table(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
