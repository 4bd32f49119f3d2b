"""bot/usecases/follow_ups.py: the job each result button asks for, from the thread's versions on a real SQLite
through the real database thread."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.errors import StorageUnavailable
from bot.runtime.db_thread import DbThread
from bot.usecases.follow_ups import FollowUp, NotAsked, follow_up, request_for
from storage.records import ThreadKey
from storage.store import Store

KEY = ThreadKey("T1", "C1", "1.0")
OPTIONS = {"quality": "medium", "n": 1}
GENERATED = {"prompt": "a lighthouse", "options": OPTIONS}


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[DbThread]:
    thread = DbThread(Store.open(tmp_path))
    yield thread
    await thread.close()


def made(db: DbThread, kind: str, payload: dict[str, Any], image_id: str, parent: str | None) -> str:
    """A version of the thread, made by a job of `kind` from the image `parent`; its label."""
    job, _ = db.store.create_job(dedupe_key=f"k:{image_id}", kind=kind, team_id=KEY.team_id,
                                 channel_id=KEY.channel_id, user_id="U1", payload=payload, thread_ts=KEY.thread_ts)
    [label] = db.store.add_versions(KEY, [image_id], parent_image_id=parent, job_id=job.id)
    return label


def options(asked: FollowUp | NotAsked) -> Any:
    assert isinstance(asked, FollowUp)
    return asked.payload["options"]


def test_use_and_undo_point_the_next_edit_at_a_version_without_an_api_call() -> None:
    assert request_for("use", "edit", {}, "v2", "v1") == FollowUp("edit", {"text": "use v2", "attachments": []})
    assert request_for("undo", "edit", {}, "v2", "v1") == FollowUp("edit", {"text": "undo to v1", "attachments": []})
    assert request_for("undo", "generate", GENERATED, "v1", None) == NotAsked("no_parent")


def test_a_generated_image_is_asked_for_again_as_it_was_at_high_quality_or_three_times() -> None:
    assert request_for("retry", "generate", GENERATED, "v1", None) == FollowUp(
        "generate", {**GENERATED, "card": False})
    assert options(request_for("high_quality", "generate", GENERATED, "v1", None)) == {"quality": "high", "n": 1}
    assert options(request_for("variations", "generate", GENERATED, "v1", None)) == {"quality": "medium", "n": 3}
    assert GENERATED["options"] == {"quality": "medium", "n": 1}  # the original request is left as it was


def test_an_edit_starts_again_from_the_version_it_was_made_from() -> None:
    edited = {"text": "v1: make the sky purple", "attachments": []}
    assert request_for("retry", "edit", edited, "v2", "v1") == FollowUp(
        "edit", {"text": "v1: make the sky purple", "attachments": []})
    assert request_for("high_quality", "edit", edited, "v2", "v1") == FollowUp(
        "edit", {"text": "v1: make the sky purple --quality high", "attachments": []})
    assert request_for("variations", "edit", {"text": "make it night"}, "v3", None) == FollowUp(
        "edit", {"text": "make it night --n 3"})


@pytest.mark.anyio
async def test_a_press_asks_for_the_job_its_version_names_in_the_thread(db: DbThread) -> None:
    first = made(db, "generate", GENERATED, "a" * 64, None)
    second = made(db, "edit", {"text": "make the sky purple", "attachments": []}, "b" * 64, "a" * 64)
    assert await follow_up(db, KEY, second, "b" * 64, "undo", until=None) == FollowUp(
        "edit", {"text": f"undo to {first}", "attachments": []})
    assert await follow_up(db, KEY, second, "b" * 64, "retry", until=None) == FollowUp(
        "edit", {"text": f"{first}: make the sky purple", "attachments": []})
    assert await follow_up(db, KEY, first, "a" * 64, "variations", until=None) == FollowUp(
        "generate", {**GENERATED, "options": {**OPTIONS, "n": 3}, "card": False})


@pytest.mark.anyio
async def test_a_press_naming_another_image_or_a_version_gone_asks_for_nothing(db: DbThread) -> None:
    first = made(db, "generate", GENERATED, "a" * 64, None)
    assert await follow_up(db, KEY, first, "c" * 64, "retry", until=None) == NotAsked("mismatch")
    assert await follow_up(db, KEY, "v9", "a" * 64, "retry", until=None) == NotAsked("gone")
    assert await follow_up(db, ThreadKey("T1", "C1", "2.0"), first, "a" * 64, "retry", until=None) == NotAsked(
        "gone")  # another thread's
    [label] = db.store.add_versions(KEY, ["d" * 64], parent_image_id=None, job_id=None)  # an upload: no request
    assert await follow_up(db, KEY, label, "d" * 64, "retry", until=None) == NotAsked("gone")
    with pytest.raises(StorageUnavailable):  # past the press's deadline
        await follow_up(db, KEY, first, "a" * 64, "retry", until=time.monotonic() - 1)
