"""The portal's per-process view cache: bounded, least recently used out first, off at size 0."""

from __future__ import annotations

import threading

import pytest

from mianshen.portal.view_cache import ViewCache


def test_least_recently_used_goes_first() -> None:
    cache: ViewCache[str] = ViewCache(2)
    cache.put("a", "A")
    cache.put("b", "B")
    assert cache.get("a") == "A"  # a is now the most recent
    cache.put("c", "C")
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == ("A", None, "C")
    assert len(cache) == 2 and (cache.hits, cache.misses) == (3, 1)


def test_size_zero_keeps_nothing_and_builds_every_time() -> None:
    cache: ViewCache[int] = ViewCache(0)
    built = []
    for _ in range(3):
        assert cache.get_or_build("k", lambda: built.append(1) or len(built)) == len(built)
    assert len(built) == 3 and len(cache) == 0


def test_a_negative_size_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 0"):
        ViewCache(-1)


def test_threads_never_see_more_than_the_bound() -> None:
    cache: ViewCache[int] = ViewCache(50)

    def work(offset: int) -> None:
        for i in range(2000):
            cache.get_or_build((offset, i % 120), lambda i=i: i)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(cache) == 50 and cache.hits + cache.misses == 8000
