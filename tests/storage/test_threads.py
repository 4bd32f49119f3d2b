"""storage/threads.py: images (a row per distinct bytes, the file beside it) and image threads, on a real database."""

import hashlib
import sqlite3
from pathlib import Path

import pytest

from storage.records import LedgerEntry, ThreadKey
from storage.store import Store

KEY = ThreadKey("T1", "C1", "1700000000.000100")
OTHER = ThreadKey("T1", "C1", "1700000000.000200")


# images ---------------------------------------------------------------------------------------------------


def test_save_image_writes_one_file_and_one_row_for_the_same_bytes(store: Store, tmp_path: Path) -> None:
    data = b"\x89PNG the same bytes"

    first = store.save_image(data, "png", origin="generated", key=KEY, width=1024, height=1024)
    second = store.save_image(data, "png", origin="edited", key=OTHER, parent_id="x")

    assert first == second
    assert first.id == hashlib.sha256(data).hexdigest()
    assert (first.origin, first.parent_id, first.width, first.height, first.bytes) == (
        "generated", None, 1024, 1024, len(data))
    assert store.db["images"].count == 1
    files = [p for p in (tmp_path / "images").rglob("*") if p.is_file()]
    assert files == [tmp_path / "images" / first.path]
    assert store.image_bytes(first.id) == data


def test_save_image_leaves_no_temporary_files(store: Store, tmp_path: Path) -> None:
    for i in range(5):
        store.save_image(f"image {i}".encode(), "webp", origin="upload", key=KEY)

    names = [p.name for p in (tmp_path / "images").rglob("*")]
    assert not [n for n in names if n.startswith(".tmp")]
    assert len([n for n in names if n.endswith(".webp")]) == 5


def test_saved_edit_records_its_parent(store: Store) -> None:
    parent = store.save_image(b"parent", "png", origin="generated", key=KEY)

    child = store.save_image(b"child", "jpeg", origin="edited", key=KEY, parent_id=parent.id)

    assert store.get_image(child.id).parent_id == parent.id
    assert child.path.endswith(".jpg")
    assert child.format == "jpeg"


# threads --------------------------------------------------------------------------------------------------


def test_unknown_thread_is_none(store: Store) -> None:
    assert store.get_thread(KEY) is None


def test_start_thread_records_who_and_what(store: Store) -> None:
    thread = store.start_thread(KEY, created_by="U1", prompt="a cat")

    assert (thread.key, thread.created_by, thread.prompt, thread.last_image_id) == (KEY, "U1", "a cat", None)
    assert store.get_thread(KEY) == thread


def test_starting_a_thread_again_keeps_the_first_record(store: Store) -> None:
    store.start_thread(KEY, created_by="U1", prompt="a cat")

    again = store.start_thread(KEY, created_by="U2", prompt="a dog")

    assert (again.created_by, again.prompt) == ("U1", "a cat")
    assert store.db["threads"].count == 1


def test_threads_are_keyed_by_team_channel_and_ts(store: Store) -> None:
    store.start_thread(KEY, created_by="U1", prompt="a cat")

    assert store.get_thread(OTHER) is None
    assert store.get_thread(ThreadKey("T2", KEY.channel_id, KEY.thread_ts)) is None


def test_thread_and_last_image_survive_a_restart(tmp_path: Path) -> None:
    first = Store.open(tmp_path)
    image = first.save_image(b"picture", "png", origin="generated", key=KEY)
    first.start_thread(KEY, created_by="U1", prompt="a cat")
    first.set_last_image(KEY, image.id)
    first.close()

    reopened = Store.open(tmp_path)
    try:
        thread = reopened.get_thread(KEY)
        assert thread is not None
        assert (thread.created_by, thread.prompt, thread.last_image_id) == ("U1", "a cat", image.id)
        assert reopened.image_bytes(image.id) == b"picture"
    finally:
        reopened.close()


def test_set_last_image_moves_the_thread_on(store: Store) -> None:
    store.start_thread(KEY, created_by="U1", prompt=None)
    store.set_last_image(KEY, "first")
    store.set_last_image(KEY, "second")

    thread = store.get_thread(KEY)
    assert thread is not None
    assert thread.last_image_id == "second"


# a call's outcome, and what its footnote reads ----------------------------------------------------------------


def _pending_call(store: Store) -> tuple[int, LedgerEntry]:
    entry = LedgerEntry(key=KEY, user_id="U1", kind="generate", provider="openai", model="gpt-image-2",
                        size="1024x1024", quality="low", n=2, prompt="a cat", status="pending", estimate_micro=900)
    return store.record_call(entry), entry


def test_record_outcome_completes_the_row_labels_the_images_and_moves_the_thread_on(store: Store) -> None:
    store.start_thread(KEY, created_by="U1", prompt="a cat")
    a = store.save_image(b"a", "png", origin="generated", key=KEY)
    b = store.save_image(b"b", "png", origin="generated", key=KEY)
    ledger_id, entry = _pending_call(store)
    entry.status, entry.cost_micro, entry.image_ids = "ok", 850, (a.id, b.id)

    labels = store.record_outcome(entry, ledger_id=ledger_id, image_ids=[a.id, b.id], parent_image_id=None)

    assert labels == ["v1a", "v1b"]
    [row] = store.ledger_rows(id=ledger_id)
    assert (row["status"], row["cost_micro"]) == ("ok", 850)
    thread = store.get_thread(KEY)
    assert thread is not None and thread.last_image_id == a.id
    facts = store.thread_facts(KEY, [a.id, b.id], None)
    assert (facts.labels, facts.base_label, facts.next_edit) == (("v1a", "v1b"), None, "v1a")
    assert (facts.spend.micro, facts.spend.calls) == (850, 1)


def test_record_outcome_is_one_transaction(store: Store) -> None:
    """A failure inside (here a trigger refuses the version) leaves the ledger row pending and no version behind,
    not a row completed for images the thread never got."""
    store.start_thread(KEY, created_by="U1", prompt="a cat")
    a = store.save_image(b"a", "png", origin="generated", key=KEY)
    store.add_versions(KEY, [a.id], parent_image_id=None, job_id=None)
    store.db.execute("CREATE TRIGGER no_v2 BEFORE INSERT ON versions WHEN NEW.label = 'v2' "
                     "BEGIN SELECT RAISE(ABORT, 'refused'); END")
    ledger_id, entry = _pending_call(store)
    entry.status, entry.cost_micro = "ok", 850

    with pytest.raises(sqlite3.IntegrityError):
        store.record_outcome(entry, ledger_id=ledger_id, image_ids=[a.id], parent_image_id=None)

    [row] = store.ledger_rows(id=ledger_id)
    assert row["status"] == "pending"
    assert [v["label"] for v in store.versions(KEY)] == ["v1"]


def test_thread_facts_of_an_edit_name_its_base(store: Store) -> None:
    store.start_thread(KEY, created_by="U1", prompt="a cat")
    first = store.save_image(b"first", "png", origin="generated", key=KEY)
    edit = store.save_image(b"edit", "png", origin="edited", key=KEY, parent_id=first.id)
    store.add_versions(KEY, [first.id], parent_image_id=None, job_id=None)
    store.add_versions(KEY, [edit.id], parent_image_id=first.id, job_id=None)

    facts = store.thread_facts(KEY, [edit.id], first.id)

    assert (facts.labels, facts.base_label, facts.next_edit) == (("v2",), "v1", None)  # no last image set yet
    assert store.thread_facts(OTHER, ["nothing"], None).labels == (None,)
