"""The Storage section: the data dir is writable and its disk has room; and the check other sections give when the
database there cannot be read."""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from pathlib import Path

from imagebot.doctor.checklist import FAIL, OK, WARN, Check
from storage import diagnostics

MIN_FREE_BYTES = 250 * 1024**2  # below this, the next few images or a database checkpoint may not fit
LOW_FREE_BYTES = 2 * 1024**3  # a few hundred large images


def storage_checks(data_dir: Path, min_free_bytes: int = MIN_FREE_BYTES,
                   low_free_bytes: int = LOW_FREE_BYTES) -> list[Check]:
    path = data_dir.resolve()
    existing = next(p for p in (path, *path.parents) if p.exists())
    checks = [_writable_check(path, existing)]
    try:
        free = shutil.disk_usage(existing).free
    except OSError as error:
        return [*checks, Check("Free disk", WARN, f"could not be measured at {existing}: {error.strerror}")]
    gib = f"{free / 1024**3:.1f} GB free on the data dir's disk"
    fix = ("Free some space, move IMAGEBOT_DATA_DIR to a larger disk, or set IMAGEBOT_RETENTION_DAYS to prune old "
           "images.")
    if free < min_free_bytes:
        checks.append(Check("Free disk", FAIL, f"only {free / 1024**2:.0f} MB free on the data dir's disk: images "
                            "and the database may soon not fit", fix))
    elif free < low_free_bytes:
        checks.append(Check("Free disk", WARN, f"{gib}, enough for a few hundred large images", fix))
    else:
        checks.append(Check("Free disk", OK, gib))
    return checks


def _writable_check(path: Path, existing: Path) -> Check:
    title = "Data dir"
    fix = ("Create it and let the user who runs imagebot write to it, or set IMAGEBOT_DATA_DIR to a folder that "
           "user can write to.")
    if existing != path:
        if existing.is_dir() and os.access(existing, os.W_OK | os.X_OK):
            return Check(title, OK, f"{path} does not exist yet; imagebot creates it on start ({existing} is "
                         "writable)")
        return Check(title, FAIL, f"{path} does not exist, and {existing} is not writable to create it", fix)
    if not path.is_dir():
        return Check(title, FAIL, f"{path} is not a folder", fix)
    try:
        with tempfile.NamedTemporaryFile(dir=path, prefix=".imagebot-doctor-"):
            pass
    except OSError as error:
        return Check(title, FAIL, f"cannot write to {path}: {error.strerror}", fix)
    for part in (path / diagnostics.DB_NAME, path / "images"):
        if part.exists() and not os.access(part, os.W_OK):
            return Check(title, FAIL, f"{part} is not writable", fix)
    return Check(title, OK, f"{path} is writable")


def unreadable_database(data_dir: Path, error: sqlite3.Error) -> Check:
    return Check("Database", FAIL, f"{data_dir / diagnostics.DB_NAME} cannot be read: {error}",
                 "Restore the latest backup with `imagebot restore PATH --force` (the damaged files are moved "
                 "aside, not deleted).")
