"""Requests per token and minute, counted in the serving process."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class RateLimit:
    """A sliding window per key: at most `limit` requests in `window` seconds.

    Counted per process: behind several workers a token gets up to workers x limit.
    """

    def __init__(
        self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic
    ):
        self.limit, self.window, self.clock = limit, window, clock
        self._seen: dict[int, deque[float]] = {}
        self._lock = threading.Lock()

    def wait(self, key: int) -> float:
        """0 if the request may go ahead (and count it); else the seconds to wait."""
        now = self.clock()
        with self._lock:
            seen = self._seen.setdefault(key, deque())
            while seen and seen[0] <= now - self.window:
                seen.popleft()
            if len(seen) >= self.limit:
                return seen[0] + self.window - now
            seen.append(now)
            return 0.0
