"""Benchmark of the patient search in process: search_patients beside the scan it replaced.

On a loaded database (e.g. one kept by `web.py --keep DIR`, upgraded to the migrations'
head), each text is searched by search_patients (issue 10: the suffix index, or the walk of
the name index for a common text) and by the search before issue 10, LIKE '%text%' over the
clinic's patients (the scan), alternately so that both see the same machine load. Both must
give the same patients in the same order; the figures are milliseconds, median and p95.

    python bench/search.py sqlite:////work/bench-keep/web-100000.db
    python bench/search.py postgresql+psycopg://postgres@127.0.0.1:5432/surveillance_bench_keep_100000
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import date

import sqlalchemy as sa

from surveillance.db import make_engine, make_sessionmaker
from surveillance.db.migrate import upgrade
from surveillance.db.models import Patient
from surveillance.services import Actor, Context
from surveillance.services.review import search_patients

CTX = Context(Actor("bench"), date(2026, 6, 1), accept_synthetic_ids=True)
# The web bench's names (common: every 8th patient, "hansen" every 4th), a first name in one
# part of the alphabet, one letter, a full name, a miss, a reference and a number.
TEXTS = ("hansen", "olsen", "Berg", "dahl", "ø", "a", "kari hansen", "zz", "P-0042", "12345")


def scan(session, clinic_ids: list[int], text: str) -> list[int]:
    """The search before issue 10: a LIKE over every patient of the clinic."""
    text = text.strip()
    digits = text.removeprefix(CTX.reference_prefix).replace(" ", "")
    conditions = [Patient.name_key.contains(text.casefold(), autoescape=True)]
    if digits.isascii() and digits.isdigit():
        conditions.append(Patient.national_id == digits)
        if len(digits) <= 9:
            conditions.append(Patient.local_number == int(digits))
    query = (
        sa.select(Patient.id)
        .where(Patient.clinic_id.in_(clinic_ids), sa.or_(*conditions))
        .order_by(Patient.name, Patient.local_number)
        .limit(50)
    )
    return list(session.scalars(query))


def p95(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="a loaded database (upgraded to the head first)")
    parser.add_argument("--repeat", type=int, default=30, help="runs per text and way")
    args = parser.parse_args(argv)
    engine = make_engine(args.url)
    upgrade(engine)
    with make_sessionmaker(engine)() as session:
        clinic_ids = list(session.scalars(sa.text("SELECT id FROM clinics ORDER BY id")))
        patients = session.scalar(sa.select(sa.func.count()).select_from(Patient))
        print(
            f"search benchmark: {patients:,} patients, {engine.dialect.name}, "
            f"{args.repeat} runs per text, milliseconds"
        )
        print(f"{'text':<14} {'rows':>4}  {'scan med':>8} {'p95':>7}  {'ours med':>8} {'p95':>7}")
        every: dict[str, list[float]] = {"scan": [], "ours": []}
        for text in TEXTS:
            times: dict[str, list[float]] = {"scan": [], "ours": []}
            for _ in range(args.repeat):
                start = time.perf_counter()
                before = scan(session, clinic_ids, text)
                times["scan"].append(time.perf_counter() - start)
                session.rollback()
                start = time.perf_counter()
                ours = search_patients(session, CTX, clinic_ids, text)
                times["ours"].append(time.perf_counter() - start)
                session.rollback()
            if [r.patient_id for r in ours] != before:
                raise SystemExit(f"{text!r}: the search and the scan found different patients")
            for way in times:
                every[way] += times[way]
            print(
                f"{text!r:<14} {len(ours):>4}  {statistics.median(times['scan']) * 1e3:8.1f} "
                f"{p95(times['scan']) * 1e3:7.1f}  {statistics.median(times['ours']) * 1e3:8.1f} "
                f"{p95(times['ours']) * 1e3:7.1f}"
            )
        print(
            f"{'every text':<14} {'':>4}  {statistics.median(every['scan']) * 1e3:8.1f} "
            f"{p95(every['scan']) * 1e3:7.1f}  {statistics.median(every['ours']) * 1e3:8.1f} "
            f"{p95(every['ours']) * 1e3:7.1f}"
        )
    engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
