"""storage/: the SQLite schema, content-addressed image files, threads and the ledger, on a real database."""

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.db import migration_names, open_db
from storage.files import ImageFiles
from storage.records import LedgerEntry, Spend, ThreadKey
from storage.store import Store

KEY = ThreadKey("T1", "C1", "1700000000.000100")
OTHER = ThreadKey("T1", "C1", "1700000000.000200")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path)
    yield opened
    opened.close()


def entry(key: ThreadKey = KEY, **fields) -> LedgerEntry:
    base = {"key": key, "user_id": "U1", "kind": "generate", "provider": "openai", "model": "gpt-image-1",
            "size": "1024x1024", "quality": "medium", "n": 1, "prompt": "a cat"}
    return LedgerEntry(**{**base, **fields})


# the database ---------------------------------------------------------------------------------------------


def test_open_db_creates_the_tables(tmp_path: Path) -> None:
    db = open_db(tmp_path / "nested" / "imagebot.db")
    try:
        assert {"images", "threads", "ledger"} <= set(db.table_names())
        assert {"ledger_thread", "ledger_team_time", "ledger_user_time"} <= {i.name for i in db["ledger"].indexes}
        assert db["threads"].pks == ["team_id", "channel_id", "thread_ts"]
        assert db["images"].pks == ["id"]
    finally:
        db.close()
    assert (tmp_path / "nested" / "imagebot.db").is_file()


def test_opening_twice_applies_migrations_once_and_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "imagebot.db"
    db = open_db(path)
    db["threads"].insert({"team_id": "T1", "channel_id": "C1", "thread_ts": "1.0"})
    db.close()

    again = open_db(path)
    try:
        applied = list(again.query("SELECT name FROM _sqlite_migrations WHERE migration_set = 'imagebot'"))
        assert applied == [{"name": n} for n in migration_names()]  # each once, in order
        assert again["threads"].count == 1
    finally:
        again.close()


def test_file_database_uses_wal(tmp_path: Path) -> None:
    db = open_db(tmp_path / "imagebot.db")
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        db.close()


def test_in_memory_database_has_the_schema() -> None:
    db = open_db(None)
    try:
        assert {"images", "threads", "ledger"} <= set(db.table_names())
    finally:
        db.close()


# image files ----------------------------------------------------------------------------------------------


def test_image_files_are_content_addressed(tmp_path: Path) -> None:
    files = ImageFiles(tmp_path)
    data = b"\x89PNG fake image bytes"
    digest = hashlib.sha256(data).hexdigest()

    assert files.put(data, "png") == (digest, f"{digest[:2]}/{digest}.png")
    assert files.put(data, "jpeg") == (digest, f"{digest[:2]}/{digest}.jpg")
    assert files.get(f"{digest[:2]}/{digest}.png") == data


def test_putting_the_same_bytes_twice_never_rewrites_the_file(tmp_path: Path) -> None:
    files = ImageFiles(tmp_path)
    _, relative = files.put(b"one", "png")
    (tmp_path / relative).write_bytes(b"marker")  # if put() wrote again, the marker would be gone

    files.put(b"one", "png")

    assert (tmp_path / relative).read_bytes() == b"marker"


def test_failed_write_leaves_neither_the_image_nor_a_temporary_file(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(source: str, target: Path) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("storage.files.os.replace", refuse)

    with pytest.raises(OSError, match="disk full"):
        ImageFiles(tmp_path).put(b"doomed", "png")

    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


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


# ledger ---------------------------------------------------------------------------------------------------


def test_empty_thread_has_spent_nothing(store: Store) -> None:
    assert store.thread_spend(KEY) == Spend(micro=0, calls=0, unknown=0)


def test_record_call_stores_the_entry_with_total_tokens_and_image_ids(store: Store) -> None:
    row_id = store.record_call(entry(input_text_tokens=10, input_image_tokens=194, output_image_tokens=1056,
                                     cost_micro=44_305, latency_ms=1234, request_id="req_1", image_ids=("a", "b")))

    [row] = store.ledger_rows(id=row_id)
    assert row["total_tokens"] == 10 + 194 + 1056
    assert row["output_text_tokens"] is None
    assert json.loads(row["image_ids"]) == ["a", "b"]
    assert (row["team_id"], row["channel_id"], row["thread_ts"], row["user_id"]) == ("T1", "C1", KEY.thread_ts, "U1")
    assert (row["cost_micro"], row["status"], row["request_id"], row["latency_ms"]) == (44_305, "ok", "req_1", 1234)


def test_record_call_without_usage_has_no_total_tokens(store: Store) -> None:
    row_id = store.record_call(entry(status="error", error_code="server_error"))

    [row] = store.ledger_rows(id=row_id)
    assert row["total_tokens"] is None
    assert json.loads(row["image_ids"]) == []


def test_record_call_ids_increase(store: Store) -> None:
    first = store.record_call(entry())
    second = store.record_call(entry())

    assert second > first
    assert [r["id"] for r in store.ledger_rows(team_id="T1")] == [first, second]


def test_thread_spend_sums_known_costs_and_counts_unknown_ones(store: Store) -> None:
    store.record_call(entry(cost_micro=42_240))
    store.record_call(entry(cost_micro=10_880, kind="edit"))
    store.record_call(entry(cost_micro=None, model="house-model"))  # succeeded, price unknown
    store.record_call(entry(status="error", error_code="moderation_blocked"))  # refused: no cost
    store.record_call(entry(cost_micro=5, key=OTHER))  # another thread

    assert store.thread_spend(KEY) == Spend(micro=42_240 + 10_880, calls=3, unknown=1)
    assert store.thread_spend(OTHER) == Spend(micro=5, calls=1, unknown=0)


def test_billed_call_that_failed_afterwards_keeps_its_cost(store: Store) -> None:
    store.record_call(entry(cost_micro=42_240))
    store.record_call(entry(status="error", error_code="server_error", cost_micro=166_400))

    spend = store.thread_spend(KEY)

    assert spend.micro == 42_240 + 166_400
    assert (spend.calls, spend.unknown) == (1, 0)


def test_error_without_cost_is_not_an_unknown_price(store: Store) -> None:
    store.record_call(entry(status="error", error_code="rate_limited"))

    assert store.thread_spend(KEY) == Spend(micro=0, calls=0, unknown=0)


def test_ledger_survives_a_restart(tmp_path: Path) -> None:
    first = Store.open(tmp_path)
    first.record_call(entry(cost_micro=42_240))
    first.close()

    reopened = Store.open(tmp_path)
    try:
        assert reopened.thread_spend(KEY) == Spend(micro=42_240, calls=1, unknown=0)
    finally:
        reopened.close()


def test_the_report_speed_migration_counts_images_of_existing_rows(tmp_path: Path) -> None:
    from sqlite_utils import Database

    from storage.db import migrations

    db = Database(tmp_path / "old.db")
    migrations.apply(db, stop_before="0005_report_speed")  # a database from before the column existed
    db["ledger"].insert_all([
        {"team_id": "T1", "created_at": "2026-11-01T00:00:00.000+00:00", "status": "ok", "image_ids": '["a","b"]'},
        {"team_id": "T1", "created_at": "2026-11-02T00:00:00.000+00:00", "status": "error", "image_ids": '["c"]'},
    ])
    migrations.apply(db)
    assert [r["images"] for r in db.query("SELECT images FROM ledger ORDER BY id")] == [2, 0]
    assert "images" in next(c for c in db["ledger"].indexes if c.name == "ledger_report").columns
    db.close()


def test_a_call_cut_short_by_a_crash_keeps_its_estimate_and_the_thread_counts_it(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    key = ThreadKey("T1", "C1", "1.0")
    try:
        for estimate in (40_000, 12_000):  # two calls out when the process died
            store.record_call(LedgerEntry(key=key, user_id="U1", kind="generate", provider="openai", model="m",
                                          size="1024x1024", quality="low", n=1, prompt="p", status="pending",
                                          estimate_micro=estimate))
        store.record_call(LedgerEntry(key=key, user_id="U1", kind="generate", provider="openai", model="m",
                                      size="1024x1024", quality="low", n=1, prompt="p", cost_micro=42_240,
                                      estimate_micro=40_000))
        assert store.thread_spend(key).micro == 42_240  # in flight: the budgets' reservation holds it, not this

        assert store.interrupt_pending_calls() == 2

        cut = [r for r in store.ledger_rows() if r["status"] == "error"]
        assert [(r["error_code"], r["cost_micro"], r["estimate_micro"]) for r in cut] == [
            ("interrupted", None, 40_000), ("interrupted", None, 12_000)]
        spend = store.thread_spend(key)
        assert spend.micro == 42_240 + 52_000 and spend.estimated.micro == 52_000 and spend.estimated.calls == 2
        assert spend.calls == 1 and spend.unknown == 0
        assert store.spend("T1", "2000-01-01T00:00:00.000+00:00", "2100-01-01T00:00:00.000+00:00") == 94_240
    finally:
        store.close()
