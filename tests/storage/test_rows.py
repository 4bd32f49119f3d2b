"""storage/rows.py: one row in, changed and out by plain SQL, committing nothing; on a real database."""

import sqlite3

import pytest
from sqlite_utils.db import NotFoundError

from storage import ledger
from storage.records import LedgerEntry, ThreadKey
from storage.rows import find_row, get_row, insert_row, update_row
from storage.store import Store

KEY = ThreadKey("T1", "C1", "1700000000.000100")


def thread_row(**fields: object) -> dict[str, object]:
    return {"team_id": "T1", "channel_id": "C1", "thread_ts": KEY.thread_ts, "created_by": "U1", "prompt": "a cat",
            "last_image_id": None, "created_at": "2026-12-07T00:00:00Z", "updated_at": "2026-12-07T00:00:00Z",
            **fields}


def test_insert_find_update_and_get(store: Store) -> None:
    db = store.db
    with db.atomic():
        assert insert_row(db, "threads", thread_row()) > 0
        assert insert_row(db, "threads", thread_row(prompt="ignored"), ignore=True) == 0
    key = {"team_id": "T1", "channel_id": "C1", "thread_ts": KEY.thread_ts}
    with db.atomic():
        assert update_row(db, "threads", key, {"last_image_id": "abc"}) == 1
        assert update_row(db, "threads", {**key, "thread_ts": "1.2"}, {"last_image_id": "x"}) == 0
        assert update_row(db, "threads", key, {}) == 0

    found = get_row(db, "threads", key)
    assert (found["prompt"], found["last_image_id"]) == ("a cat", "abc")
    assert find_row(db, "threads", {**key, "thread_ts": "1.2"}) is None
    with pytest.raises(NotFoundError):
        get_row(db, "images", {"id": "missing"})


def test_a_duplicate_without_ignore_is_the_databases_error(store: Store) -> None:
    with store.db.atomic():
        insert_row(store.db, "threads", thread_row())
    with pytest.raises(sqlite3.IntegrityError), store.db.atomic():
        insert_row(store.db, "threads", thread_row())


def test_they_commit_nothing_so_several_make_one_transaction(store: Store) -> None:
    """A batch's ledger rows and its status change are one transaction (storage/batches.py): a failure after
    the first write leaves none of them. Inside `with db.conn:` sqlite-utils 4 committed each row on its own."""
    entry = LedgerEntry(key=KEY, user_id="U1", kind="batch", provider="openai", model="gpt-image-2",
                        size="1024x1024", quality="low", n=1, prompt="a cat", status="batched", estimate_micro=5)
    with pytest.raises(RuntimeError), store.db.atomic():
        ledger.write_call(store.db, entry)
        ledger.write_call(store.db, entry)
        raise RuntimeError("the second half failed")
    assert store.ledger_rows() == []

    row_id = ledger.record_call(store.db, entry)  # on its own: committed
    assert [row["id"] for row in store.ledger_rows()] == [row_id]
    assert not store.db.conn.in_transaction
