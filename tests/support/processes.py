"""Child processes of the command: their environment, and their lines read as they come."""

from __future__ import annotations

import os
import queue
import re
import sys
import threading
from pathlib import Path

CLI = [sys.executable, "-c", "from surveillance.cli import main; main()"]
HANG_GUARD = 120  # seconds: only a broken test waits this long; nothing is timed


def environment(config: Path) -> dict[str, str]:
    """This environment without SURVEILLANCE_ settings, pointed at the configuration file."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SURVEILLANCE_")}
    return env | {"SURVEILLANCE_CONFIG": str(config)}


class Lines:
    """The lines a child process writes to standard error, read as they come."""

    def __init__(self, stream):
        self.seen: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, pattern: str) -> str:
        """The next line that matches; fails at the end of the stream."""
        while True:
            try:
                line = self._queue.get(timeout=HANG_GUARD)
            except queue.Empty:
                raise AssertionError(f"no line matched {pattern!r} in time: {self.seen}") from None
            if line is None:
                raise AssertionError(f"no line matched {pattern!r}: {self.seen}")
            self.seen.append(line)
            if re.search(pattern, line):
                return line

    def close(self) -> None:
        self._thread.join(HANG_GUARD)
