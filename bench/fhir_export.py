"""Benchmark of the FHIR export: building and validating every resource of a clinic with
fhir.resources, next to serialising the same resources' plain dictionaries with json.dumps
(the floor: what the export would cost without the library's models and validation).

Run: `python bench/run.py fhir_export [--patients N]` (SQLite in a temporary directory).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

import sqlalchemy as sa

from surveillance.db import make_engine, make_sessionmaker
from surveillance.db.migrate import upgrade
from surveillance.db.models import Clinic
from surveillance.demo import load_demo
from surveillance.fhir.codes import Site
from surveillance.fhir.export import clinic_patients, export_clinic
from surveillance.fhir.record import patient_record
from surveillance.services import Actor, Context

TODAY = date(2026, 6, 1)


def main() -> None:
    """Load the demo clinic, then time ours and the floor in turns."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-fhir-"))
    engine = make_engine(f"sqlite:///{folder}/bench.db")
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    ctx = Context(Actor("bench"), TODAY, accept_synthetic_ids=True)
    with sessions() as session:
        load_demo(session, ctx, args.patients, 2025)
        clinic_id = session.scalar(sa.select(Clinic.id).where(Clinic.code == "DEMO"))
        site = Site("http://127.0.0.1:5000")
        dicts = [
            r.model_dump(mode="json", exclude_none=True)
            for p in clinic_patients(session, clinic_id)
            for r in patient_record(p, site)
        ]
    ours, floor = [], []
    for run in range(args.repeat):
        with sessions() as session:
            start = time.perf_counter()
            export_clinic(session, Actor("bench"), "DEMO", site, folder / f"out{run}")
            ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        with open(folder / "floor.ndjson", "w", encoding="utf-8") as out:
            out.writelines(json.dumps(d, ensure_ascii=False) + "\n" for d in dicts)
        floor.append(time.perf_counter() - start)
    mine, bare = statistics.median(ours), statistics.median(floor)
    print(f"patients {args.patients}, resources {len(dicts)}")
    print(
        f"export (query, build, validate, write): {mine:.2f} s, {len(dicts) / mine:,.0f} resources/s"
    )
    print(
        f"floor (json.dumps of the same dicts):   {bare:.2f} s, {len(dicts) / bare:,.0f} resources/s"
    )
    print(f"ratio ours / floor: {mine / bare:.1f}x")
    engine.dispose()


if __name__ == "__main__":
    main()
