"""One copy fewer (two, in fact) of every byte of an image API answer, in h11's receive buffer.

httpx reads HTTP/1.1 through httpcore and h11. For each chunk of a body, h11's `ReceiveBuffer` appends the chunk
to its bytearray, then `maybe_extract_at_most` slices the whole of it out (a copy), and `_extract` slices it out
again (another copy) before emptying the buffer. A 3.5 MB answer went through those two needless copies in
256 KiB pieces: about 1.5 ms of CPU an image, a twentieth of all imagebot spends on one (issue 16's profile and
a micro-benchmark of the read).

`install()` swaps in a `maybe_extract_at_most` that, when the whole buffer is wanted (the usual case for a body
arriving chunk by chunk), hands over the bytearray itself and starts a new one; any other request goes to
h11's own method. What callers get is the same: a bytearray of the bytes, the buffer left holding the rest, the
line-search marks reset as `_extract` resets them. It is installed only when the buffer looks as this was
written for (h11 0.14 to 0.16: those three attributes and nothing else); otherwise h11 is left alone and works
as before, only slower. Installed class-wide, once, by `http_client()`, like httpcore's read size beside it.
"""

from __future__ import annotations

from typing import Any

from h11 import _receivebuffer

EXPECTED = {"_data", "_next_line_search", "_multiple_lines_search"}
_MARK = "_imagebot_whole_buffer"


def _take_whole(original: Any) -> Any:
    def maybe_extract_at_most(self: Any, count: int) -> bytearray | None:
        data: bytearray = self._data
        if not data:
            return None
        if count < len(data):
            found: bytearray | None = original(self, count)  # h11's own: part of the buffer
            return found
        self._data = bytearray()
        self._next_line_search = 0
        self._multiple_lines_search = 0
        return data

    setattr(maybe_extract_at_most, _MARK, True)
    maybe_extract_at_most.original = original  # type: ignore[attr-defined]
    return maybe_extract_at_most


def install(buffer_class: Any = None) -> bool:
    """Swap the method into h11's ReceiveBuffer (or `buffer_class`); whether it is in place afterwards."""
    cls = buffer_class or getattr(_receivebuffer, "ReceiveBuffer", None)
    original = getattr(cls, "maybe_extract_at_most", None)
    if cls is None or original is None:
        return False
    if getattr(original, _MARK, False):
        return True
    try:
        fresh = cls()
    except TypeError:
        return False
    if set(vars(fresh)) != EXPECTED or not isinstance(fresh._data, bytearray):
        return False
    cls.maybe_extract_at_most = _take_whole(original)
    return True
