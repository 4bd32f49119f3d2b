"""What the Slack edge reads and records around posting a job (bot/usecases/posting.py), on a real SQLite in a temp
folder, with the offline image provider making the images."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from bot.money.budgets import Budgets
from bot.money.catalogue import load_catalogue
from bot.providers.offline import OfflineImageAPI
from bot.runtime.db_thread import DbThread
from bot.settings import Settings
from bot.usecases import posting
from bot.usecases.image_service import ImageService
from bot.usecases.thread_images import ImagePruned
from storage.lifecycle import prune_images
from storage.records import PostedFile, ThreadKey
from storage.store import Store
from tests.storage.full_disk import LARGE, fill, free

pytestmark = pytest.mark.anyio
KEY = ThreadKey("T1", "C1", "1700000000.000100")
SHA = "ab" + "0" * 62


@pytest.fixture
async def offline(tmp_path: Path) -> AsyncIterator[ImageService]:
    settings = replace(Settings.from_env({}), provider="offline", data_dir=tmp_path)
    catalogue, prices = load_catalogue(settings)
    db = DbThread(Store.open(tmp_path))
    yield ImageService(OfflineImageAPI(catalogue=catalogue), db, prices, settings, Budgets(db, settings),
                       catalogue=catalogue)
    await db.close()


async def test_the_card_starts_its_thread_and_links_its_job(offline: ImageService) -> None:
    job, _ = await offline.io(offline.store.insert_job, dedupe_key="command:T1:x", kind="generate", team_id="T1",
                              channel_id="C1", user_id="U1", payload={"prompt": "a fox"})
    await posting.attach_card(offline, job.id, KEY, user_id="U1", prompt="a fox")
    thread = await offline.get_thread(KEY)
    assert thread is not None and thread.created_by == "U1" and thread.last_image_id is None
    linked = await offline.io(offline.store.get_job, job.id)
    assert linked is not None and linked.thread_ts == KEY.thread_ts


async def test_a_stored_image_comes_with_its_record_until_it_is_pruned(offline: ImageService) -> None:
    await offline.start_thread(KEY, user_id="U1", prompt="a fox")
    delivered = await offline.generate(KEY, "U1", "a fox", offline.default_options)
    [made] = delivered.images
    record = await offline.kept_image(None, made.id)
    assert record == made and await offline.read_image(record) == await offline.io(offline.store.image_bytes, made.id)
    await offline.io(prune_images, offline.store, "9999-12-31T00:00:00.000+00:00")
    with pytest.raises(ImagePruned):
        await offline.kept_image(None, made.id)


async def test_a_file_whose_length_is_not_its_records_is_read_as_it_is(offline: ImageService) -> None:
    await offline.start_thread(KEY, user_id="U1", prompt="a fox")
    [made] = (await offline.generate(KEY, "U1", "a fox", offline.default_options)).images
    data = await offline.read_image(made)
    for told in (made.bytes - 7, made.bytes + 7):  # a record that says less, or more, than the file has
        assert await offline.read_image(replace(made, bytes=told)) == data


async def test_the_report_channel_is_the_admins_choice_else_the_fallback(offline: ImageService) -> None:
    assert await posting.report_channel(offline, "T1", fallback=None) is None
    assert await posting.report_channel(offline, "T1", fallback="C0REPORTS") == "C0REPORTS"
    await offline.io(offline.store.set_team_report_channel, "T1", "C0CHOSEN", "U0ADMIN")
    assert await posting.report_channel(offline, "T1", fallback="C0REPORTS") == "C0CHOSEN"
    assert await posting.report_channel(offline, "T2", fallback="C0REPORTS") == "C0REPORTS"


async def test_what_was_posted_is_kept_for_the_card(offline: ImageService) -> None:
    """The card's last blocks and the file that draws each image, as the edge records them when it posts."""
    assert await posting.posted_card(offline, KEY) is None
    await posting.remember_card(offline, KEY, "a fox", [{"type": "section", "block_id": "imagebot_card"}])
    assert await posting.posted_card(offline, KEY) == ("a fox", [{"type": "section", "block_id": "imagebot_card"}])

    await posting.remember_files(offline, KEY, [])  # an upload that made no file of an image: nothing to keep
    assert await posting.file_for(offline, KEY, SHA) is None and await posting.file_for(offline, KEY, None) is None
    await posting.remember_files(offline, KEY, [PostedFile(SHA, "F1", "image", drawn=False),
                                                PostedFile(SHA, "F2", "preview", drawn=True)])
    assert await posting.file_for(offline, KEY, SHA) == "F2"


async def test_a_full_disk_keeps_nothing_and_fails_nothing(offline: ImageService) -> None:
    """What is posted is posted: a database that cannot take the record of it only leaves the card behind."""
    card = [{"type": "section", "block_id": "imagebot_card"}]
    await posting.remember_card(offline, KEY, "a fox", card)
    await offline.io(fill, offline.store)
    await posting.remember_card(offline, KEY, LARGE, [{"type": "section", "text": LARGE}])
    await posting.remember_files(offline, KEY, [PostedFile(SHA + str(i) + LARGE, f"F{i}", "image", drawn=True)
                                                for i in range(3)])
    assert await posting.posted_card(offline, KEY) == ("a fox", card)
    assert await posting.file_for(offline, KEY, SHA + "0" + LARGE) is None
    await offline.io(free, offline.store)
    await posting.remember_card(offline, KEY, LARGE, card)
    assert await posting.posted_card(offline, KEY) == (LARGE, card)
