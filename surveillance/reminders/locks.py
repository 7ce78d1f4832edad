"""Locks between processes: one worker at a time, one sender at a time.

PostgreSQL: a session-level advisory lock on a connection of its own (the server frees it
when the process dies, and when the server restarts: the holder must check `held()`). SQLite: an exclusive flock on a file beside the database file (the
kernel frees it when the process dies). flock, not lockf: two threads of one process that
open the file each hold their own lock, so they exclude each other too.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from pathlib import Path

import sqlalchemy as sa

# Fixed 64-bit keys of our advisory locks ("Surv" + a number): locks are per database.
KEYS = {"worker": 0x5375_7276_0001, "sender": 0x5375_7276_0002}


# A bigint advisory key is split into classid (high 32 bits) and objid (low 32 bits).
HELD = sa.text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND pid = pg_backend_pid() AND classid = (:key >> 32) AND objid = (:key & 4294967295)"
)


class AdvisoryLock:
    """A PostgreSQL advisory lock held by a connection of its own."""

    def __init__(self, engine: sa.Engine, name: str):
        self.engine, self.key = engine, KEYS[name]
        self._connection: sa.Connection | None = None

    def acquire(self, wait: bool = False) -> bool:
        """Take the lock; without `wait`, False at once if another process holds it."""
        connection = self.engine.connect()
        function = "pg_advisory_lock" if wait else "pg_try_advisory_lock"
        try:
            taken = connection.execute(sa.select(getattr(sa.func, function)(self.key))).scalar()
            connection.commit()  # the lock outlives the transaction: it is the session's
        except BaseException:
            connection.close()
            raise
        if wait or taken:
            self._connection = connection
            return True
        connection.close()
        return False

    def held(self) -> bool:
        """Whether our connection is alive and still holds the lock (a restart ends both)."""
        if self._connection is None:
            return False
        try:
            granted = self._connection.execute(HELD, {"key": self.key}).scalar()
            self._connection.commit()
        except sa.exc.SQLAlchemyError:  # the connection died, or died before this check
            return False
        return bool(granted)

    def release(self) -> None:
        """Give the lock back (nothing to give if the connection is gone: so is the lock)."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.execute(sa.select(sa.func.pg_advisory_unlock(self.key)))
            connection.commit()
        except sa.exc.SQLAlchemyError:
            pass
        finally:
            connection.close()


class FileLock:
    """An exclusive flock on a file."""

    def __init__(self, path: Path):
        self.path = path
        self._fd: int | None = None

    def acquire(self, wait: bool = False) -> bool:
        """Take the lock; without `wait`, False at once if another process holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())  # who holds it, for a puzzled admin
        self._fd = fd
        return True

    def held(self) -> bool:
        """Whether we hold the lock (the kernel takes it from no living process)."""
        return self._fd is not None

    def release(self) -> None:
        """Give the lock back."""
        fd, self._fd = self._fd, None
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def make_lock(engine: sa.Engine, name: str) -> AdvisoryLock | FileLock:
    """The lock `name` ("worker" or "sender") of the engine's database."""
    if engine.dialect.name == "postgresql":
        return AdvisoryLock(engine, name)
    return FileLock(lock_path(engine.url, name))


def lock_path(url: sa.URL, name: str) -> Path:
    """Beside the SQLite file; an in-memory database is this process's alone."""
    database = url.database
    if not database or database == ":memory:":
        return Path(tempfile.gettempdir()) / f"surveillance-{os.getpid()}.{name}.lock"
    path = Path(database)
    return path.with_name(f"{path.name}.{name}.lock")
