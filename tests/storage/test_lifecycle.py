"""storage/lifecycle.py on real files: retention pruning, backup (online), verification and restore."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from storage.db import migration_names, migrations
from storage.lifecycle import (
    DB_NAME,
    BackupError,
    DataDirInUse,
    backup,
    lock_data_dir,
    prune_images,
    remove_strays,
    restore,
    retention_cutoff,
    stray_candidates,
    unrecorded,
    verify_backup,
)
from storage.records import LedgerEntry, ThreadKey
from storage.store import Store
from tests.slack_views import png, sha

KEY = ThreadKey("T1", "C1", "1700000000.000100")
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "data")
    yield opened
    opened.close()


def aged(store: Store, image_id: str, days: float) -> None:
    """Make an image `days` old (as if it had been kept that long ago)."""
    created = (NOW - timedelta(days=days)).isoformat(timespec="milliseconds")
    with store.db.conn:
        store.db.execute("UPDATE images SET created_at = ? WHERE id = ?", [created, image_id])


def thread_with_images(store: Store, count: int = 3) -> list[str]:
    """A thread whose images are v1..v`count`, each edited from the one before; the last is the context."""
    store.start_thread(KEY, created_by="U1", prompt="a lighthouse")
    ids: list[str] = []
    for number, color in zip(range(count), ("red", "green", "blue", "white", "black"), strict=False):
        record = store.save_image(png(color), "png", origin="edited" if ids else "generated", key=KEY,
                                  parent_id=ids[-1] if ids else None, width=256, height=256)
        store.record_call(LedgerEntry(key=KEY, user_id="U1", kind="edit" if ids else "generate", provider="openai",
                                      model="gpt-image-1", size="1024x1024", quality="medium", n=1,
                                      prompt=f"step {number}", cost_micro=1000, image_ids=(record.id,)))
        store.add_versions(KEY, [record.id], parent_image_id=ids[-1] if ids else None, job_id=None)
        ids.append(record.id)
    store.set_last_image(KEY, ids[-1])
    return ids


# retention -----------------------------------------------------------------------------------------------


def test_pruning_removes_old_files_keeps_rows_and_the_ledger(store: Store) -> None:
    old, older_context, new = thread_with_images(store)
    aged(store, old, 40)
    aged(store, older_context, 31)  # still the thread's context: pruned anyway, retention is a promise
    store.set_last_image(KEY, older_context)
    aged(store, new, 29)
    cutoff = retention_cutoff(NOW, 30)

    pruned = prune_images(store, cutoff, now="2026-11-21T12:00:00.000+00:00")

    assert [p.id for p in pruned] == [old, older_context]  # oldest first
    for image_id in (old, older_context):
        record = store.get_image(image_id)
        assert record.pruned_at == "2026-11-21T12:00:00.000+00:00"
        assert not store.files.exists(record.path)
    assert store.get_image(new).pruned_at is None and store.files.get(store.get_image(new).path) == png("blue")
    assert store.thread_spend(KEY).micro == 3000 and len(store.ledger_rows()) == 3  # the ledger keeps its rows
    assert [v["label"] for v in store.versions(KEY)] == ["v1", "v2", "v3"]
    assert store.get_thread(KEY).last_image_id == older_context  # the thread still knows what it was using
    assert prune_images(store, cutoff) == []  # a second sweep finds nothing


def test_pruning_goes_in_batches_and_survives_a_file_already_gone(store: Store) -> None:
    ids = thread_with_images(store, 5)
    for image_id in ids:
        aged(store, image_id, 100)
    store.files.remove(store.get_image(ids[0]).path)  # as if a crash came between the unlink and the mark
    cutoff = retention_cutoff(NOW, 30)
    batches = []
    while batch := prune_images(store, cutoff, limit=2):
        batches.append(len(batch))
    assert batches == [2, 2, 1]
    assert all(store.get_image(i).pruned_at for i in ids)
    assert not any(store.files.exists(store.get_image(i).path) for i in ids)


def test_the_same_bytes_saved_again_bring_a_pruned_image_back(store: Store) -> None:
    [image_id] = thread_with_images(store, 1)
    aged(store, image_id, 40)
    prune_images(store, retention_cutoff(NOW, 30))
    assert store.get_image(image_id).pruned_at is not None

    again = store.save_image(png("red"), "png", origin="upload", key=KEY)

    assert again.id == image_id and again.pruned_at is None
    assert store.files.get(again.path) == png("red")
    assert prune_images(store, retention_cutoff(NOW, 30)) == []  # its age counts from now


def test_files_no_row_records_are_strays_once_old_and_saving_the_same_bytes_again_keeps_one(store: Store) -> None:
    recorded, kept_again = thread_with_images(store, 2)
    root = store.files.root
    # What a crash leaves: a file written but never recorded, and half a temporary file.
    digest, unrecorded_file = store.files.put(png("white"), "png")
    (root / digest[:2] / ".tmp-abc123").write_bytes(b"half an ima")
    young, _ = store.files.put(png("black"), "png")  # written a moment ago, its row not yet recorded
    day_ago = time.time() - 86_400  # the sweep's line: a day before the real clock, as files carry real times
    for relative in (unrecorded_file, f"{digest[:2]}/.tmp-abc123", store.get_image(recorded).path,
                     store.get_image(kept_again).path):
        os.utime(root / relative, (day_ago - 60, day_ago - 60))
    candidates = stray_candidates(root, before=day_ago)
    assert sorted(candidates) == sorted([unrecorded_file, f"{digest[:2]}/.tmp-abc123",
                                         store.get_image(recorded).path, store.get_image(kept_again).path])
    strays = unrecorded(store, candidates)
    assert sorted(strays) == sorted([unrecorded_file, f"{digest[:2]}/.tmp-abc123"])

    store.files.put(png("white"), "png")  # the same bytes saved again before the sweep gets to it: touched, kept
    assert remove_strays(root, strays, before=day_ago) == 1
    assert store.files.exists(unrecorded_file) and not (root / digest[:2] / ".tmp-abc123").exists()
    assert all(store.files.exists(store.get_image(i).path) for i in (recorded, kept_again))
    assert store.files.exists(f"{young[:2]}/{young}.png")


def test_the_cutoff_is_in_the_format_storage_writes() -> None:
    assert retention_cutoff(NOW, 30) == "2026-10-22T12:00:00.000+00:00"


# backup ----------------------------------------------------------------------------------------------------


def test_backup_copies_the_database_and_referenced_files_with_a_manifest(store: Store, tmp_path: Path) -> None:
    old, kept, context = thread_with_images(store)
    aged(store, old, 40)
    prune_images(store, retention_cutoff(NOW, 30))
    (store.files.root / "zz").mkdir()
    (store.files.root / "zz" / "stray.png").write_bytes(b"not referenced")
    target = tmp_path / "backups" / "nightly"

    report = backup(store.files.root.parent, target, clock=lambda: NOW)

    manifest = json.loads((target / "manifest.json").read_text())
    assert manifest["created_at"] == "2026-11-21T12:00:00+00:00"
    assert manifest["schema"] == migration_names()[-1] and manifest["migrations"] == migration_names()
    assert manifest["counts"]["images"] == 3 and manifest["counts"]["ledger"] == 3
    assert manifest["counts"]["threads"] == 1 and manifest["counts"]["versions"] == 3
    assert manifest["files"] == report.files == 2 and manifest["missing"] == [] and manifest["corrupt"] == []
    copied = sorted(p.name for p in (target / "images").rglob("*") if p.is_file())
    assert copied == sorted(f"{i}.png" for i in (kept, context))  # the pruned one and the stray are not copied
    assert sha((target / "images" / store.get_image(context).path).read_bytes()) == context
    assert not (target / f"{DB_NAME}-wal").exists()  # one self-contained file
    assert (target.stat().st_mode & 0o777) == 0o700 and ((target / DB_NAME).stat().st_mode & 0o777) == 0o600
    assert verify_backup(target)["files"] == 2


def test_backup_is_online_while_another_connection_is_writing(store: Store, tmp_path: Path) -> None:
    thread_with_images(store, 1)
    with closing(sqlite3.connect(store.files.root.parent / DB_NAME, timeout=1.0)) as writer:
        writer.execute("BEGIN IMMEDIATE")  # the bot in the middle of a write transaction
        writer.execute("INSERT INTO audit (created_at, team_id, user_id, action, details) "
                       "VALUES ('x', 'T1', 'U1', 'uncommitted', '{}')")
        report = backup(store.files.root.parent, tmp_path / "backup")
        writer.commit()
    assert report.counts["audit"] == 0 and report.counts["ledger"] == 1  # a consistent snapshot


def test_backup_refuses_a_non_empty_target_and_a_missing_database(store: Store, tmp_path: Path) -> None:
    thread_with_images(store, 1)
    target = tmp_path / "full"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(BackupError, match="not empty"):
        backup(store.files.root.parent, target)
    assert sorted(p.name for p in target.iterdir()) == ["notes.txt"]
    with pytest.raises(BackupError, match="no imagebot database"):
        backup(tmp_path / "nowhere", tmp_path / "other")


def test_a_file_gone_during_backup_is_marked_removed_in_the_copy(store: Store, tmp_path: Path) -> None:
    first, second = thread_with_images(store, 2)
    store.files.remove(store.get_image(first).path)  # pruned (or lost) after the snapshot was taken
    (store.files.root / store.get_image(second).path).write_bytes(b"damaged")

    report = backup(store.files.root.parent, tmp_path / "backup")

    assert report.missing == [first] and report.corrupt == [second] and report.files == 0
    with closing(sqlite3.connect(tmp_path / "backup" / DB_NAME)) as copy:
        assert copy.execute("SELECT COUNT(*) FROM images WHERE pruned_at IS NOT NULL").fetchone()[0] == 2
    verify_backup(tmp_path / "backup")  # self-consistent: restorable


# restore ---------------------------------------------------------------------------------------------------


def test_restore_into_an_empty_folder_gives_a_working_store(store: Store, tmp_path: Path) -> None:
    ids = thread_with_images(store)
    backup(store.files.root.parent, tmp_path / "backup")
    target = tmp_path / "restored"

    report = restore(tmp_path / "backup", target)

    assert report.files == 3 and report.replaced is None
    restored = Store.open(target)
    try:
        thread = restored.get_thread(KEY)
        assert thread is not None and thread.last_image_id == ids[-1]
        assert restored.image_bytes(thread.last_image_id) == png("blue")
        assert restored.thread_spend(KEY).micro == 3000
        assert restored.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        restored.close()


def test_restore_refuses_while_a_server_holds_the_data_folder(store: Store, tmp_path: Path) -> None:
    thread_with_images(store)
    backup(store.files.root.parent, tmp_path / "backup")
    target = tmp_path / "serving"
    release = lock_data_dir(target)  # what `imagebot serve` holds while it runs
    try:
        with pytest.raises(DataDirInUse):
            lock_data_dir(target)  # a second server
        with pytest.raises(BackupError, match="in use by a running imagebot"):
            restore(tmp_path / "backup", target, force=True)
        assert not (target / DB_NAME).exists()
    finally:
        release()
    assert restore(tmp_path / "backup", target, force=True).files == 3  # stopped: the restore goes ahead


def test_restore_refuses_existing_data_unless_forced_and_then_keeps_it_aside(store: Store, tmp_path: Path) -> None:
    thread_with_images(store, 1)
    backup(store.files.root.parent, tmp_path / "backup")
    target = tmp_path / "live"
    other = Store.open(target)
    other.save_image(png("white"), "png", origin="upload", key=KEY)
    other.close()

    with pytest.raises(BackupError, match="--force"):
        restore(tmp_path / "backup", target)
    untouched = Store.open(target)
    assert untouched.get_thread(KEY) is None
    untouched.close()

    report = restore(tmp_path / "backup", target, force=True, clock=lambda: NOW)

    assert report.replaced == target / "replaced-20261121T120000Z"
    assert (report.replaced / DB_NAME).is_file()
    assert [p.name for p in (report.replaced / "images").rglob("*.png")] == [f"{sha(png('white'))}.png"]
    restored = Store.open(target)
    try:
        assert restored.get_thread(KEY) is not None
    finally:
        restored.close()


@pytest.mark.parametrize("damage", ["tampered", "missing", "no manifest", "escapes"])
def test_a_damaged_backup_is_refused_before_anything_is_written(store: Store, tmp_path: Path, damage: str) -> None:
    [image_id] = thread_with_images(store, 1)
    backup(store.files.root.parent, tmp_path / "backup")
    file = tmp_path / "backup" / "images" / store.get_image(image_id).path
    if damage == "tampered":
        file.write_bytes(png("black"))
    elif damage == "missing":
        file.unlink()
    elif damage == "no manifest":
        (tmp_path / "backup" / "manifest.json").unlink()
    else:
        with closing(sqlite3.connect(tmp_path / "backup" / DB_NAME)) as copy, copy:
            copy.execute("UPDATE images SET path = '../../../data/images/' || path")

    with pytest.raises(BackupError, match="manifest" if damage == "no manifest" else "damaged"):
        restore(tmp_path / "backup", tmp_path / "restored")
    assert not (tmp_path / "restored").exists()


def test_a_backup_from_a_newer_imagebot_is_refused(store: Store, tmp_path: Path) -> None:
    thread_with_images(store, 1)
    backup(store.files.root.parent, tmp_path / "backup")
    with closing(sqlite3.connect(tmp_path / "backup" / DB_NAME)) as copy, copy:
        copy.execute("INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
                     "VALUES ('imagebot', '9999_future', 'x')")
    with pytest.raises(BackupError, match=r"9999_future.*upgrade imagebot"):
        verify_backup(tmp_path / "backup")


def test_an_older_backup_is_migrated_on_restore(tmp_path: Path) -> None:
    """A backup written before 0007 (no pruned_at) restores, and comes out at today's schema."""
    folder = tmp_path / "old-backup"
    (folder / "images" / "ab").mkdir(parents=True)
    data = png("green")
    digest = sha(data)
    (folder / "images" / "ab" / f"{digest}.png").write_bytes(data)
    with closing(sqlite3.connect(folder / DB_NAME)) as conn:
        from sqlite_utils import Database

        db = Database(conn)
        migrations.apply(db, stop_before="0007_retention")
        db["images"].insert({"id": digest, "path": f"ab/{digest}.png", "bytes": len(data), "format": "png",
                             "origin": "upload", "created_at": "2026-01-01T00:00:00.000+00:00"})
        db["threads"].insert({"team_id": "T1", "channel_id": "C1", "thread_ts": KEY.thread_ts,
                              "last_image_id": digest})
        conn.commit()
    (folder / "manifest.json").write_text(json.dumps({"format": 1, "schema": "0006_installations"}))

    restore(folder, tmp_path / "data")

    restored = Store.open(tmp_path / "data")
    try:
        assert [m.name for m in migrations.applied(restored.db)] == migration_names()
        assert restored.image_bytes(digest) == data and restored.get_image(digest).pruned_at is None
    finally:
        restored.close()
