"""service/practice_list_cache: GET /practices rendered once per `seconds` per worker, cleared
by an edit, never keeping what was read before an edit committed."""

from __future__ import annotations

import asyncio

import pytest

from service.practice_list_cache import MAX_ENTRIES, PracticeListCache

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Renderer:
    """Renders b"1", b"2", ... in turn; `gate` holds a render until it is set."""

    def __init__(self) -> None:
        self.calls = 0
        self.gate: asyncio.Event | None = None

    async def __call__(self) -> bytes:
        self.calls += 1
        number = self.calls
        if self.gate is not None:
            await self.gate.wait()
        return str(number).encode()


async def test_an_answer_is_kept_for_its_seconds_then_rendered_again() -> None:
    clock, render = Clock(), Renderer()
    cache = PracticeListCache(1.0, clock)
    assert await cache.get("k", render) == b"1"
    clock.now += 0.99
    assert await cache.get("k", render) == b"1"
    clock.now += 0.02
    assert await cache.get("k", render) == b"2"
    assert render.calls == 2


async def test_keys_are_kept_apart() -> None:
    render = Renderer()
    cache = PracticeListCache(1.0, Clock())
    assert await cache.get((True, "http://a/"), render) == b"1"
    assert await cache.get((False, "http://a/"), render) == b"2"
    assert await cache.get((True, "http://a/"), render) == b"1"


async def test_clear_makes_the_next_read_fresh() -> None:
    render = Renderer()
    cache = PracticeListCache(1.0, Clock())
    assert await cache.get("k", render) == b"1"
    cache.clear()
    assert await cache.get("k", render) == b"2"


async def test_a_render_that_began_before_an_edit_is_answered_but_not_kept() -> None:
    render = Renderer()
    render.gate = asyncio.Event()
    cache = PracticeListCache(1.0, Clock())
    before_edit = asyncio.create_task(cache.get("k", render))
    await asyncio.sleep(0)
    cache.clear()  # the edit commits while the read is under way
    render.gate.set()
    assert await before_edit == b"1"
    assert await cache.get("k", render) == b"2"


async def test_concurrent_readers_share_one_render() -> None:
    render = Renderer()
    render.gate = asyncio.Event()
    cache = PracticeListCache(1.0, Clock())
    readers = [asyncio.create_task(cache.get("k", render)) for _ in range(16)]
    await asyncio.sleep(0)
    render.gate.set()
    assert await asyncio.gather(*readers) == [b"1"] * 16
    assert render.calls == 1


async def test_one_reader_giving_up_does_not_cancel_the_others() -> None:
    render = Renderer()
    render.gate = asyncio.Event()
    cache = PracticeListCache(1.0, Clock())
    leaving = asyncio.create_task(cache.get("k", render))
    staying = asyncio.create_task(cache.get("k", render))
    await asyncio.sleep(0)
    leaving.cancel()
    render.gate.set()
    assert await staying == b"1"
    assert leaving.cancelled()


async def test_a_failed_render_reaches_every_reader_and_is_not_kept() -> None:
    calls = 0

    async def failing() -> bytes:
        nonlocal calls
        calls += 1
        raise RuntimeError("database down")

    cache = PracticeListCache(1.0, Clock())
    for _ in range(2):
        with pytest.raises(RuntimeError, match="database down"):
            await cache.get("k", failing)
    assert calls == 2
    assert await cache.get("k", Renderer()) == b"1"


async def test_zero_seconds_renders_every_time() -> None:
    render = Renderer()
    cache = PracticeListCache(0.0, Clock())
    assert [await cache.get("k", render) for _ in range(3)] == [b"1", b"2", b"3"]


async def test_chosen_host_headers_cannot_grow_it_without_bound() -> None:
    render = Renderer()
    cache = PracticeListCache(1.0, Clock())
    for n in range(5 * MAX_ENTRIES):
        await cache.get((False, f"http://host-{n}/"), render)
        assert len(cache._entries) <= MAX_ENTRIES
