"""The files_upload_v2 flow, its errors, and url_private downloads."""


import aiohttp
import pytest
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient

from standins.slack import SlackStandIn
from tests.standins.slack.helpers import png

pytestmark = pytest.mark.anyio


async def test_files_upload_v2_into_a_thread(standin: SlackStandIn, client: AsyncWebClient) -> None:
    image = png(5, 4)
    parent = await client.chat_postMessage(channel="C0GENERAL", text="your image")
    uploaded = await client.files_upload_v2(channel="C0GENERAL", thread_ts=parent["ts"], file=image,
                                            filename="cat.png", title="A cat", initial_comment="here it is")
    file_id = uploaded["file"]["id"]
    assert "ts" not in uploaded.data and uploaded["file"]["mimetype"] == ""  # like Slack: not processed yet

    thread = standin.thread("C0GENERAL", parent["ts"])
    assert [m["text"] for m in thread] == ["your image", "here it is"]
    shared = thread[1]
    assert shared["bot_id"] == "B0IMAGEBOT" and "subtype" not in shared
    assert [f["id"] for f in shared["files"]] == [file_id]
    stored = standin.file(file_id)
    assert (stored["mimetype"], stored["filetype"], stored["title"]) == ("image/png", "png", "A cat")
    assert (stored["original_w"], stored["original_h"], stored["size"]) == (5, 4, len(image))
    assert stored["shares"]["public"]["C0GENERAL"][0]["thread_ts"] == parent["ts"]
    assert [c.method for c in standin.calls][-3:] == ["files.getUploadURLExternal", "upload",
                                                      "files.completeUploadExternal"]
    assert standin.calls_to("files.completeUploadExternal")[0].json_param("files")[0]["id"] == file_id

    async with aiohttp.ClientSession() as session:
        auth = {"Authorization": f"Bearer {standin.bot_token}"}
        async with session.get(stored["url_private"], headers=auth) as response:
            assert response.content_type == "image/png" and await response.read() == image
        async with session.get(stored["url_private_download"], headers=auth) as response:
            assert await response.read() == image
        async with session.get(stored["url_private"]) as response:
            assert response.status == 200 and response.content_type == "text/html"
            assert b"\x89PNG" not in await response.read()
    assert [c.status for c in standin.calls_to("download")] == [200, 200, 200]
    assert standin.file_bytes(file_id) == image
    info = await client.files_info(file=file_id)
    assert info["file"]["mimetype"] == "image/png"


async def test_upload_errors(standin: SlackStandIn, client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as no_length:
        await client.api_call("files.getUploadURLExternal", params={"filename": "a.png"})
    assert no_length.value.response["error"] == "invalid_arguments"
    ticket = await client.files_getUploadURLExternal(filename="a.png", length=3)
    with pytest.raises(SlackApiError) as never_uploaded:
        await client.files_completeUploadExternal(files=[{"id": ticket["file_id"]}], channel_id="C0GENERAL")
    assert never_uploaded.value.response["error"] == "file_not_found"
    standin.fail_next("upload", status=500, error="internal_error")
    with pytest.raises(SlackRequestError):
        await client.files_upload_v2(channel="C0GENERAL", content="hello", filename="a.txt")
    with pytest.raises(SlackApiError) as missing:
        await client.files_info(file="F0NOPE")
    assert missing.value.response["error"] == "file_not_found"
