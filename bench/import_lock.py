"""The largest allowed CSV import on SQLite, with 16 nurses working meanwhile.

Prints the longest time the import held SQLite's write lock (the whole database's one
writer; others wait for it up to the 10 s busy timeout), the import's own times, and what the
16 clients saw while it ran: requests, errors (must be 0) and latency.

    .venv/bin/python bench/run.py import_lock [--rows 20000] [--clients 16] [--port 6100]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import sqlalchemy as sa
from _synthetic import synthetic_patients
from web import EMAIL, PASSWORD, Client

from surveillance.clock import clinic_today
from surveillance.db import make_engine, make_sessionmaker
from surveillance.db.engine import IMMEDIATE
from surveillance.db.migrate import upgrade
from surveillance.services import Actor, Context
from surveillance.services.accounts import Admin, add_user
from surveillance.services.bulk import load_patients
from surveillance.services.clinics import create_clinic
from surveillance.services.imports import MAX_ROWS, check_file, import_rows

CLINIC = "LOAD"
HEADER = "fødselsnummer;navn;behandlingsdato;behandling;kontroller_utført_til"


def context() -> Context:
    return Context(Actor("bench"), clinic_today("Europe/Oslo"), accept_synthetic_ids=True)


def prepare(url: str, resident: int) -> list[int]:
    """The clinic, the bench nurse and `resident` patients already in follow-up; their ids."""
    engine = make_engine(url)
    upgrade(engine)
    admin = Admin(Actor("bench"))
    with make_sessionmaker(engine)() as session:
        create_clinic(session, admin, CLINIC, "Belastningsklinikken")
        add_user(
            session, admin, email=EMAIL, password=PASSWORD, role="nurse", clinic_codes=[CLINIC]
        )
        load_patients(session, context(), CLINIC, synthetic_patients(resident, seed=1))
        ids = list(session.scalars(sa.text("SELECT id FROM patients")))
    engine.dispose()
    return ids


def csv_file(rows: int) -> bytes:
    """`rows` new patients as a nurse's CSV file, none of them registered yet."""
    lines = [HEADER]
    for p in synthetic_patients(rows, seed=2):
        day, kind = p.treatments[-1]
        done = p.done_before.isoformat() if p.done_before and p.done_before > day else ""
        lines.append(f"{p.national_id};{p.name};{day.isoformat()};{kind};{done}")
    return ("\n".join(lines) + "\n").encode()


def run_import(url: str, data: bytes, results) -> None:
    """In a process of its own: the dashboard's two steps, check then confirm; lock holds timed."""
    engine = make_engine(url)
    holds: list[float] = []
    started: dict[int, float] = {}

    @sa.event.listens_for(engine, "begin")
    def _begin(conn):
        if conn.get_execution_options().get(IMMEDIATE):
            started[id(conn)] = time.perf_counter()

    @sa.event.listens_for(engine, "commit")
    @sa.event.listens_for(engine, "rollback")
    def _end(conn):
        if (t0 := started.pop(id(conn), None)) is not None:
            holds.append(time.perf_counter() - t0)

    ctx = context()
    try:
        results.put(_import(engine, ctx, data, holds))
    except Exception as exc:  # noqa: BLE001 (the parent waits for an answer: give it the failure)
        results.put(exc)
    finally:
        engine.dispose()


def _import(engine, ctx: Context, data: bytes, holds: list[float]) -> tuple:
    with make_sessionmaker(engine)() as session:
        t0 = time.perf_counter()
        preview = check_file(session, ctx, CLINIC, data)
        session.rollback()
        t1 = time.perf_counter()
        count = import_rows(session, ctx, CLINIC, preview)
        t2 = time.perf_counter()
    return count, t1 - t0, t2 - t1, max(holds, default=0.0), len(holds)


def start_server(config: Path, port: int, threads: int) -> subprocess.Popen:
    env = dict(os.environ, SURVEILLANCE_CONFIG=str(config))
    command = [str(Path(sys.executable).parent / "surveillance"), "serve", "--port", str(port)]
    server = subprocess.Popen(
        [*command, "--threads", str(threads)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,  # waitress's queue warnings: the clients keep it busy
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("the dashboard did not answer within 60 s")


def work(client: Client, ids: list[int], stop: threading.Event, seen: list) -> None:
    """A nurse: patient pages (each writes its audit row) and the worklist, until stopped."""
    rng = random.Random(id(client))
    while not stop.is_set():
        path = f"/patients/{rng.choice(ids)}" if rng.random() < 0.7 else "/"
        t0 = time.perf_counter()
        try:
            status, _ = client.request("GET", path)
        except OSError as exc:
            status = f"{type(exc).__name__}"
        seen.append((status, time.perf_counter() - t0))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=MAX_ROWS, help="rows of the CSV file")
    parser.add_argument("--resident", type=int, default=2000, help="patients already there")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--port", type=int, default=6100)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="import_lock-") as folder:
        return measure(Path(folder), args)


def measure(folder: Path, args) -> int:
    url = f"sqlite:///{folder}/load.db"
    config = folder / "config.toml"
    config.write_text(
        f'[database]\nurl = "{url}"\n[patients]\naccept_synthetic_ids = true\n'
        f'[web]\nsecret_key = "{os.urandom(16).hex()}"\ninstance_dir = "{folder}/instance"\n'
        "max_failures_per_address = 1000\n"
    )
    t0 = time.perf_counter()
    ids = prepare(url, args.resident)
    data = csv_file(args.rows)
    print(f"  prepared in {time.perf_counter() - t0:.1f} s", flush=True)
    print(
        f"import of {args.rows:,} rows ({len(data) / 1e6:.1f} MB) into a SQLite database of "
        f"{args.resident:,} patients; {args.clients} clients meanwhile",
        flush=True,
    )
    server = start_server(config, args.port, args.clients)
    try:
        clients = [Client(args.port) for _ in range(args.clients)]
        for client in clients:
            client.log_in()
        return _during_import(url, data, clients, ids)
    finally:
        server.terminate()
        server.wait(timeout=30)


def _during_import(url: str, data: bytes, clients: list[Client], ids: list[int]) -> int:
    stop, seen = threading.Event(), [[] for _ in clients]
    threads = [threading.Thread(target=work, args=(c, ids, stop, s)) for c, s in zip(clients, seen)]
    for t in threads:
        t.start()
    results = multiprocessing.get_context("fork").Queue()
    importer = multiprocessing.get_context("fork").Process(
        target=run_import, args=(url, data, results)
    )
    importer.start()
    outcome = results.get()
    importer.join()
    if isinstance(outcome, Exception):
        stop.set()
        raise SystemExit(f"the import failed: {outcome}")
    count, check_s, load_s, longest, transactions = outcome
    time.sleep(1)  # the requests that waited for the last commit
    stop.set()
    for t in threads:
        t.join()
    answers = [a for s in seen for a in s]
    errors = [status for status, _ in answers if not isinstance(status, int) or status >= 500]
    latencies = sorted(t for _, t in answers)
    print(f"  imported {count:,} patients: check {check_s:.1f} s, load {load_s:.1f} s")
    print(f"  longest write-lock hold: {longest:.2f} s ({transactions} write transactions)")
    print(
        f"  {len(answers):,} requests by {len(clients)} clients during the import; "
        f"errors: {len(errors)}; p95 {latencies[int(0.95 * len(latencies))]:.2f} s, "
        f"max {latencies[-1]:.2f} s"
    )
    if errors:
        print(f"  error statuses: {sorted(set(map(str, errors)))}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
