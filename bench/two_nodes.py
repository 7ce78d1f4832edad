"""Two dashboard nodes on one PostgreSQL under load, while a node or the database is cut.

16 clients (half on each node) read the worklist and patient pages and write notes for
`--seconds`; at `--cut-at` seconds either node A is killed (SIGKILL) and restarted
`--down` seconds later (`--cut node`), or the database is restarted (`--cut database`).
The clients act like a load balancer's: a request that could not connect (nothing was sent)
goes to the other node; a request that was sent and lost its answer is an error, the
"in flight" kind. Afterwards every acknowledged note (a 302) must be in the database once.

The database is a private PostgreSQL cluster started for the run (tests/support/nodes.py:
initdb into a temporary folder, a port of 6400-6449), so the machine's shared server is
never restarted; it needs PostgreSQL's server binaries.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

# The process helpers are the tests' own (tests/support/nodes.py): one way to run a node.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from surveillance.clock import clinic_today
from surveillance.db import make_engine, make_sessionmaker
from surveillance.db.models import PatientNote
from surveillance.identity import make_synthetic_id
from surveillance.services import Actor, Context, register_patient
from tests.support.nodes import (
    Client,
    Node,
    PrivateCluster,
    node_config,
    postgres_binaries_or_skip,
    prepare_database,
)

KINDS = ("worklist", "patient", "write")
WEIGHTS = (4, 4, 2)


@dataclass
class Tally:
    """What the clients saw, by kind of request."""

    done: Counter = field(default_factory=Counter)
    in_flight: Counter = field(default_factory=Counter)  # sent, answer lost
    server_errors: Counter = field(default_factory=Counter)  # 5xx answers
    rerouted: int = 0  # could not connect: sent to the other node instead
    failed_at: list[float] = field(default_factory=list)  # when each failure was seen
    failed_on: Counter = field(default_factory=Counter)  # by node: "A" or "B"
    acknowledged: list[str] = field(default_factory=list)
    unanswered: list[str] = field(default_factory=list)
    seconds: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in KINDS})
    guard: threading.Lock = field(default_factory=threading.Lock)


class Balanced:
    """One nurse: a preferred node, the other when the preferred one cannot be reached."""

    def __init__(self, ports: list[int], preferred: int):
        self.ports, self.preferred = ports, preferred
        self.client = Client(ports[preferred], timeout=30)

    def request(
        self, tally: Tally, method: str, path: str, page: str | None = None, **fields: str
    ) -> tuple[int, str] | None:
        """The answer's status and text; None when the request was sent and its answer lost."""
        for port in (self.ports[self.preferred], self.ports[1 - self.preferred]):
            self.client.on(port)
            try:
                if page is not None:
                    status, text, _ = self.client.post_form(path, page, **fields)
                else:
                    status, text, _ = self.client.request(method, path)
                return status, text
            except ConnectionRefusedError:
                with tally.guard:
                    tally.rerouted += 1
            except OSError:
                return None
        return None


def prepare(url: str, patients: int) -> list[int]:
    """The clinic's nurse and `patients` patients treated months ago, with their plans."""
    prepare_database(url)
    engine = make_engine(url, poolclass=sa.pool.NullPool)
    today = clinic_today()
    ctx = Context(Actor("bench"), today, accept_synthetic_ids=True)
    ids = []
    with make_sessionmaker(engine)() as session:
        for i in range(patients):
            birth = today.replace(year=1950 + i % 30)
            patient = register_patient(
                session,
                ctx,
                clinic_code="TEST",
                national_id=_synthetic(birth, i),
                name=f"Pasient {i}",
                treatment_date=today - timedelta(days=30 + 11 * i % 700),
                treatment_kind="resection",
            )
            ids.append(patient.id)
    engine.dispose()
    return ids


def _synthetic(birth, serial: int) -> str:
    while (number := make_synthetic_id(birth, serial % 500)) is None:
        serial += 1
    return number


def work(number: int, nurse: Balanced, ids: list[int], stop: float, tally: Tally) -> None:
    """One client's loop: a random mix of worklist, patient pages and notes."""
    rng = random.Random(number)
    page = ""
    written = 0
    while time.monotonic() < stop:
        kind = rng.choices(KINDS, WEIGHTS)[0]
        patient = rng.choice(ids)
        began = time.monotonic()
        if kind == "write" and page:
            written += 1
            text = f"bench-{number}-{written}"
            answer = nurse.request(
                tally, "POST", f"/patients/{patient}/notes", page=page, text=text
            )
        else:
            kind = "worklist" if kind == "worklist" else "patient"
            path = "/" if kind == "worklist" else f"/patients/{patient}"
            answer = nurse.request(tally, "GET", path)
            if answer and answer[0] == 200 and kind == "patient":
                page = answer[1]
        node = "AB"[nurse.ports.index(nurse.client.port)]
        _count(tally, kind, answer, time.monotonic() - began, text if kind == "write" else None)
        if answer is None or answer[0] >= 500:
            with tally.guard:
                tally.failed_on[node] += 1


def _count(tally: Tally, kind: str, answer, seconds: float, note: str | None) -> None:
    with tally.guard:
        tally.done[kind] += 1
        tally.seconds[kind].append(seconds)
        if answer is None:
            tally.in_flight[kind] += 1
        elif answer[0] >= 500:
            tally.server_errors[kind] += 1
        if answer is None or answer[0] >= 500:
            tally.failed_at.append(time.monotonic())
        if note is not None:
            acknowledged = answer is not None and answer[0] == 302
            (tally.acknowledged if acknowledged else tally.unanswered).append(note)


def cut(kind: str, nodes: list[Node], cluster: PrivateCluster, down: float) -> str:
    """Kill node A and start it again after `down` s, or restart the database."""
    began = time.monotonic()
    if kind == "node":
        nodes[0].kill()
        time.sleep(down)
        nodes[0].start()
        return f"node A killed, back and healthy after {time.monotonic() - began:.1f} s"
    cluster.restart("fast")
    return f"database restarted in {time.monotonic() - began:.1f} s"


def check_writes(url: str, tally: Tally) -> tuple[int, int, int]:
    """Acknowledged notes missing, notes stored twice, and unanswered notes that were stored."""
    engine = make_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        stored = Counter(
            conn.scalars(sa.select(PatientNote.text).where(PatientNote.text.like("bench-%")))
        )
    engine.dispose()
    lost = sum(1 for note in tally.acknowledged if note not in stored)
    twice = sum(1 for n in stored.values() if n > 1)
    return lost, twice, sum(1 for note in tally.unanswered if note in stored)


def run(args, kind: str, binaries: Path) -> None:
    """One measured run with one cut."""
    cluster = PrivateCluster(binaries)
    nodes: list[Node] = []
    try:
        cluster.start()
        url = cluster.create_database("bench")
        ids = prepare(url, args.patients)
        with tempfile.TemporaryDirectory(prefix="two-nodes-") as folder:
            nodes = [
                Node(node_config(Path(folder) / name, url), threads=args.threads).start()
                for name in ("a", "b")
            ]
            ports = [node.port for node in nodes]
            nurses = [Balanced(ports, i % 2) for i in range(args.clients)]
            for nurse in nurses:
                nurse.client.log_in()
            tally, stop = Tally(), time.monotonic() + args.seconds
            threads = [
                threading.Thread(target=work, args=(i, nurse, ids, stop, tally))
                for i, nurse in enumerate(nurses)
            ]
            for thread in threads:
                thread.start()
            time.sleep(args.cut_at)
            cut_at = time.monotonic()
            what = cut(kind, nodes, cluster, args.down)
            for thread in threads:
                thread.join()
            report(kind, what, tally, check_writes(url, tally), args, cut_at)
    finally:
        for node in nodes:
            node.stop()
        cluster.remove()


def report(
    kind: str, what: str, tally: Tally, writes: tuple[int, int, int], args, cut_at: float
) -> None:
    lost, twice, unanswered_stored = writes
    print(f"\n--cut {kind}: {what}; {args.clients} clients, {args.seconds} s")
    print(f"{'requests':<10} {'done':>7} {'in flight':>10} {'5xx':>5} {'p50 ms':>8} {'p95 ms':>8}")
    for name in KINDS:
        spent = sorted(tally.seconds[name]) or [0.0]
        p95 = statistics.quantiles(spent, n=20)[-1] if len(spent) >= 20 else spent[-1]
        print(
            f"{name:<10} {tally.done[name]:>7} {tally.in_flight[name]:>10}"
            f" {tally.server_errors[name]:>5} {statistics.median(spent) * 1000:>8.1f}"
            f" {p95 * 1000:>8.1f}"
        )
    print(f"rerouted (could not connect, sent to the other node): {tally.rerouted}")
    if tally.failed_at:
        first, last = min(tally.failed_at) - cut_at, max(tally.failed_at) - cut_at
        print(
            f"failures seen from {first:+.2f} s to {last:+.2f} s after the cut began,"
            f" on node A {tally.failed_on['A']}, on node B {tally.failed_on['B']}"
        )
    print(
        f"notes acknowledged {len(tally.acknowledged)}, lost {lost}, stored twice {twice};"
        f" unanswered {len(tally.unanswered)}, of which stored {unanswered_stored}"
    )
    if lost or twice:
        raise SystemExit("acknowledged writes were lost or duplicated")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cut", choices=("node", "database", "both"), default="both")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--cut-at", type=float, default=20, help="seconds into the run")
    parser.add_argument("--down", type=float, default=5, help="seconds node A stays down")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--threads", type=int, default=8, help="waitress threads per node")
    parser.add_argument("--patients", type=int, default=200)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        binaries = postgres_binaries_or_skip()
    except pytest.skip.Exception as exc:  # no PostgreSQL binaries: say why and stop
        raise SystemExit(f"skipped: {exc}") from None
    for kind in ("node", "database") if args.cut == "both" else (args.cut,):
        run(args, kind, binaries)


if __name__ == "__main__":
    main()
