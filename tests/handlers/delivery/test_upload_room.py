"""handlers/delivery/uploads.py's UploadRoom: how many image bytes are read for uploads at once."""

from __future__ import annotations

import asyncio

import pytest

from handlers.delivery.uploads import UploadRoom

pytestmark = pytest.mark.anyio


async def _settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_uploads_wait_for_room_and_get_it_as_earlier_ones_finish() -> None:
    room = UploadRoom(limit=10)
    first = await room.take(6)
    second = asyncio.create_task(room.take(6))  # 12 > 10: waits
    small = asyncio.create_task(room.take(4))  # fits beside the first
    await _settle()
    assert not second.done() and small.done() and room.used == 10
    await room.give_back(first)
    async with asyncio.timeout(10):
        assert await second == 6
    assert room.used == 10
    await room.give_back(await small)
    await room.give_back(6)
    assert room.used == 0


async def test_an_image_larger_than_the_whole_room_goes_alone() -> None:
    room = UploadRoom(limit=10)
    other = await room.take(3)
    huge = asyncio.create_task(room.take(50))
    await _settle()
    assert not huge.done()
    await room.give_back(other)
    async with asyncio.timeout(10):
        assert await huge == 10
    assert room.used == 10
