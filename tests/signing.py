"""Hand-made Slack signatures and raw posts, for the tests that send requests byte for byte as they choose.

`freeze_clock` fixes the time slack_sdk's signature verifier sees (its `Clock` seam, used by handlers/ingress.py
and by Bolt), so a five-minute edge is exact and nothing depends on how long a test takes.
"""

from __future__ import annotations

import hashlib
import hmac

import httpx
import pytest
from slack_sdk.signature import Clock

NOW = 1_800_000_000  # the app's frozen clock (any instant will do: only differences matter)


def freeze_clock(monkeypatch: pytest.MonkeyPatch, now: int = NOW) -> int:
    monkeypatch.setattr(Clock, "now", lambda self: float(now))
    return now


def signature(secret: str, timestamp: str, body: str | bytes) -> str:
    raw = body.encode() if isinstance(body, str) else body
    return "v0=" + hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + raw, hashlib.sha256).hexdigest()


def signed_headers(secret: str, body: str | bytes, timestamp: int = NOW) -> dict[str, str]:
    ts = str(timestamp)
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature(secret, ts, body)}


async def post(client: httpx.AsyncClient, url: str, body: str | bytes, content_type: str | None,
               headers: dict[str, str]) -> httpx.Response:
    """POST exactly `body` (no Content-Type header at all when `content_type` is None)."""
    content = body.encode() if isinstance(body, str) else body
    sent = {"Content-Type": content_type} if content_type is not None else {}
    # As bytes, so a header can carry what a forger may send (UTF-8, not only ASCII).
    raw = {name: value.encode() for name, value in {**sent, **headers}.items()}
    return await client.post(url, content=content, headers=raw)
