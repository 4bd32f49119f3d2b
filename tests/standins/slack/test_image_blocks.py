"""Image blocks with `slack_file` in chat.postMessage and chat.update: checked as Slack checks them (an uploaded
PNG, JPEG or GIF the bot can see), refused while a just-uploaded file is processed, and kept in the message."""

import io

import pytest
from PIL import Image
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from standins.slack import SlackStandIn
from tests.standins.slack.helpers import AppSink, png

pytestmark = pytest.mark.anyio


def picture(**slack_file: str) -> list[dict]:
    return [{"type": "image", "slack_file": slack_file, "alt_text": "a cat", "title": {"type": "plain_text",
                                                                                     "text": "v1"}}]


async def upload(client: AsyncWebClient, data: bytes, name: str, channel: str | None = None) -> dict:
    uploaded = await client.files_upload_v2(file=data, filename=name, channel=channel)
    return uploaded["file"]


async def refused(call) -> list[str]:
    with pytest.raises(SlackApiError) as failure:
        await call
    assert failure.value.response["error"] == "invalid_blocks"
    assert failure.value.response["response_metadata"]["messages"] == [
        f"[ERROR] {m}" for m in failure.value.response["errors"]]
    return failure.value.response["errors"]


async def test_an_uploaded_image_is_drawn_by_id_or_by_url_and_the_message_keeps_the_block(
        standin: SlackStandIn, client: AsyncWebClient) -> None:
    private = await upload(client, png(5, 4), "cat.png")  # no channel: the bot's own file, not shared
    posted = await client.chat_postMessage(channel="C0GENERAL", text="a cat", blocks=picture(id=private["id"]))
    assert standin.messages("C0GENERAL")[0]["blocks"] == picture(id=private["id"])

    url = standin.file(private["id"])["url_private"]
    await client.chat_update(channel="C0GENERAL", ts=posted["ts"], text="a cat", blocks=picture(url=url))
    assert standin.messages("C0GENERAL")[0]["blocks"][0]["slack_file"] == {"url": url}


async def test_unknown_files_non_images_and_bad_references_are_invalid_blocks(
        standin: SlackStandIn, client: AsyncWebClient) -> None:
    text = await upload(client, b"just words", "notes.txt")
    svg = await upload(client, b"<svg xmlns='http://www.w3.org/2000/svg'/>", "drawing.svg")
    image = await upload(client, png(), "cat.png")
    buffer = io.BytesIO()
    Image.new("RGB", (3, 2), "red").save(buffer, "WEBP")
    webp = await upload(client, buffer.getvalue(), "cat.webp")
    posted = await client.chat_postMessage(channel="C0GENERAL", text="x")
    for slack_file in ({"id": "F0NOPE"}, {"id": text["id"]}, {"id": svg["id"]}, {"id": webp["id"]},
                       {"url": "https://example.com/a.png"},
                       {"id": image["id"], "url": standin.file(image["id"])["url_private"]}, {}):
        errors = await refused(client.chat_postMessage(channel="C0GENERAL", text="x", blocks=picture(**slack_file)))
        assert errors == ["invalid slack file [json-pointer:/blocks/0/slack_file]"]
        await refused(client.chat_update(channel="C0GENERAL", ts=posted["ts"], text="x",
                                         blocks=picture(**slack_file)))
    no_alt = [{"type": "image", "slack_file": {"id": image["id"]}}]
    assert await refused(client.chat_postMessage(channel="C0GENERAL", text="x", blocks=no_alt)) == [
        "missing required field: alt_text [json-pointer:/blocks/0]"]
    assert [m["text"] for m in standin.messages("C0GENERAL")] == ["x"]  # nothing refused was posted


async def test_a_file_shared_only_where_the_bot_is_not_is_invalid(standin: SlackStandIn, client: AsyncWebClient,
                                                                  sink: AppSink) -> None:
    standin.add_channel("C0SECRET", "secret", members=["U0ALICE"])
    standin.add_channel("C0SHARED", "shared", members=["U0BOB", standin.bot_user_id])
    hidden = await standin.post_message("U0ALICE", "C0SECRET", "mine", files=[("cat.png", png(), "image/png")])
    seen = await standin.post_message("U0BOB", "C0SHARED", "ours", files=[("dog.png", png(), "image/png")])

    await refused(client.chat_postMessage(channel="C0GENERAL", text="x", blocks=picture(id=hidden["files"][0]["id"])))
    await client.chat_postMessage(channel="C0GENERAL", text="x", blocks=picture(id=seen["files"][0]["id"]))


async def test_a_just_uploaded_file_is_refused_its_first_times_then_drawn(standin: SlackStandIn,
                                                                          client: AsyncWebClient) -> None:
    before = await upload(client, png(), "old.png")
    standin.delay_file_processing(times=2)
    fresh = await upload(client, png(), "new.png", channel="C0GENERAL")

    await client.chat_postMessage(channel="C0GENERAL", text="old", blocks=picture(id=before["id"]))  # processed
    for _ in range(2):
        assert await refused(client.chat_postMessage(channel="C0GENERAL", text="x", blocks=picture(id=fresh["id"])))
    await client.chat_postMessage(channel="C0GENERAL", text="now", blocks=picture(id=fresh["id"]))

    standin.delay_file_processing(times=0)
    later = await upload(client, png(), "later.png")
    await client.chat_postMessage(channel="C0GENERAL", text="later", blocks=picture(id=later["id"]))
