"""storage/threads.py: images (a row per distinct bytes, the file beside it) and image threads, on a real database."""

import hashlib
from pathlib import Path

from storage.records import ThreadKey
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
