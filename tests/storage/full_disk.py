"""A full disk without root tricks: SQLite's `PRAGMA max_page_count` on a connection makes every write that needs
a new page fail with SQLITE_FULL ("database or disk is full"), exactly as a full disk does
(https://www.sqlite.org/pragma.html#pragma_max_page_count). Writes that fit in pages the file already has still
succeed, so `fill` first uses up the free ones; a row larger than a page (LARGE) then always needs new pages.
"""

from __future__ import annotations

import sqlite3

from storage.store import Store

LARGE = "a lighthouse on a cliff at dusk, " * 160  # ~5 KB: more than a 4 KB page, so its row needs new ones
_ROOM = 4294967294  # SQLite's largest max_page_count


def fill(store: Store) -> None:
    """From now on, `store`'s connection cannot grow the file, and the file has no free pages left."""
    db = store.db
    with db.conn:
        db.execute("CREATE TABLE IF NOT EXISTS test_ballast (b BLOB)")  # before the cap: it takes a page
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count = {pages}")
    for _ in range(100_000):  # a few thousand pages at most: bounded either way
        try:
            with db.conn:
                db.execute("INSERT INTO test_ballast VALUES (zeroblob(512))")
        except sqlite3.OperationalError as error:
            assert error.sqlite_errorcode == sqlite3.SQLITE_FULL, error
            return
    raise AssertionError("the database never filled up")


def free(store: Store) -> None:
    """Space is back: the connection may grow the file again."""
    store.db.execute(f"PRAGMA max_page_count = {_ROOM}")
