"""bot/runtime/db_thread.py: the handshake that keeps a job from being recorded behind an ack that said it was not."""

import time

from bot.runtime.db_thread import Ticket


def test_a_ticket_is_decided_once_by_whichever_side_comes_first() -> None:
    later = time.monotonic() + 3600
    committed = Ticket(later)
    assert committed.commit() and not committed.abandon()  # committing: the listener waits for its answer
    abandoned = Ticket(later)
    assert abandoned.abandon() and not abandoned.commit()  # the listener left: the db thread rolls back
    expired = Ticket(time.monotonic() - 1)
    assert expired.remaining() == 0 and not expired.commit() and expired.abandon()
