"""The data's life: retention pruning, backup and restore.

Retention (IMAGEBOT_RETENTION_DAYS): `prune_images` deletes the files of images older than a cutoff, one
small batch at a time, and marks their rows `pruned_at`. Rows stay: the ledger, versions and threads point
at them, and the bot can tell a user their thread's image was removed rather than fail.

Backup (`imagebot backup PATH`) writes a folder:

    PATH/imagebot.db      an online SQLite backup (consistent while the bot runs), one self-contained file
    PATH/images/ab/….png  a copy of every image file the database references (checked against its sha256)
    PATH/manifest.json    when, which schema, how many rows and files; written last: no manifest, no backup

Restore (`imagebot restore PATH [--force]`) verifies the backup first (PRAGMA integrity_check; every
referenced file present with the sha256 its name promises), copies it into the data folder beside what is
there, then swaps it in; with --force, the data it replaces is moved to `replaced-<time>/`, never deleted.
The database is migrated to this version's schema on the way in.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from storage.db import ensure_schema, migration_names, migrations, open_db
from storage.files import write_atomically
from storage.records import ledger_time, utcnow
from storage.store import Store

DB_NAME = "imagebot.db"
IMAGES = "images"
MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1
_CHUNK = 1 << 20


LOCK_NAME = "imagebot.lock"


class DataDirInUse(Exception):
    """Another imagebot process serves this data folder."""


def lock_data_dir(data_dir: Path) -> Callable[[], None]:
    """Hold the data folder for this process (`imagebot serve`) until the returned release is called, or the
    process ends (the OS drops the lock). A second server on the same folder, or a restore into it, is refused:
    SQLite and the job records that stop duplicates assume one writer process."""
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(data_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise DataDirInUse(f"{data_dir} is in use by a running imagebot") from None
    return lambda: os.close(fd)


class BackupError(Exception):
    """A backup or restore that cannot go ahead; str(error) says why, for the operator."""


# retention -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pruned:
    id: str
    path: str


def prune_images(store: Store, cutoff: str, *, limit: int = 100, now: str | None = None) -> list[Pruned]:
    """Delete the files of up to `limit` images created before `cutoff` (ISO UTC), oldest first, and mark their
    rows pruned. Runs on the db thread: a batch is a few milliseconds of unlinks and one transaction, so
    requests queued behind it barely wait; call it again until it returns fewer than `limit`.

    Files go before rows are marked: a crash in between leaves rows that the next batch picks up again
    (a missing file is fine), never a marked row whose file is still on disk."""
    rows = list(store.db.query(
        "SELECT id, path FROM images WHERE pruned_at IS NULL AND created_at < ? ORDER BY created_at LIMIT ?",
        [cutoff, limit]))
    if not rows:
        return []
    for row in rows:
        store.files.remove(row["path"])
    stamp = now or utcnow()
    with store.db.conn:
        store.db.conn.executemany("UPDATE images SET pruned_at = ? WHERE id = ?", [(stamp, row["id"]) for row in rows])
    return [Pruned(row["id"], row["path"]) for row in rows]


def stray_candidates(root: Path, before: float) -> list[str]:
    """Files in the image folder last written before `before` (epoch seconds), relative to it: those a crash
    may have left unrecorded (written, then the process died before the row), and half-written temporary files.
    Walks the folder: run it on a worker thread."""
    found: list[str] = []
    if not root.is_dir():
        return found
    with os.scandir(root) as folders:
        for folder in folders:
            if not folder.is_dir(follow_symlinks=False):
                continue
            with os.scandir(folder.path) as files:
                found += [f"{folder.name}/{f.name}" for f in files
                          if f.is_file(follow_symlinks=False) and f.stat().st_mtime < before]
    return found


def unrecorded(store: Store, relatives: list[str]) -> list[str]:
    """Those of `relatives` no image row records (looked up by id, the file's name: one indexed query). Runs on
    the db thread; pass a few hundred at a time so requests in between wait for one batch at most."""
    ids = {relative: Path(relative).name.split(".", 1)[0] for relative in relatives}
    named = [i for i in ids.values() if i]
    known = {row[0] for row in store.db.execute(
        f"SELECT id FROM images WHERE id IN ({', '.join('?' * len(named))})", named)} if named else set()
    return [relative for relative, image_id in ids.items() if image_id not in known]


def remove_strays(root: Path, relatives: list[str], before: float) -> int:
    """Delete the given unrecorded files, each only if it is still older than `before` (a file saved again in the
    meantime was touched, so it stays). Returns how many went."""
    removed = 0
    for relative in relatives:
        path = root / relative
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_mtime < before:
                path.unlink()
                removed += 1
    return removed


def retention_cutoff(now: datetime, days: int) -> str:
    """The created_at before which images are pruned, in the format storage writes."""
    return ledger_time(now - timedelta(days=days))


# backup --------------------------------------------------------------------------------------------------


@dataclass
class BackupReport:
    path: Path
    schema: str | None
    counts: dict[str, int]
    files: int
    bytes: int
    missing: list[str] = field(default_factory=list)  # referenced images whose file was gone (now marked pruned)
    corrupt: list[str] = field(default_factory=list)  # files whose bytes no longer match their name: left out
    migrations: list[str] = field(default_factory=list)  # applied to the copy, in order


def backup(data_dir: Path, target: Path, *, clock: Callable[[], datetime] | None = None) -> BackupReport:
    """Back up `data_dir` (the running bot's, or a stopped one's) into the new or empty folder `target`."""
    source_db = data_dir / DB_NAME
    if not source_db.is_file():
        raise BackupError(f"there is no imagebot database at {source_db} (is IMAGEBOT_DATA_DIR right?)")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise BackupError(f"{target} is not empty: back up into a new or empty folder")
    target.mkdir(parents=True, exist_ok=True)
    target.chmod(0o700)  # the database holds prompts, and with OAuth the workspaces' tokens
    copy = target / DB_NAME
    # Read-only: a backup never writes to the live database. Connection.backup in one step copies a consistent
    # snapshot; with WAL the bot keeps writing meanwhile (its writes go to the log, not the pages being read).
    with closing(sqlite3.connect(f"file:{source_db}?mode=ro", uri=True, timeout=30.0)) as source, \
            closing(sqlite3.connect(copy)) as destination:
        source.backup(destination)
        destination.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
    copy.chmod(0o600)
    report = BackupReport(path=target, schema=None, counts={}, files=0, bytes=0)
    with _database(copy) as db:
        # A database the bot has not opened since an upgrade is brought to this version's schema, as start-up
        # would: a backup is always at the schema of the imagebot that wrote it (the manifest says which).
        ensure_schema(db)
        for row in _kept_images(db):
            outcome = _copy_checked(data_dir / IMAGES, row["path"], target / IMAGES, row["id"])
            if outcome is None:
                report.missing.append(row["id"])
            elif outcome < 0:
                report.corrupt.append(row["id"])
            else:
                report.files += 1
                report.bytes += outcome
        gone = report.missing + report.corrupt
        if gone:
            # Gone from disk (pruned while the backup ran, or lost): the copy says so, so a restore is consistent.
            with db.atomic():
                db.conn.executemany("UPDATE images SET pruned_at = ? WHERE id = ?", [(utcnow(), i) for i in gone])
        _check_integrity(db, copy)
        report.migrations = [m.name for m in migrations.applied(db)]
        report.schema = report.migrations[-1] if report.migrations else None
        report.counts = _counts(db)
    _fsync(copy)
    now = (clock or (lambda: datetime.now(UTC)))()
    manifest = {
        "format": MANIFEST_FORMAT,
        "created_at": now.astimezone(UTC).isoformat(timespec="seconds"),
        "source": str(data_dir.resolve()),
        "schema": report.schema,
        "migrations": report.migrations,
        "counts": report.counts,
        "files": report.files,
        "bytes": report.bytes,
        "missing": report.missing,
        "corrupt": report.corrupt,
    }
    write_atomically(target / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())
    return report


# restore -------------------------------------------------------------------------------------------------


@dataclass
class RestoreReport:
    data_dir: Path
    manifest: dict[str, Any]
    files: int
    replaced: Path | None  # where the data it replaced was moved (--force)


def verify_backup(source: Path) -> dict[str, Any]:
    """Check a backup folder without changing it; return its manifest or raise BackupError listing the problems."""
    manifest_path = source / MANIFEST
    if not manifest_path.is_file():
        raise BackupError(f"{source} has no {MANIFEST}: it is not a complete imagebot backup")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise BackupError(f"{manifest_path} cannot be read: {error}") from error
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise BackupError(f"{manifest_path} is not a manifest this imagebot understands")
    db_path = source / DB_NAME
    if not db_path.is_file():
        raise BackupError(f"{source} has no {DB_NAME}")
    problems: list[str] = []
    with _database(db_path, readonly=True) as db:
        _check_integrity(db, db_path)
        known = set(migration_names())
        newer = [m.name for m in migrations.applied(db) if m.name not in known]
        if newer:
            raise BackupError(f"the backup's schema ({', '.join(newer)}) is newer than this imagebot's: "
                              "upgrade imagebot, then restore")
        for row in _kept_images(db):
            file = _inside(source / IMAGES, row["path"])
            if file is None or not file.is_file():
                problems.append(f"image {row['id']}: file {row['path']} is missing")
            elif _sha256(file) != row["id"]:
                problems.append(f"image {row['id']}: file {row['path']} does not match its sha256")
    if problems:
        shown = "; ".join(problems[:10]) + (f"; and {len(problems) - 10} more" if len(problems) > 10 else "")
        raise BackupError(f"the backup in {source} is damaged ({len(problems)} problem(s)): {shown}")
    return manifest


def has_data(data_dir: Path) -> bool:
    """A database (or its write-ahead log: never leave one beside a restored database) or image files."""
    images = data_dir / IMAGES
    return any((data_dir / name).exists() for name in (DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm")) or (
        images.is_dir() and any(images.iterdir()))


def restore(source: Path, data_dir: Path, *, force: bool = False,
            clock: Callable[[], datetime] | None = None) -> RestoreReport:
    """Restore the backup in `source` into `data_dir`. Stop imagebot first: it must not hold the database."""
    manifest = verify_backup(source)
    try:
        release = lock_data_dir(data_dir)  # held until the swap is done, so no server can start meanwhile
    except DataDirInUse as exc:
        raise BackupError(f"{exc}: stop it before restoring") from None
    try:
        return _restore(source, data_dir, manifest, force=force, clock=clock)
    finally:
        release()


def _restore(source: Path, data_dir: Path, manifest: dict[str, Any], *, force: bool,
             clock: Callable[[], datetime] | None) -> RestoreReport:
    occupied = has_data(data_dir)
    if occupied and not force:
        raise BackupError(f"{data_dir} already has imagebot data: stop imagebot and add --force to replace it "
                          "(the current data is moved aside, not deleted)")
    data_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=data_dir, prefix=".restore-"))
    try:
        shutil.copyfile(source / DB_NAME, staging / DB_NAME)
        _fsync(staging / DB_NAME)
        (staging / DB_NAME).chmod(0o600)
        files = 0
        with _database(staging / DB_NAME, readonly=True) as db:
            rows = _kept_images(db)
        for row in rows:
            # Verified above before anything was written; checked again while copied, so a file changed since
            # is caught, not restored. Restores are rare: reading each file twice buys both guarantees.
            if _copy_checked(source / IMAGES, row["path"], staging / IMAGES, row["id"]) in (None, -1):
                raise BackupError(f"image {row['id']} ({row['path']}) changed in the backup while it was restored")
            files += 1
        replaced = None
        if occupied:
            stamp = (clock or (lambda: datetime.now(UTC)))().astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
            replaced = data_dir / f"replaced-{stamp}"
            replaced.mkdir()
            for name in (DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm", IMAGES):
                if (data_dir / name).exists():
                    os.replace(data_dir / name, replaced / name)
        os.replace(staging / DB_NAME, data_dir / DB_NAME)
        if (staging / IMAGES).exists():
            os.replace(staging / IMAGES, data_dir / IMAGES)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    # As start-up does: WAL on, and an older backup migrated to this version's schema.
    with closing(open_db(data_dir / DB_NAME)) as restored:
        _check_integrity(restored, data_dir / DB_NAME)
    return RestoreReport(data_dir=data_dir, manifest=manifest, files=files, replaced=replaced)


# helpers -------------------------------------------------------------------------------------------------


@contextmanager
def _database(path: Path, *, readonly: bool = False) -> Iterator[Database]:
    uri = f"file:{path}?mode=ro" if readonly else f"file:{path}"
    conn = sqlite3.connect(uri, uri=True, timeout=30.0)
    try:
        yield Database(conn)
    finally:
        conn.close()


def _check_integrity(db: Database, path: Path) -> None:
    result = [row[0] for row in db.execute("PRAGMA integrity_check").fetchall()]
    if result != ["ok"]:
        raise BackupError(f"{path} failed SQLite's integrity check: {'; '.join(result[:5])}")


def _counts(db: Database) -> dict[str, int]:
    return {name: int(db.execute(f"SELECT COUNT(*) FROM [{name}]").fetchone()[0])
            for name in sorted(db.table_names()) if not name.startswith(("_", "sqlite_"))}


def _kept_images(db: Database) -> list[dict[str, Any]]:
    """The images whose files are kept (not pruned), by id; a backup older than retention has no pruned_at."""
    where = " WHERE pruned_at IS NULL" if "pruned_at" in db["images"].columns_dict else ""
    return list(db.query(f"SELECT id, path FROM images{where} ORDER BY id"))


def _inside(root: Path, relative: str) -> Path | None:
    """root/relative, or None if `relative` would leave root (a backup is data, not to be trusted blindly)."""
    candidate = (root / relative).resolve()
    return candidate if candidate.is_relative_to(root.resolve()) else None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _copy_checked(source_root: Path, relative: str, target_root: Path, expected: str) -> int | None:
    """Copy root/relative across, hashing as it goes (a copy, not a hard link: backups often live on another
    device). Return its size; None if the source is missing; -1 (and no copy) if its bytes do not match."""
    source = _inside(source_root, relative)
    target = _inside(target_root, relative)
    if source is None or target is None or not source.is_file():
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    with source.open("rb") as reader, target.open("wb") as writer:
        while chunk := reader.read(_CHUNK):
            digest.update(chunk)
            writer.write(chunk)
            size += len(chunk)
        writer.flush()
        os.fsync(writer.fileno())
    if digest.hexdigest() != expected:
        target.unlink()
        return -1
    return size


def _fsync(path: Path) -> None:
    with path.open("rb") as handle:
        os.fsync(handle.fileno())

