"""Which SQLite (and file) errors mean "storage cannot do this right now" rather than a bug.

A full disk (SQLITE_FULL, "database or disk is full"), a failing one (SQLITE_IOERR), a read-only or vanished
file (SQLITE_READONLY, SQLITE_CANTOPEN) and a lock another process holds past the busy timeout (SQLITE_BUSY,
SQLITE_LOCKED, "database is locked") all pass: imagebot tells the user it cannot save right now and carries on,
and the next write succeeds once space or the lock returns. Anything else (a constraint, a syntax error, a
corrupt file) is a bug or damage, and is raised as it is. Codes: https://www.sqlite.org/rescode.html
The image files' folder fails the same way (a full, failing or read-only disk): OSError with those errnos.
"""

from __future__ import annotations

import errno
import sqlite3

# Primary result codes; the extended ones (SQLITE_IOERR_WRITE, SQLITE_BUSY_SNAPSHOT…) carry them in their low byte.
TRANSIENT = frozenset({sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED,
                       sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PROTOCOL})
DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS})


def unavailable(error: BaseException) -> bool:
    """True if `error` says storage cannot take this now (full, failing, locked), not that the work is wrong."""
    if isinstance(error, OSError):
        return error.errno in DISK_ERRNOS
    code = getattr(error, "sqlite_errorcode", None)
    return isinstance(error, sqlite3.OperationalError) and code is not None and code & 0xFF in TRANSIENT
