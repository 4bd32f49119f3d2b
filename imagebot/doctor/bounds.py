"""How long each of the doctor's network calls may take. None is retried: a diagnosis should be quick.

Callers read `CALL_TIMEOUT` from this module when they make the call (`bounds.CALL_TIMEOUT`), not a copy taken at
import, so the one value bounds every call, Slack's and the image API's alike.
"""

from __future__ import annotations

CALL_TIMEOUT = 10.0  # seconds for each network call (connect and answer): the clients' own timeouts
BACKSTOP = 5.0  # more seconds before asyncio gives up on a call whose client timeout did not fire


def backstop_fired() -> str:
    return f"no answer within {CALL_TIMEOUT + BACKSTOP:g} s (the client's own timeout did not fire)"


def no_answer() -> str:
    """What a call whose client's own timeout fired (as it should, before the backstop) saw."""
    return f"no answer within {CALL_TIMEOUT:g} s"
