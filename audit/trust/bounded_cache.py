"""A small least-recently-used map shared by threads: the verdict and parse caches of the trust checks.

Each cache keeps a handful of entries keyed by exact content (bytes, or tuples holding them), so a hit is
an equality test, never a digest whose collisions would need an argument. Only what was proved is stored;
a refusal is never remembered.
"""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("a bounded cache holds at least one entry")
        self.limit = limit
        # A plain dict keeps insertion order: a hit is moved to the end by taking it out and putting it
        # back, cheaper than an OrderedDict's move_to_end, and the first key is the least recently used.
        self._entries: dict[K, V] = {}
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._entries.pop(key, None)
            if value is not None:
                self._entries[key] = value
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._entries.pop(key, None)
            self._entries[key] = value
            while len(self._entries) > self.limit:
                del self._entries[next(iter(self._entries))]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
