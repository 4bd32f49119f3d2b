"""The bot token is checked with auth.test when imagebot starts (handlers/workspaces.py Workspaces.warm), so the
first requests after a restart do not wait for that call; a check that fails at start is only logged, and the
first request tries again."""

from __future__ import annotations

import asyncio
import logging

import pytest

from standins.slack import SlackStandIn
from tests.conftest import WorkspaceFactory, token_checked

pytestmark = pytest.mark.anyio
CHANNEL = "C0GENERAL"
ALICE = "U0ALICE"


async def test_the_token_is_checked_at_start_not_by_the_first_request(
        slack: SlackStandIn, workspace_factory: WorkspaceFactory) -> None:
    await workspace_factory()
    await token_checked(slack)  # no request has arrived yet
    delivery = await slack.send_command(ALICE, CHANNEL, "help")
    assert delivery.status == 200 and "/image" in delivery.response_text
    assert len(slack.calls_to("auth.test")) == 1


async def test_a_check_that_fails_at_start_is_logged_and_the_first_request_tries_again(
        slack: SlackStandIn, workspace_factory: WorkspaceFactory, caplog: pytest.LogCaptureFixture) -> None:
    slack.fail_next("auth.test", status=200, error="invalid_auth", retry_after=None)
    with caplog.at_level(logging.WARNING, logger="handlers.workspaces"):
        await workspace_factory()
        await token_checked(slack)
        async with asyncio.timeout(30):
            while not any("could not check the bot token" in r.getMessage() for r in caplog.records):  # noqa: ASYNC110
                await asyncio.sleep(0.01)
    assert any("invalid_auth" in r.getMessage() for r in caplog.records)
    delivery = await slack.send_command(ALICE, CHANNEL, "help")
    assert delivery.status == 200 and "/image" in delivery.response_text
    assert len(slack.calls_to("auth.test")) == 2  # the failure was not kept: the request checked again, and passed
