"""Where a request came from: the channel and workspace read off each kind of Slack payload."""

from __future__ import annotations

from typing import Any

import pytest

from handlers.listeners.middleware import channel_of, team_of


@pytest.mark.parametrize(("body", "channel"), [
    ({"command": "/image", "channel_id": "C1", "team_id": "T1"}, "C1"),
    ({"type": "event_callback", "event": {"type": "message", "channel": "C2"}}, "C2"),
    ({"type": "event_callback", "event": {"type": "app_home_opened", "channel": "D3"}}, None),  # not a channel's
    ({"type": "event_callback", "event": {"type": "channel_rename", "channel": {"id": "C4", "name": "new"}}}, "C4"),
    ({"type": "block_actions", "channel": {"id": "C5"}}, "C5"),
    ({"type": "block_actions", "container": {"channel_id": "C6"}}, "C6"),
    ({"type": "view_submission", "view": {}}, None),
])
def test_channel_of_each_kind_of_payload(body: dict[str, Any], channel: str | None) -> None:
    assert channel_of(body) == channel


@pytest.mark.parametrize(("body", "team"), [
    ({"command": "/image", "team_id": "T1"}, "T1"),
    ({"type": "block_actions", "team": {"id": "T2"}}, "T2"),
    ({"type": "view_submission", "user": {"id": "U1", "team_id": "T3"}}, "T3"),
    ({"type": "event_callback"}, ""),
])
def test_team_of_each_kind_of_payload(body: dict[str, Any], team: str) -> None:
    assert team_of(body) == team
