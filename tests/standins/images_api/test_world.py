"""Which models the provider serves on the stand-in's day, and GET /v1/models."""

from __future__ import annotations

from datetime import date

import httpx
import pytest

from bot.money.catalogue import Catalogue
from bot.money.catalogue_reader import merge
from standins.images_api import ImageAPIStandIn
from tests.standins.images_api.helpers import (
    CATALOGUE,
    EDIT,
    GEN,
    KEY,
    MODEL,
    SHUT_DOWN_ON_OPENAI,
    TODAY,
    assert_error,
    gen_body,
    ok,
    png,
)
from tests.standins.openapi import openapi_validator

pytestmark = pytest.mark.anyio  # the plugin runs only the async tests on the event loop


async def test_a_shut_down_model_is_a_404(client):
    response = await client.post(GEN, json=gen_body(model="gpt-image-1"))
    assert response.status_code == 404
    assert response.json() == {"error": {
        "type": "invalid_request_error", "code": "model_not_found", "param": "model",
        "message": "The model `gpt-image-1` has been deprecated, learn more here: "
                   "https://platform.openai.com/docs/deprecations"}}
    openapi_validator("ErrorResponse").validate(response.json())


@pytest.mark.parametrize("model", SHUT_DOWN_ON_OPENAI)
async def test_every_model_shut_down_by_today_is_a_404(client, model):
    error = assert_error(await client.post(GEN, json=gen_body(model=model)), 404, param="model",
                         code="model_not_found")
    assert error["message"].startswith(f"The model `{model}` has been deprecated")
    edit = await client.post(EDIT, data={"model": model, "prompt": "p"}, files={"image": ("a.png", png())})
    assert_error(edit, 404, code="model_not_found")


async def test_an_unknown_model_is_a_400(client):
    response = await client.post(GEN, json=gen_body(model="gpt-image-9"))
    assert response.status_code == 400
    assert response.json() == {"error": {"type": "invalid_request_error", "code": "invalid_value", "param": "model",
                                         "message": "The model 'gpt-image-9' does not exist."}}
    openapi_validator("ErrorResponse").validate(response.json())


async def test_no_model_means_the_specs_default_which_is_shut_down(client):
    # Generations default to dall-e-2 (shut down 2026-05-12), edits to gpt-image-1.5 (2026-12-01): send the model.
    assert "dall-e-2" in assert_error(await client.post(GEN, json={"prompt": "x"}), 404, code="model_not_found")[
        "message"]
    edit = await client.post(EDIT, data={"prompt": "x"}, files={"image": ("a.png", png())})
    assert "gpt-image-1.5" in assert_error(edit, 404, code="model_not_found")["message"]


async def test_every_live_model_is_served(client):
    live = CATALOGUE.live("openai", TODAY)
    assert MODEL in live and "gpt-image-1" not in live
    for model in live:
        ok(await client.post(GEN, json=gen_body(model=model, quality="low")))


async def test_the_world_can_shut_a_live_model_down(api, client):
    """The API says the model is gone although the catalogue says it is live."""
    api.shut_down.add(MODEL)
    assert_error(await client.post(GEN, json=gen_body()), 404, param="model", code="model_not_found")
    assert_error(await client.get(f"/models/{MODEL}"), 404, code="model_not_found")
    api.shut_down.clear()
    ok(await client.post(GEN, json=gen_body()))
    api.shutdown_dates[MODEL] = "2026-12-08"  # from today on
    assert_error(await client.post(GEN, json=gen_body()), 404, code="model_not_found")
    api.shutdown_dates[MODEL] = date(2026, 12, 9)
    ok(await client.post(GEN, json=gen_body()))


async def test_the_day_decides(api, client):
    api.today = date(2026, 11, 30)  # before the 2026-12-01 shutdowns
    result = ok(await client.post(GEN, json=gen_body(model="gpt-image-1.5", quality="low")))
    assert result["usage"]["output_tokens"] == 272  # the table of the models before gpt-image-2
    assert_error(await client.post(GEN, json=gen_body(model="gpt-image-1.5", size="2048x2048")), 400, param="size",
                 code="invalid_value")
    assert_error(await client.post(GEN, json=gen_body(model="gpt-image-1")), 404)  # gone since 2026-10-23
    api.today = date(2026, 11, 1)  # before gpt-image-2.6 was released
    assert_error(await client.post(GEN, json=gen_body()), 400, param="model", code="invalid_value")


async def test_added_models_are_served_with_anothers_capabilities(api, client):
    assert_error(await client.post(GEN, json=gen_body(model="gpt-image-3")), 400, code="invalid_value")
    api.add_model("gpt-image-3", like="gpt-image-2")
    result = ok(await client.post(GEN, json=gen_body(model="gpt-image-3", quality="low")))
    assert result["usage"]["output_tokens"] == 196
    assert_error(await client.post(GEN, json=gen_body(model="gpt-image-3", quality="max")), 400, param="quality")
    with pytest.raises(ValueError):
        api.add_model("gpt-image-4", like="gpt-image-0")


async def test_a_catalogue_of_the_tests_own():
    data = merge(Catalogue.builtin_data(), {"models": {"gpt-image-2": {
        "status": {"openai": {"state": "deprecated", "shutdown": "2026-12-05"}}}}})
    own = Catalogue.from_data(data, source="this test")
    async with ImageAPIStandIn(catalogue=own, today=TODAY) as api, httpx.AsyncClient(
            base_url=api.openai_base_url, headers={"Authorization": f"Bearer {KEY}"}) as http:
        assert_error(await http.post(GEN, json=gen_body(model="gpt-image-2")), 404, code="model_not_found")
        assert (await http.post(GEN, json=gen_body(quality="low"))).status_code == 200


async def test_the_model_list_has_what_is_served_with_shutdown_dates(api, client):
    response = await client.get("/models")
    assert response.status_code == 200 and response.headers["x-request-id"].startswith("req_")
    body = response.json()
    assert body["object"] == "list"
    for item in body["data"]:
        assert set(item) == {"id", "object", "created", "owned_by", "shutdown_date"}
        assert item["object"] == "model" and isinstance(item["created"], int) and isinstance(item["owned_by"], str)
    listed = {item["id"]: item["shutdown_date"] for item in body["data"]}
    assert set(listed) == {*CATALOGUE.live("openai", TODAY), "gpt-5.2", "text-embedding-3-small"}
    assert not set(listed) & set(SHUT_DOWN_ON_OPENAI)
    assert listed[MODEL] is None
    assert not api.requests  # the list is recorded apart from the image calls
    assert [(r.operation, r.path, r.status) for r in api.model_requests] == [("models", "/v1/models", 200)]

    api.today = date(2026, 11, 20)  # deprecated but still served: listed with the date
    listed = {item["id"]: item["shutdown_date"] for item in (await client.get("/models")).json()["data"]}
    assert listed["gpt-image-1.5"] == listed["gpt-image-1-mini"] == "2026-12-01"
    assert "gpt-image-1" not in listed and listed[MODEL] is None


async def test_the_world_sets_the_model_list(api, client):
    api.shutdown_dates["gpt-image-2"] = date(2027, 3, 1)
    api.add_model("gpt-image-3", like=MODEL)
    listed = {item["id"]: item["shutdown_date"] for item in (await client.get("/models")).json()["data"]}
    assert listed["gpt-image-2"] == "2027-03-01" and listed["gpt-image-3"] is None
    api.shut_down.add("gpt-image-2")
    assert "gpt-image-2" not in {item["id"] for item in (await client.get("/models")).json()["data"]}

    api.model_list_empty = True
    assert (await client.get("/models")).json() == {"object": "list", "data": []}
    api.model_list_status = 500
    assert_error(await client.get("/models"), 500, type="server_error")
    api.model_list_status = None
    api.model_list_empty = False
    api.server_error(503, operation="models")  # queued faults apply to the list too
    assert_error(await client.get("/models"), 503)
    assert (await client.get("/models")).status_code == 200


async def test_retrieving_a_model(api, client):
    live = await client.get(f"/models/{MODEL}")
    assert live.status_code == 200
    assert live.json() == {"id": MODEL, "object": "model", "created": live.json()["created"], "owned_by": "system",
                           "shutdown_date": None}
    assert (await client.get("/models/gpt-5.2")).status_code == 200
    assert [(r.operation, r.path, r.status) for r in api.requests] == [
        ("models", f"/v1/models/{MODEL}", 200), ("models", "/v1/models/gpt-5.2", 200)]
    gone = assert_error(await client.get("/models/gpt-image-1"), 404, param="model", code="model_not_found")
    assert "has been deprecated" in gone["message"]
    unknown = assert_error(await client.get("/models/gpt-image-9"), 404, code="model_not_found")
    assert unknown["message"] == "The model `gpt-image-9` does not exist or you do not have access to it."
    async with httpx.AsyncClient(base_url=str(client.base_url)) as anonymous:
        assert_error(await anonymous.get("/models"), 401)
