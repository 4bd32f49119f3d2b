"""`imagebot sandbox` over HTTP: the page, and each thing the page does, against the real app (offline images)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from bot.settings import Settings
from handlers.ui import modals as views
from handlers.ui.results import USE
from standins.sandbox import Sandbox, image_provider
from tests.catalogue_helpers import live_with

pytestmark = pytest.mark.anyio
ALICE, BOB, CHANNEL = "U0ALICE", "U0BOB", "C0GENERAL"
WAIT = 60.0  # a bound for anything the sandbox does in the background, never a delay


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[Sandbox]:
    async with Sandbox(Settings(provider="offline"), tmp_path / "data") as started:
        yield started


@pytest.fixture
async def http(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sandbox.url, timeout=WAIT, trust_env=False) as client:
        yield client


async def settle(sandbox: Sandbox) -> None:
    assert sandbox.workspace is not None
    await sandbox.workspace.settle(timeout=WAIT)


async def state(http: httpx.AsyncClient, user: str = ALICE) -> dict[str, Any]:
    response = await http.get("/api/state", params={"user": user})
    assert response.status_code == 200, response.text
    return response.json()


def general(snapshot: dict[str, Any]) -> list[dict[str, Any]]:
    return next(c for c in snapshot["channels"] if c["id"] == CHANNEL)["messages"]


async def generate(sandbox: Sandbox, http: httpx.AsyncClient, prompt: str) -> dict[str, Any]:
    """/image `prompt` through the page's API; the card, with its replies, once the job is done."""
    response = await http.post("/api/command", json={"user": ALICE, "channel": CHANNEL, "text": prompt,
                                                      "command": "/image"})
    assert response.status_code == 200 and response.json() == {"ok": True}, response.text
    await settle(sandbox)
    return next(m for m in general(await state(http)) if m["is_bot"] and m["replies"])


def png(color: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), color).save(out, format="PNG")
    return out.getvalue()


def buttons(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["action_id"]: {**e, "block_id": b["block_id"]} for b in message["blocks"] if b["type"] == "actions"
            for e in b["elements"]}


async def test_the_page_and_its_files_are_served(sandbox: Sandbox, http: httpx.AsyncClient) -> None:
    page = await http.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'data-testid="composer-input"' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for name, kind in (("app.js", "text/javascript"), ("app.css", "text/css"), ("emoji.js", "text/javascript"),
                       ("mrkdwn.js", "text/javascript")):
        response = await http.get(f"/static/{name}")
        assert response.status_code == 200 and response.headers["content-type"].startswith(kind)
        assert f'src="/static/{name}"' in page.text or name == "app.css"
    assert (await http.get("/static/secret.py")).status_code == 404
    snapshot = await state(http)
    assert snapshot["provider"] == "offline" and image_provider(Settings()) == "offline"
    assert {u["name"]: u["is_admin"] for u in snapshot["users"]} == {"alice": False, "bob": False, "admin": True}
    assert {c["name"] for c in snapshot["channels"]} >= {"general", "random"} and snapshot["view"] is None


async def test_the_home_tab_shows_what_the_app_publishes_for_that_user(sandbox: Sandbox,
                                                                        http: httpx.AsyncClient) -> None:
    assert (await state(http))["home"] is None  # nothing published until the tab is opened
    response = await http.post("/api/home", json={"user": ALICE})
    assert response.status_code == 200 and response.json() == {"ok": True}, response.text
    await settle(sandbox)
    home = (await state(http))["home"]
    assert home is not None and home["id"] == sandbox.slack.home_views[ALICE]["id"]
    text = str(home["blocks"])
    assert "How to use it" in text and "Your spend" in text and "Your recent images" in text
    assert (await state(http, BOB))["home"] is None  # only Alice opened hers
    assert (await http.post("/api/home", json={"user": "U0NOBODY"})).status_code == 400


async def test_a_button_on_the_home_tab_is_pressed_in_a_view_container(sandbox: Sandbox,
                                                                       http: httpx.AsyncClient) -> None:
    button = {"type": "button", "action_id": "home_press", "text": {"type": "plain_text", "text": "Press"},
              "value": "x"}
    sandbox.slack.home_views[ALICE] = {"id": "V0HOME", "type": "home", "blocks": [
        {"type": "actions", "block_id": "home_buttons", "elements": [button]}]}
    await http.post("/api/action", json={"user": ALICE, "home": True, "action_id": "home_press"})
    [press] = [d.payload for d in sandbox.slack.deliveries if d.kind == "interaction"]
    assert press["type"] == "block_actions" and press["container"] == {"type": "view", "view_id": "V0HOME"}
    assert press["view"]["id"] == "V0HOME" and "channel" not in press and "message" not in press
    assert press["actions"][0]["action_id"] == "home_press" and press["user"]["id"] == ALICE
    missing = await http.post("/api/action", json={"user": BOB, "home": True, "action_id": "home_press"})
    assert missing.status_code == 400  # Bob's Home has no such button


async def test_a_direct_message_to_the_bot_is_a_request_answered_in_its_thread(sandbox: Sandbox,
                                                                               http: httpx.AsyncClient) -> None:
    [dm] = [c for c in (await state(http))["channels"] if c["is_im"]]
    assert dm["name"] == "imagebot" and dm["messages"] == []
    [bobs] = [c for c in (await state(http, BOB))["channels"] if c["is_im"]]
    assert bobs["id"] != dm["id"]  # each their own
    response = await http.post("/api/message", json={"user": ALICE, "channel": dm["id"], "text": "a red kite"})
    assert response.status_code == 200, response.text
    await settle(sandbox)
    [asked] = next(c for c in (await state(http))["channels"] if c["id"] == dm["id"])["messages"]
    assert asked["text"] == "a red kite" and not asked["is_bot"]
    assert [f for r in asked["replies"] for f in r["files"] if f["is_image"]]  # the image, in its thread


async def test_a_command_makes_a_card_with_an_image_in_its_thread(sandbox: Sandbox, http: httpx.AsyncClient) -> None:
    card = await generate(sandbox, http, "a lighthouse at dusk")
    assert card["user_name"] == "imagebot"
    [image] = [f for r in card["replies"] for f in r["files"]]
    assert image["is_image"] and image["url"] == f"/files/{image['id']}"
    fetched = await http.get(image["url"])
    assert fetched.status_code == 200 and fetched.headers["content-type"] == "image/png"
    assert fetched.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert (await http.get("/files/F0NOPE")).status_code == 404


async def test_a_thread_reply_with_a_file_edits_and_a_button_works(sandbox: Sandbox, http: httpx.AsyncClient) -> None:
    card = await generate(sandbox, http, "a lighthouse")
    response = await http.post("/api/message", data={"user": BOB, "channel": CHANNEL, "thread_ts": card["ts"],
                                                     "text": "add this red balloon, @imagebot"},
                               files=[("files", ("balloon.png", png(), "image/png"))])
    assert response.status_code == 200, response.text
    await settle(sandbox)
    card = next(m for m in general(await state(http)) if m["ts"] == card["ts"])
    mine = next(r for r in card["replies"] if r["user_name"] == "bob")
    assert mine["files"][0]["name"] == "balloon.png" and "<@U0IMAGEBOT>" in mine["text"]
    results = [r for r in card["replies"] if r["is_bot"] and r["files"]]
    assert len(results) == 2 and "v2" in results[1]["text"]

    with_buttons = [r for r in card["replies"] if USE in buttons(r)]
    target = with_buttons[0]  # under v1
    use = buttons(target)[USE]
    response = await http.post("/api/action", json={"user": ALICE, "channel": CHANNEL, "message_ts": target["ts"],
                                                    "action_id": USE, "block_id": use["block_id"],
                                                    "value": use["value"]})
    assert response.status_code == 200, response.text
    await settle(sandbox)
    snapshot = await state(http)
    said = [r["text"] for m in general(snapshot) for r in m["replies"]] + [e["text"] for e in snapshot["ephemerals"]]
    assert any("The next edit uses v1" in text for text in said), said
    missing = await http.post("/api/action", json={"user": ALICE, "channel": CHANNEL, "message_ts": target["ts"],
                                                   "action_id": "no_such_button"})
    assert missing.status_code == 400 and "error" in missing.json()


async def test_the_form_opens_shows_errors_and_submits(sandbox: Sandbox, http: httpx.AsyncClient) -> None:
    await http.post("/api/command", json={"user": ALICE, "channel": CHANNEL, "text": "", "command": "/image"})
    await settle(sandbox)
    view = (await state(http))["view"]
    assert view["callback_id"] == views.IMAGE_MODAL and (await state(http, BOB))["view"] is None

    # A model that makes transparent PNGs and JPEGs: transparency with JPEG is the form's error, not the model's.
    model = live_with(lambda c: c.transparent and {"png", "jpeg"} <= set(c.formats) and "low" in c.qualities
                      and not c.sizes.problems("1024x1024"))

    def values(fmt: str, transparent: bool) -> dict[str, Any]:
        def chosen(value: str) -> dict[str, Any]:
            return {"type": "static_select", "selected_option": {"value": value,
                                                                 "text": {"type": "plain_text", "text": value}}}
        ticked = [{"value": views.TRANSPARENT_VALUE, "text": {"type": "plain_text", "text": "Transparent"}}]
        checkboxes = {"type": "checkboxes", "selected_options": ticked if transparent else []}
        return {views.PROMPT_BLOCK: {views.PROMPT_ACTION: {"type": "plain_text_input", "value": "a fox"}},
                views.SIZE_BLOCK: {views.SIZE_ACTION: chosen("1024x1024")},
                views.QUALITY_BLOCK: {views.QUALITY_ACTION: chosen("low")},
                views.N_BLOCK: {views.N_ACTION: chosen("1")},
                views.TRANSPARENT_BLOCK: {views.TRANSPARENT_ACTION: checkboxes},
                views.FORMAT_BLOCK: {views.FORMAT_ACTION: chosen(fmt)},
                views.MODEL_BLOCK: {views.MODEL_ACTION: chosen(model)}}

    bad = await http.post("/api/view", json={"user": ALICE, "view_id": view["id"], "values": values("jpeg", True)})
    assert bad.status_code == 200 and bad.json()["ok"] is False and views.FORMAT_BLOCK in bad.json()["errors"]
    assert (await state(http))["view"]["id"] == view["id"]  # still open, as in Slack
    good = await http.post("/api/view", json={"user": ALICE, "view_id": view["id"], "values": values("png", False)})
    assert good.json() == {"ok": True}
    await settle(sandbox)
    snapshot = await state(http)
    assert snapshot["view"] is None
    assert any(m["is_bot"] and any(f["is_image"] for r in m["replies"] for f in r["files"]) for m in general(snapshot))
    again = await http.post("/api/view", json={"user": ALICE, "view_id": view["id"], "values": {}})
    assert again.status_code == 400


async def test_the_edit_shortcut_opens_the_edit_form(sandbox: Sandbox, http: httpx.AsyncClient) -> None:
    card = await generate(sandbox, http, "a boat")
    result = next(r for r in card["replies"] if r["files"])
    response = await http.post("/api/shortcut", json={"user": BOB, "channel": CHANNEL, "message_ts": result["ts"]})
    assert response.status_code == 200, response.text
    await settle(sandbox)
    view = (await state(http, BOB))["view"]
    assert view["callback_id"] == views.EDIT_MODAL and (await state(http, ALICE))["view"] is None
    cancelled = await http.post("/api/view", json={"user": BOB, "view_id": view["id"], "cancel": True})
    assert cancelled.json() == {"ok": True} and (await state(http, BOB))["view"] is None


async def test_events_say_changed_after_a_command(sandbox: Sandbox, http: httpx.AsyncClient) -> None:
    async def first_change() -> str:
        async with http.stream("GET", "/api/events") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            async for line in stream.aiter_lines():
                if line.startswith(": connected"):
                    connected.set()
                if line.startswith("data:"):
                    return line
        return ""

    connected = asyncio.Event()
    reader = asyncio.create_task(first_change())
    await asyncio.wait_for(connected.wait(), WAIT)
    await http.post("/api/command", json={"user": ALICE, "channel": CHANNEL, "text": "help", "command": "/image"})
    assert await asyncio.wait_for(reader, WAIT) == "data: changed"


async def test_the_workflow_button_runs_the_step_which_posts_and_completes(sandbox: Sandbox,
                                                                          http: httpx.AsyncClient) -> None:
    response = await http.post("/api/workflow", json={"user": ALICE, "channel": CHANNEL, "prompt": "a red kite"})
    assert response.status_code == 200 and response.json() == {"ok": True}, response.text
    await settle(sandbox)
    snapshot = await state(http)
    [run] = snapshot["workflow_runs"]
    assert (run["state"], run["prompt"]) == ("completed", "a red kite"), run
    [card] = [m for m in general(snapshot) if m["is_bot"]]
    [image] = [f for r in card["replies"] for f in r["files"]]
    assert run["outputs"]["file_id"] == image["id"] and run["outputs"]["version"] == "v1"
    assert (await state(http, BOB))["workflow_runs"] == []  # each person sees their own runs
    empty = await http.post("/api/workflow", json={"user": ALICE, "prompt": ""})  # no channel: the DM; no prompt
    assert empty.status_code == 200
    await settle(sandbox)
    failed = (await state(http))["workflow_runs"][0]
    assert failed["state"] == "failed" and "prompt" in failed["error"]


async def test_a_batch_runs_offline_against_the_sandboxs_batch_api(sandbox: Sandbox, http: httpx.AsyncClient) -> None:
    response = await http.post("/api/command", json={"user": ALICE, "channel": CHANNEL, "command": "/image",
                                                      "text": "batch --quality low\na lighthouse\na red barn"})
    assert response.status_code == 200, response.text
    await settle(sandbox)
    [card] = [m for m in general(await state(http)) if m["is_bot"] and "batch of 2" in m["text"]]
    submit = buttons(card)["imagebot_batch_submit"]
    pressed = await http.post("/api/action", json={"user": ALICE, "channel": CHANNEL, "message_ts": card["ts"],
                                                    "action_id": submit["action_id"], "block_id": submit["block_id"],
                                                    "value": submit["value"]})
    assert pressed.status_code == 200, pressed.text
    await settle(sandbox)
    assert sandbox.batch_api is not None and sandbox.workspace is not None
    services = sandbox.workspace.services
    assert services is not None and services.batches is not None and services.batch_poller is not None
    sandbox.batch_api.advance(3600)  # the stand-in's clock, and imagebot's: no waiting in a test
    later = services.batches.clock() + 3600
    services.batches.clock = lambda: later
    await services.batch_poller.run_once()
    await settle(sandbox)
    [card] = [m for m in general(await state(http)) if m["ts"] == card["ts"]]
    assert len([f for r in card["replies"] for f in r["files"] if f["is_image"]]) == 2
    assert "Batch done: 2 made, 0 failed" in card["replies"][-1]["text"]


async def test_bad_requests_get_json_errors(sandbox: Sandbox, http: httpx.AsyncClient) -> None:
    unknown = await http.post("/api/command", json={"user": "U0NOBODY", "channel": CHANNEL, "text": "x"})
    assert unknown.status_code == 400 and "unknown user" in unknown.json()["error"]
    garbled = await http.post("/api/command", content=b"[", headers={"content-type": "application/json"})
    assert garbled.status_code == 400
    wrong = await http.post("/api/command", json={"user": ALICE, "channel": CHANNEL, "text": "x", "command": "/rm"})
    assert wrong.status_code == 400
    empty = await http.post("/api/message", json={"user": ALICE, "channel": CHANNEL, "text": " "})
    assert empty.status_code == 400
    foreign = await http.post("/api/command", json={"user": ALICE, "channel": CHANNEL, "text": "x"},
                              headers={"Origin": "http://evil.example"})
    assert foreign.status_code == 403
    assert (await http.get("/api/state", params={"user": "U0IMAGEBOT"})).status_code == 400
