"""safety_identifier and user: what the catalogue and the flavour allow, and what is echoed."""

from __future__ import annotations

import pytest

from tests.standins.images_api.helpers import EDIT, GEN, MODEL, assert_error, azure_path, gen_body, ok, parse_sse, png
from tests.standins.openapi import openapi_validator

pytestmark = pytest.mark.anyio  # the plugin runs only the async tests on the event loop


async def test_safety_identifier_is_echoed_and_wins_over_user(api, client):
    result = ok(await client.post(GEN, json=gen_body(safety_identifier="u-" + "a" * 62, user="slack-U1")))
    assert result["safety_identifier"] == "u-" + "a" * 62
    assert (api.requests[-1].safety_identifier, api.requests[-1].user) == ("u-" + "a" * 62, "slack-U1")
    assert ok(await client.post(GEN, json=gen_body(user="slack-U1")))["safety_identifier"] == "slack-U1"
    assert ok(await client.post(GEN, json=gen_body(safety_identifier="", user="slack-U1")))[
        "safety_identifier"] == "slack-U1"
    edit = ok(await client.post(EDIT, data={"model": MODEL, "prompt": "p", "safety_identifier": "h1"},
                                files={"image": ("a.png", png())}))
    assert edit["safety_identifier"] == "h1"
    too_long = await client.post(EDIT, data={"model": MODEL, "prompt": "p", "safety_identifier": "h" * 65},
                                 files={"image": ("a.png", png())})
    assert_error(too_long, 400, param="safety_identifier", code="string_above_max_length")


async def test_streamed_completions_carry_the_safety_identifier(client):
    events = parse_sse((await client.post(GEN, json=gen_body(stream=True, safety_identifier="h1"))).text)
    openapi_validator("ImageGenCompletedEvent").validate(events[-1][1])
    assert events[-1][1]["safety_identifier"] == "h1"


async def test_azure_knows_user_but_not_safety_identifier(api, azure):
    refused = await azure.post(azure_path("generations"), json={"prompt": "p", "safety_identifier": "h1"})
    error = assert_error(refused, 400, param="safety_identifier", code="unknown_parameter")
    assert error["message"] == "Unknown parameter: 'safety_identifier'."
    edit = await azure.post(azure_path("edits"), data={"prompt": "p", "safety_identifier": "h1"},
                            files={"image": ("a.png", png())})
    assert_error(edit, 400, param="safety_identifier", code="unknown_parameter")
    result = ok(await azure.post(azure_path("generations"), json={"prompt": "p", "user": "slack-U1"}))
    assert "safety_identifier" not in result and api.requests[-1].user == "slack-U1"
