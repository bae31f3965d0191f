"""A small per-process cache of what a public page assembles, keyed by what it shows: never stale by design.

A value is stored under a key that holds every fact it was built from (a case's version, its round, its
payment's current instruction and status, its newest inbox message, the language...), read by one cheap query
on each request. When any of them changes, the key changes and the old value is simply never asked for again
(the bounded LRU drops it). There is no invalidation to forget and no time-to-live to tune.

Per process on purpose: a web worker's own memory (no pickling, no network), bounded by ``maxsize`` entries
(0: nothing is kept, every view is built); two workers each build a view once. Thread-safe (gunicorn
``gthread`` workers share it between threads).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")
EVERY: list[ViewCache[object]] = []  # every cache made, for ``clear_all``


def clear_all() -> None:
    """Empty every cache of this process (the tests start each test with none)."""
    for each in EVERY:
        each.clear()


class ViewCache(Generic[V]):
    def __init__(self, maxsize: int) -> None:
        if maxsize < 0:
            raise ValueError("maxsize must be at least 0")
        self.maxsize = maxsize
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        EVERY.append(self)  # type: ignore[arg-type]

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            value = self._items.get(key)
            if value is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: Hashable, value: V) -> None:
        if self.maxsize == 0:
            return
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)

    def get_or_build(self, key: Hashable, build: Callable[[], V]) -> V:
        value = self.get(key)
        if value is None:
            value = build()
            self.put(key, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._items)
