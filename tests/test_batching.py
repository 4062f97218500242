"""The group-commit batcher on its own: who shares a batch, and who gets which outcome."""

from __future__ import annotations

import asyncio

import pytest

from points.infra.batching import Batcher

pytestmark = pytest.mark.pure  # no server, no database: the embedded leg runs it


class Recorder:
    """A handler that records its batches; the item "bad" is refused alone, "boom" fails its batch."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.release = asyncio.Event()

    async def __call__(self, items: list[str]) -> list[str | Exception]:
        self.batches.append(items)
        if len(self.batches) == 1:
            await self.release.wait()  # the first batch is slow: the next calls queue behind it
        if "boom" in items:
            raise RuntimeError("the database went away")
        return [ValueError(i) if i == "bad" else i.upper() for i in items]


def test_calls_arriving_during_a_batch_form_the_next_one():
    async def go():
        handler = Recorder()
        batcher = Batcher(handler, max_size=3)
        first = asyncio.create_task(batcher.submit("a"))
        await asyncio.sleep(0)
        later = [asyncio.create_task(batcher.submit(x)) for x in ("b", "bad", "c", "d")]
        await asyncio.sleep(0)
        handler.release.set()
        assert await first == "A"
        assert [await t for t in (later[0], later[2], later[3])] == ["B", "C", "D"]
        with pytest.raises(ValueError):
            await later[1]
        return handler.batches

    assert asyncio.run(go()) == [["a"], ["b", "bad", "c"], ["d"]]


def test_an_item_that_fails_its_batch_fails_alone():
    async def go():
        handler = Recorder()
        batcher = Batcher(handler, max_size=10)
        first = asyncio.create_task(batcher.submit("x"))
        await asyncio.sleep(0)
        batch = [asyncio.create_task(batcher.submit(i)) for i in ("y", "boom", "w")]
        await asyncio.sleep(0)
        handler.release.set()
        assert await first == "X"
        assert await batch[0] == "Y" and await batch[2] == "W"  # written again without the item that broke it
        with pytest.raises(RuntimeError):
            await batch[1]
        assert await batcher.submit("z") == "Z"  # the batcher goes on after a failure
        return handler.batches

    assert asyncio.run(go()) == [["x"], ["y", "boom", "w"], ["y"], ["boom"], ["w"], ["z"]]


def test_a_caller_that_gave_up_before_its_turn_is_not_written():
    async def go():
        handler = Recorder()
        batcher = Batcher(handler, max_size=10)
        first = asyncio.create_task(batcher.submit("a"))
        await asyncio.sleep(0)
        quitter, stayer = asyncio.create_task(batcher.submit("q")), asyncio.create_task(batcher.submit("s"))
        await asyncio.sleep(0)
        quitter.cancel()
        handler.release.set()
        assert (await first, await stayer) == ("A", "S")
        return handler.batches

    assert asyncio.run(go()) == [["a"], ["s"]]


def test_each_event_loop_starts_afresh():
    handler = Recorder()
    handler.release.set()
    batcher = Batcher(handler, max_size=10)
    assert asyncio.run(batcher.submit("a")) == "A"
    assert asyncio.run(batcher.submit("b")) == "B"  # a second asyncio.run (a CLI command, a test)
