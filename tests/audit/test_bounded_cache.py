"""The trust checks' small caches: bounded, least recently used first out, and only what was put in."""

from __future__ import annotations

import pytest

from audit.trust.bounded_cache import BoundedCache


def test_the_least_recently_used_entry_leaves_first():
    cache: BoundedCache[bytes, int] = BoundedCache(2)
    cache.put(b"a", 1)
    cache.put(b"b", 2)
    assert cache.get(b"a") == 1  # now b is the oldest
    cache.put(b"c", 3)
    assert (cache.get(b"a"), cache.get(b"b"), cache.get(b"c")) == (1, None, 3)
    assert len(cache) == 2


def test_a_key_is_matched_by_equal_content_and_clear_forgets_everything():
    cache: BoundedCache[tuple, str] = BoundedCache(4)
    cache.put((b"x" * 1000, True), "verified")
    assert cache.get((bytes(bytearray(b"x" * 1000)), True)) == "verified"
    assert cache.get((b"x" * 999 + b"y", True)) is None
    cache.clear()
    assert cache.get((b"x" * 1000, True)) is None and not cache


def test_a_cache_holds_at_least_one_entry():
    with pytest.raises(ValueError, match="at least one"):
        BoundedCache(0)
