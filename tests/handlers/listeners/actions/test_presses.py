"""A button does what its own message says, once: a press whose value or block_id names another version, image
or request is refused (nothing runs, nothing is charged), and a used confirmation stays used across restarts."""

from __future__ import annotations

import copy
import logging
from typing import Any

import pytest

from handlers.listeners.actions.presses import NOT_THIS_MESSAGE, in_message, press_of
from handlers.ui import results as views
from handlers.ui.blocks import build_notice
from standins.images_api import ImageAPIStandIn
from standins.slack import SlackStandIn
from standins.workspace import LocalWorkspace
from tests.conftest import WorkspaceFactory
from tests.handlers.listeners.actions.test_versions import buttons_for, press_payload, reply, start

pytestmark = pytest.mark.anyio
CHANNEL = "C0GENERAL"
ALICE = "U0ALICE"
EXPENSIVE = "a cathedral --size landscape --quality high --n 4"  # above the default confirmation threshold


@pytest.fixture
async def workspace(workspace_factory: WorkspaceFactory) -> LocalWorkspace:
    return await workspace_factory(user_requests_per_minute=100)


# Pure: what a press is checked against ------------------------------------------------------------------------


def pressed(blocks: list[dict[str, Any]], action_id: str, value: str, block_id: str) -> tuple[dict, dict]:
    body = {"message": {"ts": "2.0", "thread_ts": "1.0", "blocks": blocks}, "user": {"id": ALICE, "team_id": "T1"},
            "channel": {"id": CHANNEL}, "container": {"message_ts": "2.0", "channel_id": CHANNEL}}
    return body, {"action_id": action_id, "value": value, "block_id": block_id}


def test_a_press_is_one_of_its_messages_buttons_only_with_the_same_block_id_action_and_value() -> None:
    block = views.build_result_actions([("img_1", "v2")], can_undo=True)
    value = views.result_value("img_1", "v2")
    assert block["block_id"] == views.result_block_id([("img_1", "v2")])
    assert in_message(*pressed([block], views.RETRY, value, block["block_id"]))
    assert not in_message(*pressed([block], views.RETRY, views.result_value("img_1", "v1"), block["block_id"]))
    assert not in_message(*pressed([block], views.RETRY, value, views.result_block_id([("img_1", "v1")])))
    assert not in_message(*pressed([block], "imagebot_other", value, block["block_id"]))
    body, action = pressed([block], views.RETRY, value, block["block_id"])
    assert not in_message({**body, "message": None}, action)  # an ephemeral message comes without a copy
    assert not in_message({**body, "message": {"blocks": "not a list"}}, action)


def test_a_notice_buttons_block_id_names_its_request() -> None:
    [_, block] = build_notice("interrupted", button=("Run it again", "imagebot_run_again", "42"))
    assert block["block_id"] == "imagebot_run_again:42"
    assert in_message(*pressed([block], "imagebot_run_again", "42", "imagebot_run_again:42"))
    assert not in_message(*pressed([block], "imagebot_run_again", "41", "imagebot_run_again:42"))


def test_where_a_press_came_from() -> None:
    body, _ = pressed([], views.RETRY, "", "")
    place = press_of(body)
    assert (place.team_id, place.channel_id, place.user_id, place.thread_ts, place.message_ts, place.ephemeral) == (
        "T1", CHANNEL, ALICE, "1.0", "2.0", False)


# Scenario: forged presses under results ---------------------------------------------------------------------


def refusals(slack: SlackStandIn) -> list[dict[str, Any]]:
    return [e for e in slack.ephemerals(user_id=ALICE) if e["text"] == NOT_THIS_MESSAGE]


async def test_a_result_button_naming_another_version_or_image_is_refused_and_nothing_is_charged(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace,
        caplog: pytest.LogCaptureFixture) -> None:
    thread_ts = await start(slack, workspace, "a lighthouse")
    await reply(slack, workspace, thread_ts, "make the sky purple")  # v2, from v1
    other_ts = await start(slack, workspace, "a red barn")  # another thread, whose v1 is another image
    v2_message, v2 = buttons_for(slack, thread_ts, "v2")
    _, v1 = buttons_for(slack, thread_ts, "v1")
    other_message, other = buttons_for(slack, other_ts, "v1")
    moved = {**copy.deepcopy(other_message), "thread_ts": thread_ts}  # the other thread's buttons, said to be here
    forged = [
        (v2_message, v1["imagebot_retry"]["value"], v2["imagebot_retry"]["block_id"]),  # value and block_id disagree
        (v2_message, v1["imagebot_retry"]["value"], v1["imagebot_retry"]["block_id"]),  # agree: not this message's
        (moved, other["imagebot_retry"]["value"], other["imagebot_retry"]["block_id"]),  # not this thread's image
        (v2_message, "not a value", v2["imagebot_retry"]["block_id"]),
    ]
    store = workspace.services.images.store
    calls, jobs, ledger = len(image_api.requests), store.count_jobs("done"), len(store.ledger_rows())
    caplog.set_level(logging.WARNING, logger="handlers.listeners.actions.presses")
    for message, value, block_id in forged:
        payload = press_payload(slack, thread_ts, message, views.RETRY, value, block_id)
        assert (await slack.send_interaction(payload)).status == 200
        await workspace.settle()
    assert len(image_api.requests) == calls and store.count_jobs("done") == jobs
    assert len(store.ledger_rows()) == ledger  # nothing charged
    assert len(refusals(slack)) == len(forged)
    assert len([r for r in caplog.records if r.getMessage().startswith("button press refused")]) == len(forged)

    # The real button under v2 still works.
    payload = press_payload(slack, thread_ts, v2_message, views.RETRY, v2["imagebot_retry"]["value"],
                            v2["imagebot_retry"]["block_id"])
    assert (await slack.send_interaction(payload)).status == 200
    await workspace.settle()
    assert len(image_api.requests) == calls + 1


# Scenario: confirmations ------------------------------------------------------------------------------------


def confirmations(slack: SlackStandIn) -> list[dict[str, Any]]:
    return [m for m in slack.messages(CHANNEL) for b in m.get("blocks") or []
            if b.get("block_id") == views.CONFIRMATION_BLOCK]


async def confirm(slack: SlackStandIn, workspace: LocalWorkspace, message: dict[str, Any], *, value: str | None = None,
                  response_url: str | None = None, channel: str = CHANNEL) -> None:
    [button] = [e for b in message["blocks"] if b.get("block_id") == views.CONFIRMATION_BLOCK
                for e in b["elements"] if e["action_id"] == views.CONFIRM]
    payload = press_payload(slack, message["thread_ts"], message, views.CONFIRM, value or button["value"],
                            views.CONFIRMATION_BLOCK)
    payload["channel"] = {"id": channel}
    payload["container"]["channel_id"] = channel
    if response_url:
        payload["response_url"] = response_url
    assert (await slack.send_interaction(payload)).status == 200
    await workspace.settle()


async def test_a_confirmation_naming_another_request_is_refused(slack: SlackStandIn, image_api: ImageAPIStandIn,
                                                                workspace: LocalWorkspace) -> None:
    for _ in range(2):
        await slack.send_command(ALICE, CHANNEL, EXPENSIVE)
        await workspace.settle()
    first, second = confirmations(slack)
    moved = {**copy.deepcopy(second), "thread_ts": first["thread_ts"]}  # its buttons, said to be in another thread
    second_job = next(e for b in second["blocks"] for e in b.get("elements") or [])["value"]
    await confirm(slack, workspace, first, value=second_job)  # not this message's button
    await confirm(slack, workspace, moved)  # the request is another thread's
    await confirm(slack, workspace, second, channel="C0RANDOM")  # ... another channel's
    assert not image_api.requests
    assert len([e for e in slack.ephemerals(user_id=ALICE) if NOT_THIS_MESSAGE in e["text"]]) == 3
    store = workspace.services.images.store
    assert [j.error_code for j in store.jobs_with_status("done")] == ["awaiting_confirmation"] * 2  # still unanswered
    await confirm(slack, workspace, second)
    assert len(image_api.requests) == 1



async def test_a_job_id_no_job_could_have_is_refused_before_it_reaches_sqlite(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace) -> None:
    """A 40-digit value overflowed SQLite's integer (a 500, found by bench/probe.py); '²' is a digit to isdigit()."""
    await slack.send_command(ALICE, CHANNEL, EXPENSIVE)
    await workspace.settle()
    [message] = confirmations(slack)
    for value in ("9" * 40, "\u00b2", "0" * 19):
        await confirm(slack, workspace, message, value=value)  # asserts the 200
    assert len([e for e in slack.ephemerals(user_id=ALICE) if "no longer know" in e["text"]]) == 3
    assert not image_api.requests



async def test_a_press_without_a_response_url_is_answered_with_nothing_not_a_failing_reply(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace,
        caplog: pytest.LogCaptureFixture) -> None:
    """Slack sends a response_url with every press on a message; a forged one without it made the private reply
    raise in the background (bench/probe.py)."""
    await slack.send_command(ALICE, CHANNEL, EXPENSIVE)
    await workspace.settle()
    [message] = confirmations(slack)
    payload = press_payload(slack, message["thread_ts"], message, views.CONFIRM, "9" * 12, views.CONFIRMATION_BLOCK)
    del payload["response_url"]
    with caplog.at_level(logging.INFO):
        assert (await slack.send_interaction(payload)).status == 200
        await workspace.settle()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "without a response_url" in caplog.text and not image_api.requests


async def test_a_confirmation_is_used_once_also_after_a_restart_and_its_buttons_are_replaced(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace_factory: WorkspaceFactory) -> None:
    workspace = await workspace_factory()
    await slack.send_command(ALICE, CHANNEL, EXPENSIVE)
    await workspace.settle()
    [message] = confirmations(slack)
    stale = copy.deepcopy(message)
    # The press's response_url is gone (Slack's last for 30 minutes, 5 uses): the message is replaced by chat.update.
    await confirm(slack, workspace, stale, response_url=f"{slack.base_url}response/gone")
    assert len(image_api.requests) == 1
    replaced = next(m for m in slack.messages(CHANNEL) if m["ts"] == message["ts"])
    assert "confirmed; making it now" in replaced["text"] and views.CONFIRM not in str(replaced["blocks"])
    jobs = len(workspace.services.images.store.ledger_rows())

    await confirm(slack, workspace, stale)  # a second press of the stale copy
    await workspace.stop()
    workspace = await workspace_factory()  # a restart on the same data dir
    await confirm(slack, workspace, stale)
    assert len(image_api.requests) == 1 and len(workspace.services.images.store.ledger_rows()) == jobs
    assert len([e for e in slack.ephemerals(user_id=ALICE) if e["text"] == "That was answered already."]) == 2
