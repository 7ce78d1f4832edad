"""Values of recent requests, each kept under a key of everything it is made of (issue 10)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")


class Kept(Generic[V]):
    """The least recently used values go once their weights pass `size` (each weighs 1 by
    default). One per application (a process of its own), shared by its threads.

    A key holds everything the value is made of, the data's list stamps among them (migration
    0018): a changed thing makes a new key, and the old value is never read again (unless a
    restore puts old stamps back: the dashboards are restarted after one, docs/deploy.md).
    """

    def __init__(self, size: int = 256, weigh: Callable[[V], int] = lambda value: 1):
        self.size, self.weigh = size, weigh
        self._values: OrderedDict[tuple, V] = OrderedDict()
        self._weight = 0
        self._lock = threading.Lock()

    def get(self, key: tuple) -> V | None:
        with self._lock:
            found = self._values.get(key)
            if found is not None:
                self._values.move_to_end(key)
            return found

    def put(self, key: tuple, value: V) -> None:
        with self._lock:
            if key in self._values:
                self._weight -= self.weigh(self._values.pop(key))
            self._values[key] = value
            self._weight += self.weigh(value)
            while self._weight > self.size and len(self._values) > 1:
                self._weight -= self.weigh(self._values.popitem(last=False)[1])
