"""storage/posted.py: what imagebot posted in Slack and needs again (a card's last blocks, the files that show
each image in a thread), on a real database, across a reopen."""

from pathlib import Path
from typing import Any

from storage.records import PostedFile, ThreadKey
from storage.store import Store

KEY = ThreadKey("T1", "C1", "1700000000.000100")
OTHER = ThreadKey("T1", "C1", "1700000000.000200")
ELSEWHERE = ThreadKey("T2", "C1", "1700000000.000100")
SVG, PNG, WEBP = "a" * 64, "b" * 64, "c" * 64


def test_a_card_reads_as_it_was_last_posted_and_survives_a_reopen(store: Store, tmp_path: Path) -> None:
    assert store.posted_card(KEY) is None
    store.remember_card(KEY, "first", [{"type": "section", "block_id": "imagebot_card"}])
    blocks: list[dict[str, Any]] = [{"type": "section", "block_id": "imagebot_card"},
                                    {"type": "image", "slack_file": {"id": "F1"}}]
    store.remember_card(KEY, "second", blocks)
    assert store.posted_card(KEY) == ("second", blocks)
    assert store.posted_card(OTHER) is None and store.posted_card(ELSEWHERE) is None
    store.close()
    reopened = Store.open(tmp_path)
    try:
        assert reopened.posted_card(KEY) == ("second", blocks)
    finally:
        reopened.close()


def test_the_drawn_file_is_the_newest_that_slack_draws_in_that_thread(store: Store) -> None:
    store.remember_files(KEY, [PostedFile(SVG, "F1", "image", drawn=False), PostedFile(SVG, "F2", "preview", True),
                               PostedFile(PNG, "F3", "image", drawn=True), PostedFile(WEBP, "F4", "image", False)])
    assert (store.drawn_file(KEY, SVG), store.drawn_file(KEY, PNG), store.drawn_file(KEY, WEBP)) == ("F2", "F3", None)
    assert store.drawn_file(OTHER, PNG) is None and store.drawn_file(ELSEWHERE, PNG) is None  # per thread, per team

    store.remember_files(KEY, [PostedFile(PNG, "F5", "image", drawn=True)])  # uploaded again: a new file
    assert store.drawn_file(KEY, PNG) == "F5"
    store.remember_files(OTHER, [PostedFile(PNG, "F6", "upload", drawn=True)])  # the same bytes in another thread
    assert (store.drawn_file(KEY, PNG), store.drawn_file(OTHER, PNG)) == ("F5", "F6")
    store.remember_files(KEY, [PostedFile(PNG, "F3", "image", drawn=True)])  # a file recorded again is the newest
    assert store.drawn_file(KEY, PNG) == "F3"
    assert store.db["posted_files"].count == 6
