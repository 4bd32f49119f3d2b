"""Image threads: the images they show (rows here, bytes in storage/files.py), which image the next edit starts
from, and the version labels (v1, v2, v3a…) a thread gives its images.

Functions over the database, taking it first (and the image files where the bytes are involved).
"""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database

from storage.files import ImageFiles
from storage.records import ImageRecord, ThreadKey, ThreadRecord, utcnow
from storage.rows import find_row, get_row, insert_row, update_row

# images -----------------------------------------------------------------------------------------------------


def save_image(db: Database, files: ImageFiles, data: bytes, fmt: str, *, origin: str, key: ThreadKey,
               parent_id: str | None = None, width: int | None = None, height: int | None = None) -> ImageRecord:
    """Write the bytes (atomically, content-addressed) and record them; an existing image is kept."""
    digest, relative = files.put(data, fmt)
    return record_image(db, files, digest, relative, len(data), fmt, origin=origin, key=key, parent_id=parent_id,
                        width=width, height=height)


def record_image(db: Database, files: ImageFiles, digest: str, relative: str, size: int, fmt: str, *, origin: str,
                 key: ThreadKey, parent_id: str | None = None, width: int | None = None,
                 height: int | None = None) -> ImageRecord:
    """Record an image whose bytes `files.put` already wrote (the two halves can run on different threads)."""
    row = {
        "id": digest, "path": relative, "bytes": size, "format": fmt, "width": width, "height": height,
        "origin": origin, "parent_id": parent_id, "team_id": key.team_id, "channel_id": key.channel_id,
        "thread_ts": key.thread_ts, "created_at": utcnow(),
    }
    with db.atomic():
        insert_row(db, "images", row, ignore=True)
    record = get_image(db, digest)
    if record.pruned_at is not None and files.exists(relative):
        # The same bytes again after retention removed them: `put` wrote the file anew, so the image is
        # back and its age counts from now. (Had the pruner removed the file again between `put` and here,
        # the row would rightly stay pruned.)
        with db.atomic():
            db.execute("UPDATE images SET pruned_at = NULL, created_at = ? WHERE id = ?", [row["created_at"], digest])
        record = get_image(db, digest)
    return record


def get_image(db: Database, image_id: str) -> ImageRecord:
    row = get_row(db, "images", {"id": image_id})
    return ImageRecord(id=row["id"], path=row["path"], bytes=row["bytes"], format=row["format"],
                       width=row["width"], height=row["height"], origin=row["origin"],
                       parent_id=row["parent_id"], pruned_at=row.get("pruned_at"))


def image_bytes(db: Database, files: ImageFiles, image_id: str) -> bytes:
    return files.get(get_image(db, image_id).path)


# threads ----------------------------------------------------------------------------------------------------


def start_thread(db: Database, key: ThreadKey, *, created_by: str, prompt: str | None) -> ThreadRecord:
    now = utcnow()
    with db.atomic():
        insert_row(db, "threads", {"team_id": key.team_id, "channel_id": key.channel_id, "thread_ts": key.thread_ts,
                                   "created_by": created_by, "prompt": prompt, "last_image_id": None,
                                   "created_at": now, "updated_at": now}, ignore=True)
    thread = get_thread(db, key)
    assert thread is not None
    return thread


def get_thread(db: Database, key: ThreadKey) -> ThreadRecord | None:
    row = find_row(db, "threads", _thread_key(key))
    if row is None:
        return None
    return ThreadRecord(key=key, created_by=row["created_by"], prompt=row["prompt"],
                        last_image_id=row["last_image_id"])


def set_last_image(db: Database, key: ThreadKey, image_id: str) -> None:
    with db.atomic():
        update_row(db, "threads", _thread_key(key), {"last_image_id": image_id, "updated_at": utcnow()})


def _thread_key(key: ThreadKey) -> dict[str, str]:
    return {"team_id": key.team_id, "channel_id": key.channel_id, "thread_ts": key.thread_ts}


def attach_thread(db: Database, job_id: int, key: ThreadKey, *, created_by: str, prompt: str | None) -> None:
    """A generate job's card is posted: its thread and the job's link to it, in one transaction."""
    now = utcnow()
    with db.atomic():
        # The channel too: a workflow step's job for a user is posted to their DM, known once it is posted.
        db.execute("UPDATE jobs SET thread_ts = ?, channel_id = ? WHERE id = ?",
                   [key.thread_ts, key.channel_id, job_id])
        db.execute(
            "INSERT OR IGNORE INTO threads (team_id, channel_id, thread_ts, created_by, prompt, last_image_id, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, ?, NULL, ?, ?)",
            [key.team_id, key.channel_id, key.thread_ts, created_by, prompt, now, now])


# versions ---------------------------------------------------------------------------------------------------


def add_versions(db: Database, key: ThreadKey, image_ids: list[str], *, parent_image_id: str | None,
                 job_id: int | None) -> list[str]:
    """Label a call's images with the thread's next version number (v3, or v3a, v3b… for several)."""
    with db.atomic():
        row = db.execute("SELECT COALESCE(MAX(number), 0) FROM versions WHERE team_id = ? AND channel_id = ? AND "
                         "thread_ts = ?", [key.team_id, key.channel_id, key.thread_ts]).fetchone()
        number = int(row[0]) + 1
        labels = [f"v{number}"] if len(image_ids) == 1 else [
            f"v{number}{chr(ord('a') + i)}" for i in range(len(image_ids))]
        now = utcnow()
        for label, image_id in zip(labels, image_ids, strict=True):
            db.execute(
                "INSERT INTO versions (team_id, channel_id, thread_ts, label, number, image_id, parent_image_id, "
                "job_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [key.team_id, key.channel_id, key.thread_ts, label, number, image_id, parent_image_id, job_id, now])
    return labels


def versions(db: Database, key: ThreadKey) -> list[dict[str, Any]]:
    return list(db.query(
        "SELECT * FROM versions WHERE team_id = ? AND channel_id = ? AND thread_ts = ? ORDER BY number, label",
        [key.team_id, key.channel_id, key.thread_ts]))


def version_of(db: Database, key: ThreadKey, image_id: str) -> dict[str, Any] | None:
    """The (latest) version row showing this image in the thread."""
    rows = list(db.query(
        "SELECT * FROM versions WHERE team_id = ? AND channel_id = ? AND thread_ts = ? AND image_id = ? "
        "ORDER BY number DESC LIMIT 1", [key.team_id, key.channel_id, key.thread_ts, image_id]))
    return rows[0] if rows else None


def label_of(db: Database, key: ThreadKey, image_id: str | None) -> str | None:
    """The version label that shows `image_id` in the thread (None for no image, or one it never labelled)."""
    row = version_of(db, key, image_id) if image_id else None
    return str(row["label"]) if row else None


def next_edit_label(db: Database, key: ThreadKey) -> str | None:
    """The label of the image the thread's next edit starts from (None before it has one)."""
    thread = get_thread(db, key)
    return label_of(db, key, thread.last_image_id) if thread else None


def version(db: Database, key: ThreadKey, label: str) -> dict[str, Any] | None:
    rows = list(db.query(
        "SELECT * FROM versions WHERE team_id = ? AND channel_id = ? AND thread_ts = ? AND label = ?",
        [key.team_id, key.channel_id, key.thread_ts, label.lower()]))
    return rows[0] if rows else None
