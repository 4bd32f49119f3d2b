"""Every call the doctor makes is cut by its client's own timeout, Slack's and the image API's alike.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from imagebot.doctor import bounds
from standins.images_api import ImageAPIStandIn
from standins.slack import SlackStandIn
from tests.imagebot.doctor.helpers import env_for, line, run

pytestmark = pytest.mark.anyio


async def test_every_call_is_bounded_by_its_clients_own_timeout(
        slack: SlackStandIn, image_api: ImageAPIStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Slack and the image API both take the call and never answer. Each must be cut by its client's own timeout
    # ("within 0.5 s"), not by asyncio's backstop, which would say "the client's own timeout did not fire".
    monkeypatch.setattr(bounds, "CALL_TIMEOUT", 0.5)
    image_api.hang(operation="models")
    slack.hang_next("apps.connections.open")
    status, output = await run(env_for(slack, image_api, tmp_path))
    assert status == 1
    assert "no answer within 0.5 s" in line(output, "OpenAI key and model")
    assert "could not reach Slack" in line(output, "Socket Mode") and "no answer within 0.5 s" in output
    assert "did not fire" not in output
