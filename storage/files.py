"""Image bytes on disk, content-addressed: images/ab/cdef….png, written atomically, never rewritten."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


def write_atomically(target: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, flush it to disk, then rename it over `target`: a crash
    leaves either no file or the whole file, never half of one."""
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


class ImageFiles:
    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, data: bytes, fmt: str) -> tuple[str, str]:
        """Store `data`; return (sha256 hex, path relative to root). Writing the same bytes twice is a no-op."""
        digest = hashlib.sha256(data).hexdigest()
        relative = f"{digest[:2]}/{digest}.{'jpg' if fmt == 'jpeg' else fmt}"
        target = self.root / relative
        if target.exists():
            # Touched: a file about to be recorded again is young, so the stray sweep (storage/lifecycle.py)
            # never takes it for one a crash left unrecorded.
            os.utime(target)
            return digest, relative
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(target, data)
        return digest, relative

    def get(self, relative: str) -> bytes:
        return (self.root / relative).read_bytes()

    def exists(self, relative: str) -> bool:
        return (self.root / relative).is_file()

    def remove(self, relative: str) -> None:
        """Delete a stored file (retention); a file already gone is fine."""
        (self.root / relative).unlink(missing_ok=True)
