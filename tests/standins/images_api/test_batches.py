"""The Batch API and Files routes of the image API stand-in, over loopback HTTP, on the stand-in's batch clock (moved
by `advance`, never by sleeping): uploads and their checks, a batch's states, failed, cancelled and expired batches,
and requests that fail on their own."""

from __future__ import annotations

import json

import httpx
import pytest

from standins.images_api import ImageAPIStandIn
from tests.standins.images_api.helpers import GEN, assert_error, decode
from tests.standins.openapi import openapi_validator

pytestmark = pytest.mark.anyio

START = 1_800_000_000.0
MODEL = "gpt-image-2"  # takes batches, per the catalogue
BATCH_FIELDS = {"id", "object", "endpoint", "errors", "input_file_id", "completion_window", "status",
                "output_file_id", "error_file_id", "created_at", "in_progress_at", "expires_at", "finalizing_at",
                "completed_at", "failed_at", "expired_at", "cancelling_at", "cancelled_at", "request_counts",
                "metadata", "model", "usage"}


def request(custom_id: str, **body) -> dict:
    return {"custom_id": custom_id, "method": "POST", "url": "/v1/images/generations",
            "body": {"model": MODEL, "prompt": f"a lighthouse, take {custom_id}", "quality": "low", **body}}


def jsonl(*items) -> bytes:
    return b"".join((item if isinstance(item, bytes) else json.dumps(item).encode()) + b"\n" for item in items)


async def upload(client: httpx.AsyncClient, content: bytes, name: str = "in.jsonl", purpose: str | None = "batch"):
    data = {"purpose": purpose} if purpose is not None else {}
    return await client.post("/files", data=data, files={"file": (name, content, "application/jsonl")})


async def start_batch(client: httpx.AsyncClient, *items, **create) -> dict:
    uploaded = await upload(client, jsonl(*items))
    assert uploaded.status_code == 200, uploaded.text
    response = await client.post("/batches", json={"input_file_id": uploaded.json()["id"],
                                                   "endpoint": "/v1/images/generations", "completion_window": "24h",
                                                   **create})
    assert response.status_code == 200, response.text
    return response.json()


async def look(client: httpx.AsyncClient, batch_id: str) -> dict:
    response = await client.get(f"/batches/{batch_id}")
    assert response.status_code == 200, response.text
    batch = response.json()
    assert set(batch) == BATCH_FIELDS
    return batch


async def lines_of(client: httpx.AsyncClient, file_id: str | None) -> list[dict]:
    assert file_id is not None
    response = await client.get(f"/files/{file_id}/content")
    assert response.status_code == 200
    return [json.loads(line) for line in response.text.splitlines()]


@pytest.fixture
def clock(api: ImageAPIStandIn) -> ImageAPIStandIn:
    api.batch_now = START
    return api


# -- files -----------------------------------------------------------------------------------------------------


async def test_an_upload_is_kept_and_answered_as_a_file_object(api, client):
    content = jsonl(request("a"))
    response = await upload(client, content)

    assert response.status_code == 200, response.text
    file = response.json()
    assert (file["object"], file["purpose"], file["filename"], file["bytes"]) == ("file", "batch", "in.jsonl",
                                                                                 len(content))
    assert file["id"].startswith("file-") and file["expires_at"] == file["created_at"] + 30 * 24 * 3600
    assert (await client.get(f"/files/{file['id']}")).json() == file
    assert (await client.get(f"/files/{file['id']}/content")).content == content
    assert [r.operation for r in api.batch_requests] == ["files"] * 3 and api.requests == []
    assert api.batch_requests[0].files["file"][0][2] == content
    assert api.files[file["id"]].lines() == [request("a")]


@pytest.mark.parametrize(("purpose", "name", "param", "code"), [
    (None, "in.jsonl", "purpose", "missing_required_parameter"),
    ("batches", "in.jsonl", "purpose", "invalid_value"),
    ("batch", "in.csv", "file", "invalid_file_format"),
])
async def test_an_upload_is_refused_as_openai_refuses_it(client, purpose, name, param, code):
    assert_error(await upload(client, jsonl(request("a")), name=name, purpose=purpose), 400, param=param, code=code)


async def test_an_upload_without_a_file_or_key_is_refused(api, client):
    assert_error(await client.post("/files", data={"purpose": "batch"}, files={"other": ("x", b"x")}), 400,
                 param="file", code="missing_required_parameter")
    async with httpx.AsyncClient(base_url=api.openai_base_url, headers={"Authorization": "Bearer sk-wrong-key-1234"},
                                 timeout=30) as wrong:
        assert_error(await upload(wrong, jsonl(request("a"))), 401, code="invalid_api_key")
    assert_error(await client.get("/files/file-nope"), 404, param="id")
    assert_error(await client.get("/files/file-nope/content"), 404)


# -- creating a batch ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("change", "status", "param", "code"), [
    ({"input_file_id": None}, 400, "input_file_id", "missing_required_parameter"),
    ({"completion_window": "1h"}, 400, "completion_window", "invalid_value"),
    ({"endpoint": "/v1/images/variations"}, 400, "endpoint", "invalid_value"),
    ({"endpoint": "/v1/chat/completions"}, 400, "endpoint", "unsupported_value"),
    ({"input_file_id": "file-nope"}, 404, "input_file_id", ...),
    ({"metadata": {"k": 1}}, 400, "metadata", "invalid_value"),
    ({"colour": "blue"}, 400, "colour", "unknown_parameter"),
])
async def test_a_batch_is_refused_for_what_openai_refuses(api, client, change, status, param, code):
    file_id = (await upload(client, jsonl(request("a")))).json()["id"]
    body = {"input_file_id": file_id, "endpoint": "/v1/images/generations", "completion_window": "24h", **change}
    body = {k: v for k, v in body.items() if v is not None}

    assert_error(await client.post("/batches", json=body), status, param=param, code=code)
    assert api.batches == {}


async def test_a_batch_needs_a_file_uploaded_for_batches(client):
    file_id = (await upload(client, b"{}", name="notes.txt", purpose="user_data")).json()["id"]
    response = await client.post("/batches", json={"input_file_id": file_id, "endpoint": "/v1/images/generations",
                                                   "completion_window": "24h"})
    assert_error(response, 400, param="input_file_id")


# -- a batch's life --------------------------------------------------------------------------------------------


async def test_a_batch_moves_through_its_states_on_the_clock(clock, client):
    created = await start_batch(client, request("a"), request("b"), metadata={"job": "42"})

    assert (created["status"], created["created_at"], created["expires_at"]) == ("validating", START, START + 86400)
    assert created["request_counts"] == {"total": 0, "completed": 0, "failed": 0} and created["metadata"] == {
        "job": "42"}
    assert (await look(client, created["id"]))["status"] == "validating"  # the clock has not moved
    clock.advance(10)
    running = await look(client, created["id"])
    assert (running["status"], running["in_progress_at"], running["model"]) == ("in_progress", START + 10, MODEL)
    assert running["request_counts"] == {"total": 2, "completed": 0, "failed": 0}
    clock.advance(10)
    assert (await look(client, created["id"]))["request_counts"] == {"total": 2, "completed": 1, "failed": 0}
    clock.advance(10)
    done = await look(client, created["id"])
    assert (done["status"], done["completed_at"], done["error_file_id"]) == ("completed", START + 30, None)
    assert done["request_counts"] == {"total": 2, "completed": 2, "failed": 0}
    assert done["usage"]["output_tokens"] == 2 * 196  # low quality 1024x1024 on gpt-image-2


async def test_the_output_file_holds_what_the_synchronous_call_answers(clock, client):
    created = await start_batch(client, request("a", size="1536x1024"))
    clock.advance(3600)
    done = await look(client, created["id"])
    [line] = await lines_of(client, done["output_file_id"])
    synchronous = (await client.post(GEN, json=request("a", size="1536x1024")["body"])).json()

    assert line["custom_id"] == "a" and line["id"].startswith("batch_req_") and line["error"] is None
    assert line["response"]["status_code"] == 200 and line["response"]["request_id"].startswith("req_")
    body = line["response"]["body"]
    openapi_validator("ImagesResponse").validate(body)
    assert body["usage"] == synchronous["usage"]
    assert decode(body["data"][0]["b64_json"]).size == (1536, 1024)
    assert (await client.get(f"/files/{done['output_file_id']}")).json()["purpose"] == "batch_output"


async def test_finalizing_shows_while_it_lasts(clock, client):
    clock.batch_finalizing_seconds = 5
    created = await start_batch(client, request("a"))
    clock.advance(20)
    finalizing = await look(client, created["id"])
    assert (finalizing["status"], finalizing["finalizing_at"]) == ("finalizing", START + 20)
    clock.advance(5)
    assert (await look(client, created["id"]))["status"] == "completed"


@pytest.mark.parametrize(("items", "code", "line"), [
    ((b"not json", request("b")), "invalid_json_line", 1),
    ((request("a"), request("a")), "duplicate_custom_id", 2),
    ((request("a"), {**request("b"), "url": "/v1/chat/completions"}), "invalid_url", 2),
    (({**request("a"), "method": "GET"},), "invalid_method", 1),
    (({"method": "POST", "url": "/v1/images/generations", "body": {}},), "missing_required_parameter", 1),
    ((request("a", model="gpt-image-2.6-sunburst"),), "model_not_found", 1),  # no batches on 2.6 (the catalogue)
])
async def test_an_input_file_wrong_as_a_whole_fails_the_batch(clock, client, items, code, line):
    created = await start_batch(client, *items)
    clock.advance(10)
    failed = await look(client, created["id"])

    assert (failed["status"], failed["failed_at"], failed["output_file_id"]) == ("failed", START + 10, None)
    assert [(e["code"], e["line"]) for e in failed["errors"]["data"]] == [(code, line)]


async def test_an_empty_input_file_fails_the_batch(clock, client):
    created = await start_batch(client, b"")
    clock.advance(10)
    assert (await look(client, created["id"]))["errors"]["data"][0]["code"] == "empty_file"


async def test_a_request_the_endpoint_refuses_fails_alone(clock, client):
    created = await start_batch(client, request("good"), request("bad", quality="ultra"),
                                request("streamed", stream=True))
    clock.advance(3600)
    done = await look(client, created["id"])

    assert done["status"] == "completed"
    assert done["request_counts"] == {"total": 3, "completed": 1, "failed": 2}
    assert [line["custom_id"] for line in await lines_of(client, done["output_file_id"])] == ["good"]
    errors = {line["custom_id"]: line["response"] for line in await lines_of(client, done["error_file_id"])}
    assert errors["bad"]["status_code"] == 400
    assert (errors["bad"]["body"]["error"]["param"], errors["bad"]["body"]["error"]["code"]) == ("quality",
                                                                                                 "invalid_value")
    assert errors["streamed"]["body"]["error"]["param"] == "stream"


async def test_chosen_requests_fail_as_moderation_or_server_errors(clock, client):
    clock.fail_lines("rude")
    clock.fail_lines("unlucky", kind="server_error")
    created = await start_batch(client, request("fine"), request("rude"), request("unlucky"))
    clock.advance(3600)
    done = await look(client, created["id"])

    errors = {line["custom_id"]: line["response"] for line in await lines_of(client, done["error_file_id"])}
    assert errors["rude"]["status_code"] == 400
    assert errors["rude"]["body"]["error"]["code"] == "moderation_blocked"
    assert errors["rude"]["body"]["error"]["moderation_details"]["moderation_stage"] == "input"
    assert errors["unlucky"]["status_code"] == 500
    assert done["request_counts"] == {"total": 3, "completed": 1, "failed": 2}
    with pytest.raises(ValueError, match="kind"):
        clock.fail_lines("x", kind="gremlins")


async def test_a_cancelled_batch_keeps_what_finished_and_lists_the_rest(clock, client):
    created = await start_batch(client, request("a"), request("b"), request("c"))
    clock.advance(25)  # validating 10 s, then "a" finished at 20 s
    cancelling = (await client.post(f"/batches/{created['id']}/cancel")).json()

    assert (cancelling["status"], cancelling["cancelling_at"]) == ("cancelling", START + 25)
    clock.advance(10)
    cancelled = await look(client, created["id"])
    assert (cancelled["status"], cancelled["cancelled_at"]) == ("cancelled", START + 35)
    assert [line["custom_id"] for line in await lines_of(client, cancelled["output_file_id"])] == ["a"]
    never = await lines_of(client, cancelled["error_file_id"])
    assert [(line["custom_id"], line["response"], line["error"]["code"]) for line in never] == [
        ("b", None, "batch_cancelled"), ("c", None, "batch_cancelled")]
    assert cancelled["request_counts"] == {"total": 3, "completed": 1, "failed": 2}
    assert_error(await client.post(f"/batches/{created['id']}/cancel"), 409)


async def test_a_batch_past_its_window_expires_with_the_unfinished_in_the_error_file(clock, client):
    clock.batch_line_seconds = 50_000  # the second request would finish after the 24 h window
    created = await start_batch(client, request("a"), request("b"))
    clock.advance(2 * 86400)
    expired = await look(client, created["id"])

    assert (expired["status"], expired["expired_at"]) == ("expired", START + 86400)
    assert [line["custom_id"] for line in await lines_of(client, expired["output_file_id"])] == ["a"]
    [never] = await lines_of(client, expired["error_file_id"])
    assert (never["custom_id"], never["response"], never["error"]["code"]) == ("b", None, "batch_expired")


async def test_a_test_can_expire_or_fail_a_batch_now(clock, client):
    first = await start_batch(client, request("a"), request("b"))
    second = await start_batch(client, request("c"))
    clock.advance(20)
    clock.expire_batch(first["id"])
    clock.fail_batch(second["id"], message="Something broke.")

    expired, failed = await look(client, first["id"]), await look(client, second["id"])
    assert (expired["status"], expired["expired_at"]) == ("expired", START + 20)
    assert [line["error"]["code"] for line in await lines_of(client, expired["error_file_id"])] == ["batch_expired"]
    assert (failed["status"], failed["errors"]["data"][0]["message"]) == ("failed", "Something broke.")
    clock.advance(3600)
    assert (await look(client, second["id"]))["status"] == "failed"  # an ended batch stays as it ended


async def test_faults_reach_the_batch_routes_only_when_queued_for_them(api, client):
    api.rate_limit(retry_after=3)  # for the image calls
    api.server_error(503, operation="batches")
    file_id = (await upload(client, jsonl(request("a")))).json()["id"]
    body = {"input_file_id": file_id, "endpoint": "/v1/images/generations", "completion_window": "24h"}

    assert_error(await client.post("/batches", json=body), 503, type="server_error")
    assert (await client.post("/batches", json=body)).status_code == 200
    assert (await client.post(GEN, json=request("x")["body"])).status_code == 429
    assert_error(await client.get("/batches/batch_nope"), 404, param="batch_id")
