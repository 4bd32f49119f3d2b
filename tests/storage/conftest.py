"""The store most storage tests work on: a real SQLite file and image folder in the test's temp folder."""

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path)
    yield opened
    opened.close()


@pytest.fixture
def other(store: Store, tmp_path: Path) -> Iterator[sqlite3.Connection]:
    """Another process's connection to the same file."""
    conn = sqlite3.connect(tmp_path / "imagebot.db", timeout=0)
    yield conn
    conn.close()
