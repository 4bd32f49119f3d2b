"""Three copies fewer of every byte of an image API answer, in h11's receive buffer.

httpx reads HTTP/1.1 through httpcore and h11. For each chunk of a body read from the socket, h11's `ReceiveBuffer`
appends the chunk to its bytearray (a copy), `maybe_extract_at_most` slices the whole of it out (a copy) and
`_extract` slices it out again (another copy) before emptying the buffer; httpcore then turns the bytearray it got
into bytes (one more). A 3.5 MB answer went through all four in 256 KiB pieces: about 2.5 ms of CPU an image, a
twelfth of all imagebot spends on one (issue 16's profile and a micro-benchmark of the read).

`install()` patches three methods, class-wide:

- `__iadd__`: bytes added to an empty buffer are kept as they are, the bytes object itself, not copied into the
  bytearray; adding to a buffer that holds such bytes makes the bytearray first (h11's own way from there on).
- `maybe_extract_at_most`: when the whole buffer is wanted (the usual case for a body arriving chunk by chunk) it
  hands over what it holds, bytes or bytearray, and starts afresh; httpcore's `bytes()` of bytes is no copy.
  Anything else goes to h11's own method.
- `_extract`: for a buffer holding bytes, the same answer as h11's (a bytearray of the first `count` bytes, which
  h11's line splitting edits in place), the rest kept as bytes.

What callers see is otherwise the same: the same bytes in the same order, the buffer holding the rest, the
line-search marks reset as `_extract` resets them; a body chunk may now be bytes where it was a bytearray (h11's
`Data.data` is documented as bytes-like). It is installed only when the buffer looks as this was written for (h11
0.14 to 0.16: those three attributes, a bytearray, the three methods); otherwise h11 is left alone and works as
before, only slower. Installed once, by `http_client()`, like httpcore's read size beside it.
"""

from __future__ import annotations

from typing import Any

from h11 import _receivebuffer

EXPECTED = {"_data", "_next_line_search", "_multiple_lines_search"}
_MARK = "_imagebot_whole_buffer"


def _take_whole(original: Any) -> Any:
    def maybe_extract_at_most(self: Any, count: int) -> bytes | bytearray | None:
        data: bytes | bytearray = self._data
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


def _keep_bytes(original: Any) -> Any:
    def __iadd__(self: Any, byteslike: bytes | bytearray) -> Any:
        data = self._data
        if not data and type(byteslike) is bytes:
            self._data = byteslike  # immutable: nobody can change it under the buffer
            return self
        if type(data) is bytes:
            self._data = bytearray(data)
        result = original(self, byteslike)
        return result

    __iadd__.original = original  # type: ignore[attr-defined]
    return __iadd__


def _extract_from_bytes(original: Any) -> Any:
    def _extract(self: Any, count: int) -> bytearray:
        data = self._data
        if type(data) is not bytes:
            out: bytearray = original(self, count)
            return out
        taken = bytearray(memoryview(data)[:count])
        self._data = data[count:]
        self._next_line_search = 0
        self._multiple_lines_search = 0
        return taken

    _extract.original = original  # type: ignore[attr-defined]
    return _extract


def install(buffer_class: Any = None) -> bool:
    """Swap the methods into h11's ReceiveBuffer (or `buffer_class`); whether they are in place afterwards."""
    cls = buffer_class or getattr(_receivebuffer, "ReceiveBuffer", None)
    methods = [getattr(cls, name, None) for name in ("maybe_extract_at_most", "__iadd__", "_extract")]
    if cls is None or None in methods:
        return False
    most, iadd, extract = methods
    if getattr(most, _MARK, False):
        return True
    try:
        fresh = cls()
    except TypeError:
        return False
    if set(vars(fresh)) != EXPECTED or not isinstance(fresh._data, bytearray):
        return False
    cls.__iadd__ = _keep_bytes(iadd)
    cls._extract = _extract_from_bytes(extract)
    cls.maybe_extract_at_most = _take_whole(most)  # last: its mark says all three are in
    return True
