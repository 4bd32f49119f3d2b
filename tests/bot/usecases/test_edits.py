"""What a thread reply means (bot/usecases/edits.py), against a real SQLite in a temp folder and the image API stand-in
on loopback: nothing of imagebot's own is faked. The thread's images are made by real calls to the stand-in."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from PIL import Image

from bot.errors import AttachmentError
from bot.money.budgets import Budgets, estimate_micro
from bot.money.catalogue import load_catalogue
from bot.providers.image_api import ImageAPI
from bot.providers.targets import OpenAITarget
from bot.runtime.db_thread import DbThread
from bot.settings import Settings
from bot.usecases import edits
from bot.usecases.image_service import ImageService
from bot.usecases.thread_images import ImagePruned, NoImageYet
from standins.images_api import ImageAPIStandIn, RecordedRequest
from storage.lifecycle import prune_images
from storage.records import ImageRecord, ThreadKey
from storage.store import Store
from tests.conftest import Sleeps
from tests.slack_views import input_images, sha

pytestmark = pytest.mark.anyio
KEY = ThreadKey("T1", "C1", "1700000000.000100")
USER = "U1"


@pytest.fixture
async def images(tmp_path: Path, image_api: ImageAPIStandIn, sleeps: Sleeps) -> AsyncIterator[ImageService]:
    settings = replace(Settings.from_env({}), provider="openai", openai_api_key=image_api.api_key,
                       openai_base_url=image_api.openai_base_url, data_dir=tmp_path, retention_days=30)
    catalogue, prices = load_catalogue(settings)
    db = DbThread(Store.open(tmp_path))
    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0), trust_env=False) as http:
        api = ImageAPI(http, OpenAITarget(image_api.openai_base_url, image_api.api_key), sleep=sleeps,
                       end_user_field=catalogue.provider("openai").end_user_field)
        yield ImageService(api, db, prices, settings, Budgets(db, settings), catalogue=catalogue)
    await db.close()


def png(size: tuple[int, int], *, clear: tuple[int, int, int, int] | None = None, mode: str = "RGB") -> bytes:
    """A PNG of `size`; with `clear`, an RGBA one, opaque but for that box (a mask) or only that box (markup)."""
    image = Image.new(mode, size, (0, 0, 0, 255) if mode == "RGBA" else (40, 90, 160))
    if clear is not None:
        image.paste((0, 0, 0, 0) if mode == "RGBA" else (255, 0, 0), clear)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def markup_png(size: tuple[int, int]) -> bytes:
    """Transparent everywhere but a red square: marks drawn over the image."""
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    image.paste((255, 0, 0, 255), (10, 10, 60, 60))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def edit_calls(api: ImageAPIStandIn) -> list[RecordedRequest]:
    return [r for r in api.requests if r.operation == "edits"]


async def generated(images: ImageService, prompt: str = "a lighthouse") -> ImageRecord:
    """An image thread whose last image was made by a real call."""
    await images.start_thread(KEY, user_id=USER, prompt=prompt)
    delivered = await images.generate(KEY, USER, prompt, images.default_options)
    return delivered.images[0]


async def plan(images: ImageService, text: str, *attached: edits.Attached,
               threshold: int | None = None) -> edits.EditPlan:
    taken = await edits.take_reply(images, KEY, text, attached, threshold=threshold)
    assert isinstance(taken, edits.EditPlan), taken
    return taken


def size_of(record: ImageRecord) -> tuple[int, int]:
    assert record.width and record.height
    return record.width, record.height


# no image ------------------------------------------------------------------------------------------------------
async def test_a_reply_in_a_thread_with_no_image_is_refused_before_any_call(
        images: ImageService, image_api: ImageAPIStandIn) -> None:
    await images.start_thread(KEY, user_id=USER, prompt=None)
    with pytest.raises(NoImageYet):
        await edits.take_reply(images, KEY, "make it red", (), threshold=None)
    with pytest.raises(NoImageYet):  # a grid needs an image too
        await edits.take_reply(images, KEY, "grid", (), threshold=None)
    assert image_api.requests == []


async def test_with_no_image_the_first_attachment_is_the_base_and_gives_its_size(
        images: ImageService, image_api: ImageAPIStandIn) -> None:
    await images.start_thread(KEY, user_id=USER, prompt=None)
    model = images.catalogue.capabilities(images.default_options.model, "openai")
    assert model is not None and not model.sizes.problems("1024x1536")
    photo = await edits.attach(images, "photo.png", png((1024, 1536)))
    edit = await plan(images, "turn it into a watercolour", photo)
    assert edit.base_image is None and edit.references == (photo,)
    assert edit.options.size == "1024x1536" and edit.inputs == ((1024, 1536),)
    await edits.make_edit(images, KEY, USER, edit, job_id=None)
    [call] = edit_calls(image_api)
    assert [sha(data) for _, _, data in input_images(call)] == [sha(photo.image.data)]


# the base ------------------------------------------------------------------------------------------------------
async def test_the_base_is_the_threads_last_image_and_is_sent_first(
        images: ImageService, image_api: ImageAPIStandIn) -> None:
    first = await generated(images)
    edit = await plan(images, "add a moon")
    assert edit.base_image == first and edit.base is None and edit.references == ()
    assert edit.prompt == "add a moon" and edit.mask is None and edit.markup is None
    delivered = await edits.make_edit(images, KEY, USER, edit, job_id=None)
    [call] = edit_calls(image_api)
    assert [sha(data) for _, _, data in input_images(call)] == [sha(await images.image_bytes(first.id))]
    thread = await images.get_thread(KEY)
    assert thread is not None and thread.last_image_id == delivered.images[0].id  # the next edit starts here

    second = await plan(images, "now a boat")
    assert second.base_image is not None and second.base_image.id == delivered.images[0].id
    branch = await plan(images, "v1: a red roof")  # a branch names its base
    assert branch.base == "v1" and branch.base_image == first and branch.prompt == "a red roof"


async def test_references_join_after_the_base(images: ImageService, image_api: ImageAPIStandIn) -> None:
    base = await generated(images)
    balloon = await edits.attach(images, "balloon.png", png((300, 200)))
    kite = await edits.attach(images, "kite.png", png((200, 300)))
    edit = await plan(images, "add these", balloon, kite)
    assert edit.base_image == base and edit.references == (balloon, kite)
    assert edit.inputs == (size_of(base), (300, 200), (200, 300))
    await edits.make_edit(images, KEY, USER, edit, job_id=None)
    [call] = edit_calls(image_api)
    sent = [sha(data) for _, _, data in input_images(call)]
    assert sent == [sha(await images.image_bytes(base.id)), sha(balloon.image.data), sha(kite.image.data)]


# mask or markup --------------------------------------------------------------------------------------------------
async def test_an_attached_mask_is_the_mask_not_a_reference(images: ImageService, image_api: ImageAPIStandIn) -> None:
    base = await generated(images)
    mask_bytes = png(size_of(base), clear=(0, 0, 100, 100), mode="RGBA")
    mask = await edits.attach(images, "mask.png", mask_bytes)
    edit = await plan(images, "a window here", mask)
    assert edit.references == () and edit.markup is None and edit.mask is not None
    assert edit.notes == ("edited where mask.png is transparent",)
    await edits.make_edit(images, KEY, USER, edit, job_id=None)
    [call] = edit_calls(image_api)
    assert "mask" in call.files and len(input_images(call)) == 1

    wrong = await edits.attach(images, "mask.png", png((64, 64), clear=(0, 0, 10, 10), mode="RGBA"))
    with pytest.raises(AttachmentError):  # a mask must fit the base image
        await plan(images, "a window here", wrong)


async def test_a_region_becomes_a_mask_transparent_there(images: ImageService) -> None:
    base = await generated(images)
    edit = await plan(images, "A1: a bird")
    assert edit.prompt == "a bird" and edit.notes == ("edited region A1",) and edit.mask is not None
    width, height = size_of(base)
    with Image.open(io.BytesIO(edit.mask)) as mask:
        assert mask.size == (width, height)
        alpha = mask.getchannel("A")
        assert alpha.getpixel((1, 1)) == 0  # inside A1: to be changed
        assert alpha.getpixel((width - 2, height - 2)) == 255  # D4: kept


async def test_markup_is_markup_and_never_goes_with_a_mask(images: ImageService, image_api: ImageAPIStandIn) -> None:
    base = await generated(images)
    marks = markup_png(size_of(base))
    markup = await edits.attach(images, "markup.png", marks)
    edit = await plan(images, "a door where the square is", markup)
    assert edit.markup == marks and edit.mask is None and edit.references == ()
    assert edit.notes == ("following the marks in markup.png",)

    mask = await edits.attach(images, "mask.png", png(size_of(base), clear=(0, 0, 100, 100), mode="RGBA"))
    with pytest.raises(AttachmentError, match="not both"):
        await plan(images, "a door", mask, markup)
    with pytest.raises(AttachmentError, match="not both"):
        await plan(images, "B2: a door", markup)
    assert edit_calls(image_api) == []


# confirmation ----------------------------------------------------------------------------------------------------
async def test_confirmation_is_asked_only_above_the_threshold(images: ImageService) -> None:
    base = await generated(images)
    reference = await edits.attach(images, "cat.png", png((512, 512)))
    edit = await plan(images, "add the cat", reference)
    estimate = estimate_micro(images.prices, images.catalogue, edit.options, edit.prompt,
                              (size_of(base), (512, 512)), fidelity=edit.options.input_fidelity)
    assert estimate is not None and estimate > 0 and edit.confirmation is None  # no threshold: never asked

    asked = await plan(images, "add the cat", reference, threshold=estimate - 1)
    assert asked.confirmation is not None and asked.confirmation.estimate_micro == estimate
    assert "add the cat" in asked.confirmation.summary and edit.options.model in asked.confirmation.summary
    at = await plan(images, "add the cat", reference, threshold=estimate)
    assert at.confirmation is None  # at the threshold is not above it

    options = images.default_options
    cost = estimate_micro(images.prices, images.catalogue, options, "a fox", (), fidelity=options.input_fidelity)
    assert cost is not None
    assert await edits.confirmation(images, KEY, options, "a fox", threshold=cost) is None
    generate = await edits.confirmation(images, KEY, options, "a fox", threshold=cost - 1)
    assert generate is not None and generate.estimate_micro == cost


# pruned ------------------------------------------------------------------------------------------------------------
async def test_a_pruned_base_is_refused_before_any_estimate_or_call(images: ImageService,
                                                                    image_api: ImageAPIStandIn) -> None:
    await generated(images)
    pruned = await images.io(prune_images, images.store, "9999-12-31T00:00:00.000+00:00")
    assert len(pruned) == 1
    calls = len(image_api.requests)
    for reply in ("make it blue", "A1: a bird", "grid"):
        with pytest.raises(ImagePruned) as refused:
            await edits.take_reply(images, KEY, reply, (), threshold=0)
        assert refused.value.label == "v1" and refused.value.days == 30
    assert len(image_api.requests) == calls


# moving the context ------------------------------------------------------------------------------------------------
async def test_an_image_alone_becomes_the_base_and_undo_goes_back(images: ImageService,
                                                                  image_api: ImageAPIStandIn) -> None:
    await generated(images)
    calls = len(image_api.requests)
    other = await edits.attach(images, "other.png", png((300, 400)))
    upload = await edits.attach(images, "photo.png", png((400, 300)))
    kept = await edits.take_reply(images, KEY, "  ", [other, upload], threshold=0)
    assert kept == edits.UploadKept("v2", upload)  # of several images alone, the last
    edit = await plan(images, "make it night")
    assert edit.base_image is not None and size_of(edit.base_image) == (400, 300)

    assert await edits.take_reply(images, KEY, "use v1", (), threshold=0) == edits.ContextMoved("v1")
    await edits.make_edit(images, KEY, USER, await plan(images, "add stars"), job_id=None)
    assert await edits.take_reply(images, KEY, "undo", (), threshold=0) == edits.ContextMoved("v1", undone=True)
    assert len(image_api.requests) == calls + 1  # only the edit called the API


async def test_the_undo_buttons_words_are_an_undo_like_the_reply(images: ImageService) -> None:
    """The Undo button under v3 sends `undo to v2`: answered as an undo (same words as the `undo` reply), while
    `use v2` is a plain move."""
    await generated(images)
    await edits.make_edit(images, KEY, USER, await plan(images, "add stars"), job_id=None)
    assert await edits.take_reply(images, KEY, "undo to v1", (), threshold=0) == edits.ContextMoved("v1", undone=True)
    assert await edits.take_reply(images, KEY, "use v2", (), threshold=0) == edits.ContextMoved("v2")


async def test_the_grid_is_drawn_over_the_current_image(images: ImageService, image_api: ImageAPIStandIn) -> None:
    base = await generated(images)
    grid = await edits.take_reply(images, KEY, "show the grid", (), threshold=0)
    assert isinstance(grid, edits.Grid) and grid.version == "v1"
    with Image.open(io.BytesIO(grid.png)) as drawn:
        assert drawn.size == size_of(base)
    assert grid.png != await images.image_bytes(base.id)
    assert len(edit_calls(image_api)) == 0
