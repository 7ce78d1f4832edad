"""Real processes: a sender killed mid-send, two senders at once, a second worker, a restart.

Each test counts what the SMTP server received: digests lost must be 0, duplicates 0,
except the one window between the server's acceptance and our commit, whose copy has the
same Message-ID.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

from surveillance.clock import clinic_today
from surveillance.db.models import Digest
from surveillance.reminders.locks import make_lock
from tests.support.data import TODAY
from tests.support.processes import CLI, HANG_GUARD, Lines, environment
from tests.support.smtp import ALWAYS_DUE, SENDER, SmtpServer, give_work, tally

pytestmark = pytest.mark.thorough  # worker processes


@pytest.fixture
def work(session, ctx, create_patient, clinic):
    return give_work(session, ctx, create_patient, clinic)


def write_config(folder: Path, engine: sa.Engine, port: int, reminders: str = "") -> Path:
    """A configuration file for a child process: our database, the test's SMTP server."""
    url = engine.url.render_as_string(hide_password=False)
    path = folder / "config.toml"
    path.write_text(
        f'[database]\nurl = "{url}"\n\n[mail]\nbackend = "smtp"\n'
        f'host = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
        f'sender = "{SENDER}"\ntimeout_seconds = 60\n\n[reminders]\n{reminders}'
    )
    return path


def start(config: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        CLI + list(args),
        env=environment(config),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def run(config: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        CLI + list(args),
        check=False,
        env=environment(config),
        text=True,
        capture_output=True,
        timeout=HANG_GUARD,
    )


def send_today(config: Path) -> subprocess.Popen:
    return start(config, "reminders", "send", "--date", TODAY.isoformat())


def stop(process: subprocess.Popen, how: int = signal.SIGKILL) -> tuple[str, str]:
    """Signal the process, wait for it, and close its pipes."""
    if process.poll() is None:
        process.send_signal(how)
    return process.communicate(timeout=HANG_GUARD)


def wait_until_free(engine: sa.Engine, name: str) -> None:
    """Block until no process holds the lock: a killed one's lock is freed by the kernel or server."""
    lock = make_lock(engine, name)
    lock.acquire(wait=True)
    lock.release()


def digest_rows(session) -> list[Digest]:
    session.rollback()
    session.expire_all()
    return list(session.scalars(sa.select(Digest).order_by(Digest.day)))


@pytest.mark.parametrize(
    "answer, copies",
    [
        ("stall", 1),  # killed before the server took the message: sent once, later
        ("accept_then_stall", 2),  # killed after the server took it, before our commit: the one
        # duplicate mail can make, with the same Message-ID
    ],
)
def test_a_sender_killed_between_claiming_and_sending_then_restarted(
    engine, session, work, tmp_path, answer, copies
):
    with SmtpServer() as server:
        server.handler.script = [answer]
        config = write_config(tmp_path, engine, server.port)
        first = send_today(config)
        try:
            assert server.handler.entered.wait(HANG_GUARD), "the sender never got to DATA"
            [claimed] = digest_rows(session)
            assert (claimed.state, claimed.attempts, claimed.sent_at) == ("pending", 1, None)
            assert claimed.claimed_at is not None
        finally:
            stop(first, signal.SIGKILL)
        assert first.returncode == -signal.SIGKILL
        server.handler.gate.set()
        wait_until_free(engine, "sender")
        second = run(config, "reminders", "send", "--date", TODAY.isoformat())
    assert second.returncode == 0, second.stderr
    assert second.stdout == f"TEST {TODAY}: sent (to leder@klinikk.test, sykepleier@klinikk.test)\n"
    [row] = digest_rows(session)
    assert (row.state, row.attempts) == ("sent", 2)
    assert {r.message_id for r in server.received} == {row.message_id}
    assert tally(server.received, {("TEST", TODAY)}) == {
        "lost": 0,
        "same_id_copies": copies - 1,
        "duplicates": 0,
        "unexpected": 0,
    }


def test_two_senders_at_once_send_one_digest(engine, session, work, tmp_path):
    with SmtpServer() as server:
        server.handler.script = ["hold"]
        config = write_config(tmp_path, engine, server.port)
        first = send_today(config)
        try:
            assert server.handler.entered.wait(HANG_GUARD), "the first sender never got to DATA"
            second = run(config, "reminders", "send", "--date", TODAY.isoformat())
            server.handler.gate.set()
            out, err = first.communicate(timeout=HANG_GUARD)
        finally:
            stop(first)
        rerun = run(config, "reminders", "send", "--date", TODAY.isoformat())
    assert second.returncode == 75  # EX_TEMPFAIL: try again later
    assert "another process is sending digests" in second.stderr and second.stdout == ""
    assert first.returncode == 0 and out.startswith(f"TEST {TODAY}: sent"), err
    assert (rerun.returncode, rerun.stdout) == (0, "nothing new to send\n")
    assert [(r.state, r.attempts) for r in digest_rows(session)] == [("sent", 1)]
    assert tally(server.received, {("TEST", TODAY)}) == {
        "lost": 0,
        "same_id_copies": 0,
        "duplicates": 0,
        "unexpected": 0,
    }


def start_worker(config: Path) -> tuple[subprocess.Popen, Lines]:
    worker = subprocess.Popen(
        CLI + ["worker"],
        env=environment(config),
        text=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return worker, Lines(worker.stderr)


def stop_worker(worker: subprocess.Popen, lines: Lines) -> None:
    """SIGTERM, as a service manager stops it; it must end cleanly."""
    try:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            lines.wait_for("worker stopped")
    except BaseException:
        worker.kill()
        raise
    finally:
        worker.wait(HANG_GUARD)
        lines.close()
        worker.stderr.close()


def test_a_second_worker_stands_by_and_a_restart_sends_the_missed_digest_once(
    engine, session, work, tmp_path
):
    first_worker = make_lock(engine, "worker")
    assert first_worker.acquire()
    with SmtpServer() as server:
        config = write_config(tmp_path, engine, server.port, ALWAYS_DUE)
        worker, lines = start_worker(config)
        try:
            lines.wait_for("another worker holds the lock; standing by")
            assert server.received == [] and digest_rows(session) == []  # idle
            first_worker.release()  # the first worker ends: this one takes over
            lines.wait_for("worker started")
            lines.wait_for(r"digests of \d{4}-\d\d-\d\d: 1 changed")  # the missed run, now
        finally:
            first_worker.release()
            stop_worker(worker, lines)
        assert worker.returncode == 0
        restarted, lines = start_worker(config)  # the same day: the outbox has it
        try:
            lines.wait_for(r"digests of \d{4}-\d\d-\d\d: 0 changed")
        finally:
            stop_worker(restarted, lines)
    [row] = digest_rows(session)
    assert row.day == clinic_today("Europe/Oslo", row.created_at)  # the Oslo date
    assert tally(server.received, {("TEST", row.day)}) == {
        "lost": 0,
        "same_id_copies": 0,
        "duplicates": 0,
        "unexpected": 0,
    }


def test_a_worker_stopped_while_it_starts_ends_cleanly(engine, session, work, tmp_path):
    # SIGTERM just before the scheduler runs: the window where a signal used to be lost.
    config = write_config(tmp_path, engine, 1, 'send_time = "23:59"\n')
    worker, lines = start_worker(config)
    lines.wait_for("worker started")
    stop_worker(worker, lines)
    assert worker.returncode == 0
