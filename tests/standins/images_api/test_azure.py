"""Azure OpenAI's image deployments: routing, api-version, api-key, the deployment's model, Azure's error shapes."""

from __future__ import annotations

from datetime import date

import httpx
import pytest

from standins.images_api import ImageAPIStandIn
from tests.standins.images_api.helpers import AZURE_KEY, AZURE_VERSION, KEY, TODAY, assert_error, azure_path, ok, png

pytestmark = pytest.mark.anyio  # the plugin runs only the async tests on the event loop


async def test_azure_generation(api, azure):
    response = await azure.post(azure_path("generations"), json={"prompt": "p", "model": "ignored-by-azure"})
    result = ok(response)
    assert response.headers["apim-request-id"]
    assert result["quality"] == "high"  # Azure's default quality
    assert result["usage"]["output_tokens"] == 4160  # gpt-image-1, still served on Azure: the classic table
    assert result["data"][0]["content_filter_results"]["sexual"] == {"filtered": False, "severity": "safe"}
    record = api.requests[-1]
    assert (record.flavor, record.query, record.headers["api-key"]) == ("azure", {"api-version": AZURE_VERSION},
                                                                         AZURE_KEY)


async def test_azure_serves_gpt_image_2(azure):
    result = ok(await azure.post(azure_path("generations", "gpt-image-2"), json={"prompt": "p", "quality": "low",
                                                                                 "size": "2048x1152"}))
    assert result["usage"]["output_tokens"] == 157


async def test_azure_mini_defaults_to_medium(azure):
    result = ok(await azure.post(azure_path("generations", "gpt-image-1-mini"), json={"prompt": "p"}))
    assert (result["quality"], result["usage"]["output_tokens"]) == ("medium", 1056)


async def test_azure_input_fidelity_follows_the_model(azure):
    files = {"image": ("a.png", png((1024, 1024)))}
    high = ok(await azure.post(azure_path("edits"), data={"prompt": "p", "input_fidelity": "high"}, files=files))
    low = ok(await azure.post(azure_path("edits"), data={"prompt": "p"}, files=files))
    assert (high["usage"]["input_tokens_details"]["image_tokens"],
            low["usage"]["input_tokens_details"]["image_tokens"]) == (194 + 4160, 194)
    mini = await azure.post(azure_path("edits", "gpt-image-1-mini"), data={"prompt": "p", "input_fidelity": "high"},
                            files=files)
    assert_error(mini, 400, param="input_fidelity", code="unsupported_parameter")
    ok(await azure.post(azure_path("edits", "gpt-image-1-mini"), data={"prompt": "p", "input_fidelity": "low"},
                        files=files))


async def test_azure_custom_deployments():
    async with ImageAPIStandIn(azure_deployments={"prod-images": "gpt-image-1.5"}, today=TODAY) as api, \
            httpx.AsyncClient(base_url=api.azure_endpoint, headers={"api-key": AZURE_KEY}) as http:
        good = await http.post(azure_path("generations", "prod-images"), json={"prompt": "p", "quality": "low"})
        missing = await http.post(azure_path("generations", "gpt-image-1"), json={"prompt": "p"})
        api.today = date(2026, 12, 16)  # Azure retires gpt-image-1.5 on this day
        retired = await http.post(azure_path("generations", "prod-images"), json={"prompt": "p"})
    assert ok(good)["usage"]["output_tokens"] == 272
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "DeploymentNotFound"
    assert_error(retired, 404, param="model", code="model_not_found")


async def test_azure_routing_and_auth_errors(api, azure):
    wrong = await azure.post(azure_path("generations"), json={"prompt": "p"}, headers={"api-key": "nope"})
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "401"
    assert wrong.json()["error"]["message"].startswith("Access denied due to invalid subscription key")
    bearer = await azure.post(azure_path("generations"), json={"prompt": "p"},
                              headers={"api-key": "", "Authorization": f"Bearer {KEY}"})
    assert bearer.status_code == 401
    no_version = await azure.post(azure_path("generations", version=None), json={"prompt": "p"})
    assert (no_version.status_code, no_version.json()) == (404, {"error": {"code": "404",
                                                                          "message": "Resource not found"}})
    old_version = await azure.post(azure_path("generations", version="2024-10-21"), json={"prompt": "p"})
    assert old_version.status_code == 400
    unknown = await azure.post(azure_path("generations", "nope"), json={"prompt": "p"})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "DeploymentNotFound"
    no_prompt = await azure.post(azure_path("generations"), json={})  # what `imagebot doctor` sends
    assert_error(no_prompt, 400, param="prompt", code="missing_required_parameter")
    assert [r.status for r in api.requests] == [401, 401, 404, 400, 404, 400]


@pytest.mark.parametrize("fmt", ["webp", "gif", "svg"])
async def test_azure_answers_png_or_jpeg_only(azure, fmt):
    deployment = "gpt-image-2" if fmt == "webp" else "gpt-image-1"
    response = await azure.post(azure_path("generations", deployment), json={"prompt": "p", "output_format": fmt})
    error = assert_error(response, 400, param="output_format", code="invalid_value")
    assert error["message"] == f"Invalid value: '{fmt}'. Supported values are: 'png' and 'jpeg'."


async def test_azure_multipart_edit(api, azure):
    response = await azure.post(azure_path("edits"), data={"prompt": "p"},
                                files=[("image[]", ("a.png", png((1024, 1024))))])
    ok(response)
    assert api.requests[-1].files["image[]"][0][0] == "a.png"


async def test_azure_rate_limit_uses_azure_shape(api, azure):
    api.rate_limit(2)
    response = await azure.post(azure_path("edits"), data={"prompt": "p"}, files={"image[]": ("a.png", png())})
    assert response.status_code == 429
    assert (response.headers["Retry-After"], response.headers["retry-after-ms"]) == ("2", "2000")
    error = response.json()["error"]
    assert error["code"] == "429"
    assert "Images_Edits Operation" in error["message"] and "retry after 2 seconds" in error["message"]


async def test_azure_auth_error_fault_uses_azure_shape(api, azure):
    api.auth_error()
    response = await azure.post(azure_path("generations"), json={"prompt": "p"})
    assert (response.status_code, response.json()["error"]["code"]) == (401, "401")


async def test_azure_content_filter_inner_error(api, azure):
    api.azure_content_filter(categories=("violence",))
    response = await azure.post(azure_path("generations"), json={"prompt": "p"})
    error = assert_error(response, 400, param="prompt", code="content_policy_violation")
    inner = error["inner_error"]
    assert inner["code"] == "ResponsibleAIPolicyViolation"
    assert inner["content_filter_results"]["violence"] == {"filtered": True, "severity": "high"}
    assert inner["content_filter_results"]["sexual"]["filtered"] is False
    assert (await azure.post(azure_path("generations"), json={"prompt": "p"})).status_code == 200


async def test_azure_content_filter_innererror_spelling(api, azure):
    api.azure_content_filter(spelling="innererror")
    response = await azure.post(azure_path("generations"), json={"prompt": "p"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("content_filter", "prompt")
    assert error["innererror"]["code"] == "ResponsibleAIPolicyViolation"
    assert error["innererror"]["content_filter_result"]["sexual"] == {"filtered": True, "severity": "high"}
