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

    # acquire/release rather than `with`: the license check makes several lookups per call, and the
    # context-manager protocol costs about as much as the lookup itself.
    def get(self, key: K) -> V | None:
        entries = self._entries
        self._lock.acquire()
        try:
            value = entries.pop(key, None)
            if value is not None:
                entries[key] = value
            return value
        finally:
            self._lock.release()

    def put(self, key: K, value: V) -> None:
        entries = self._entries
        self._lock.acquire()
        try:
            entries.pop(key, None)
            entries[key] = value
            while len(entries) > self.limit:
                del entries[next(iter(entries))]
        finally:
            self._lock.release()

    def clear(self) -> None:
        self._lock.acquire()
        try:
            self._entries.clear()
        finally:
            self._lock.release()

    def __len__(self) -> int:
        return len(self._entries)
