"""ImageService holds at most ANSWERS_IN_MEMORY answers between their first byte and their images on disk
(bot/usecases/image_service.py), on a real SQLite in a temp folder, with the offline provider making the images."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from bot.models import GenerateRequest, ImageResult, LostAnswer
from bot.money.budgets import Budgets
from bot.money.catalogue import load_catalogue
from bot.providers.base import OnAnswer, OnLost, OnPartial
from bot.providers.offline import OfflineImageAPI
from bot.runtime.db_thread import DbThread
from bot.settings import Settings
from bot.usecases.image_service import ANSWERS_IN_MEMORY, ImageService
from storage.records import ThreadKey
from storage.store import Store

pytestmark = pytest.mark.anyio
WAIT = 30.0  # a bound on every wait, never a timing the test depends on


class HeldAnswers(OfflineImageAPI):
    """The offline provider, its answers held until `arrive` is set; counts the calls let past `on_answer`."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.arrive = asyncio.Event()
        self.waiting = 0
        self.past = 0
        self.lose = 0  # this many calls lose their first answer, then wait for `retry` to try again
        self.lost = 0
        self.retry = asyncio.Event()

    async def generate(self, request: GenerateRequest, on_partial: OnPartial | None = None,
                       on_lost: OnLost | None = None, on_answer: OnAnswer | None = None) -> ImageResult:
        assert on_answer is not None and on_lost is not None
        self.waiting += 1
        await self.arrive.wait()
        if self.lost < self.lose:  # an answer that broke off and is tried again, as the image API client does it
            self.lost += 1
            await on_answer()
            await on_lost(LostAnswer(attempt=1, request_id="req_lost", reason="connection lost"))
            await self.retry.wait()  # the backoff before the next attempt

        async def counted() -> None:
            await on_answer()
            self.past += 1

        return await super().generate(request, on_partial, on_lost, counted)


@pytest.fixture
async def parts(tmp_path: Path) -> AsyncIterator[tuple[ImageService, HeldAnswers, DbThread]]:
    settings = replace(Settings.from_env({}), provider="offline", data_dir=tmp_path)
    catalogue, prices = load_catalogue(settings)
    db = DbThread(Store.open(tmp_path))
    provider = HeldAnswers(catalogue=catalogue)
    yield ImageService(provider, db, prices, settings, Budgets(db, settings), catalogue=catalogue), provider, db
    await db.close()


async def _until(condition: object) -> None:
    async with asyncio.timeout(WAIT):
        while not condition():  # type: ignore[operator]  # noqa: ASYNC110 - polls plain counters
            await asyncio.sleep(0.01)


async def _run_held(service: ImageService, provider: HeldAnswers, db: DbThread, calls: int) -> None:
    """`calls` generations whose answers arrive together while the database is busy: only ANSWERS_IN_MEMORY get
    past `on_answer` (the rest wait, no bytes read); once the database is free every one completes."""
    keys = [ThreadKey("T1", "C1", f"1700000000.{i:06d}") for i in range(calls)]
    for key in keys:
        await service.start_thread(key, user_id="U1", prompt="a fox")
    tasks = [asyncio.create_task(service.generate(key, "U1", "a fox", service.default_options)) for key in keys]
    await _until(lambda: provider.waiting == calls)  # every call's ledger row is written: the provider has them
    free = threading.Event()
    busy = asyncio.create_task(db(free.wait, WAIT))  # the database is busy: images cannot be recorded
    provider.arrive.set()
    await _until(lambda: provider.past == ANSWERS_IN_MEMORY)
    for _ in range(20):  # the rest stay waiting while those images wait for the database
        await asyncio.sleep(0)
    assert provider.past == ANSWERS_IN_MEMORY
    free.set()
    await busy
    async with asyncio.timeout(WAIT):
        delivered = await asyncio.gather(*tasks)
    assert provider.past == calls and all(d.images for d in delivered)


async def test_at_most_a_few_answers_are_held_until_their_images_are_on_disk(
        parts: tuple[ImageService, HeldAnswers, DbThread]) -> None:
    await _run_held(*parts, calls=ANSWERS_IN_MEMORY + 3)


async def test_an_answer_that_broke_off_gives_its_room_back_while_it_waits_to_be_tried_again(
        parts: tuple[ImageService, HeldAnswers, DbThread]) -> None:
    service, provider, _ = parts
    provider.lose = ANSWERS_IN_MEMORY
    keys = [ThreadKey("T1", "C1", f"1700000000.{i:06d}") for i in range(ANSWERS_IN_MEMORY + 1)]
    for key in keys:
        await service.start_thread(key, user_id="U1", prompt="a fox")
    tasks = [asyncio.create_task(service.generate(key, "U1", "a fox", service.default_options)) for key in keys]
    await _until(lambda: provider.waiting == len(keys))
    provider.arrive.set()
    await _until(lambda: provider.lost == ANSWERS_IN_MEMORY)
    await _until(lambda: provider.past == 1)  # the one call that lost nothing had room meanwhile
    provider.retry.set()
    async with asyncio.timeout(WAIT):
        delivered = await asyncio.gather(*tasks)
    assert provider.past == len(keys) and all(d.images for d in delivered)
    assert sum(d.lost_answers for d in delivered) == ANSWERS_IN_MEMORY
