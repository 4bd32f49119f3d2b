"""bot/providers/h11_buffer.py: h11's receive buffer keeps a chunk added to it empty as it is and hands a whole body
chunk over without copying it, and answers every call exactly as h11's own methods do."""

import random

from h11._receivebuffer import ReceiveBuffer

from bot.providers import h11_buffer


def installed() -> None:
    assert h11_buffer.install()
    assert h11_buffer.install()  # a second time is a no-op


def test_the_whole_buffer_is_handed_over_not_copied() -> None:
    installed()
    buffer = ReceiveBuffer()
    buffer += b"x" * 300_000
    held = buffer._data
    out = buffer.maybe_extract_at_most(1_000_000)
    assert out is held  # the same bytearray: no copy made
    assert len(buffer) == 0 and buffer.maybe_extract_at_most(10) is None
    buffer += b"next"
    assert bytes(buffer.maybe_extract_at_most(4) or b"") == b"next"
    assert out == b"x" * 300_000  # what was handed over is untouched by the buffer's later use


def test_bytes_added_to_an_empty_buffer_are_kept_and_handed_over_as_they_are() -> None:
    installed()
    buffer = ReceiveBuffer()
    chunk = b"y" * 300_000
    buffer += chunk
    assert buffer._data is chunk  # kept, not copied into the bytearray
    assert buffer.maybe_extract_at_most(1_000_000) is chunk  # and handed over: httpcore's bytes() of it is no copy
    buffer += b"HTTP/1.1 200 OK\r\nA: b\r\n\r\nbody"
    assert buffer.maybe_extract_lines() == [bytearray(b"HTTP/1.1 200 OK"), bytearray(b"A: b")]
    buffer += b" more"  # added to bytes left over: the bytearray again, h11's own way
    assert isinstance(buffer._data, bytearray) and bytes(buffer) == b"body more"


class H11sOwn(ReceiveBuffer):
    """The buffer with h11's own methods, whatever is installed on ReceiveBuffer."""


def test_every_answer_is_h11s_own() -> None:
    installed()
    H11sOwn.maybe_extract_at_most = ReceiveBuffer.maybe_extract_at_most.original  # type: ignore[attr-defined,method-assign]
    H11sOwn.__iadd__ = ReceiveBuffer.__iadd__.original  # type: ignore[attr-defined,method-assign]
    H11sOwn._extract = ReceiveBuffer._extract.original  # type: ignore[attr-defined,method-assign]
    rng = random.Random(16)
    ours, theirs = ReceiveBuffer(), H11sOwn()  # type: ReceiveBuffer, ReceiveBuffer
    kinds = set()
    for _ in range(6000):
        step = rng.random()
        if step < 0.4:
            data = bytes(rng.choice(b"ab\r\n") for _ in range(rng.randint(0, 40)))
            added = data if rng.random() < 0.7 else bytearray(data)  # the socket's bytes, or a bytearray
            ours += added
            theirs += bytes(data)
            kinds.add(type(ours._data))
        elif step < 0.8:
            count = rng.randint(0, 60)
            assert ours.maybe_extract_at_most(count) == theirs.maybe_extract_at_most(count)
        elif step < 0.9:
            assert ours.maybe_extract_next_line() == theirs.maybe_extract_next_line()
        else:
            assert ours.maybe_extract_lines() == theirs.maybe_extract_lines()
        assert bytes(ours) == bytes(theirs)
        assert (ours._next_line_search, ours._multiple_lines_search) == (
            theirs._next_line_search, theirs._multiple_lines_search)
    assert kinds == {bytes, bytearray}  # both ways of holding were exercised


def test_a_buffer_unlike_h11s_is_left_alone() -> None:
    class Other:
        def __init__(self) -> None:
            self._data = bytearray()
            self._chunks: list[bytes] = []

        def maybe_extract_at_most(self, count: int) -> bytearray | None:
            return None

    method = Other.maybe_extract_at_most
    assert not h11_buffer.install(Other)
    assert Other.maybe_extract_at_most is method
