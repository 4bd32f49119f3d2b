"""One row in, out or changed, by plain SQL: the statements the hot path of every image runs.

sqlite-utils' `Table.insert`, `update` and `get` ask the database about the table first, every time: whether it
is a view (a query of sqlite_master), whether it exists (another), its primary key (PRAGMA table_info); `update`
also reads the row before changing it. About twenty of those ran per image on the database thread, half its time
(issue 16's profile), for tables whose shape the migrations in storage/db.py fix. These helpers run one statement
each.

Transactions are the caller's: outside one, each statement is committed by itself (sqlite-utils 4's `execute`
does so); inside `with db.atomic():` or `write_lock` they are part of it. (`with db.conn:` is not a transaction
here: with sqlite-utils 4 each statement in it committed on its own, so storage uses `db.atomic()`.) Table and
column names are imagebot's own, never a user's; they are quoted all the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlite_utils import Database
from sqlite_utils.db import NotFoundError


def _name(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _where(key: Mapping[str, Any]) -> str:
    return " AND ".join(f"{_name(column)} = ?" for column in key)


def insert_row(db: Database, table: str, row: Mapping[str, Any], *, ignore: bool = False) -> int:
    """INSERT (OR IGNORE) one row; the rowid SQLite gave it (with `ignore`, 0 when the row was there already)."""
    columns = ", ".join(_name(column) for column in row)
    marks = ", ".join("?" for _ in row)
    verb = "INSERT OR IGNORE" if ignore else "INSERT"
    cursor = db.execute(f"{verb} INTO {_name(table)} ({columns}) VALUES ({marks})", list(row.values()))
    return int(cursor.lastrowid or 0) if cursor.rowcount == 1 else 0


def update_row(db: Database, table: str, key: Mapping[str, Any], fields: Mapping[str, Any]) -> int:
    """UPDATE the row(s) matching `key` (column → value) with `fields`; how many rows changed."""
    if not fields:
        return 0
    assignments = ", ".join(f"{_name(column)} = ?" for column in fields)
    cursor = db.execute(f"UPDATE {_name(table)} SET {assignments} WHERE {_where(key)}",
                        [*fields.values(), *key.values()])
    return int(cursor.rowcount)


def find_row(db: Database, table: str, key: Mapping[str, Any]) -> dict[str, Any] | None:
    """The row matching `key`, as a dict; None when there is none."""
    cursor = db.execute(f"SELECT * FROM {_name(table)} WHERE {_where(key)} LIMIT 1", list(key.values()))
    found = cursor.fetchone()
    if found is None:
        return None
    return {column[0]: value for column, value in zip(cursor.description, found, strict=True)}


def get_row(db: Database, table: str, key: Mapping[str, Any]) -> dict[str, Any]:
    """The row matching `key`; sqlite-utils' NotFoundError when there is none, as `Table.get` raised."""
    found = find_row(db, table, key)
    if found is None:
        raise NotFoundError(f"no {table} row where {dict(key)}")
    return found
