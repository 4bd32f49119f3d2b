"""The image API section: the OpenAI key in Slack's wording, organisation verification from the ledger, Azure's
key and deployment without an image made; "Models the key lists" against the stand-in and against answers written
here (httpx.MockTransport).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from bot.settings import Settings
from imagebot.doctor.checklist import FAIL, INFO, OK, WARN, Check
from imagebot.doctor.image_api import image_api_checks
from standins.images_api import ImageAPIStandIn
from standins.slack import SlackStandIn
from standins.workspace import LocalWorkspace
from tests.catalogue_helpers import live
from tests.imagebot.doctor.helpers import DEFAULT, doctors_today, env_for, in_state, line, run

pytestmark = pytest.mark.anyio


async def test_openai_key_problems_use_the_slack_wording(slack: SlackStandIn, image_api: ImageAPIStandIn,
                                                         tmp_path: Path) -> None:
    status, output = await run(env_for(slack, image_api, tmp_path, OPENAI_API_KEY="sk-wrong-key-0123456789"))
    assert status == 1
    key = line(output, "OpenAI key and model")
    assert key.startswith("[FAIL]") and "rejected imagebot's API key" in key and "OPENAI_API_KEY" in key
    assert "sk-wrong" not in output  # OpenAI echoes the key half-starred: redacted all the same
    assert line(output, "Organisation verification").startswith("[--]")

    image_api.quota_exhausted(operation="models")
    status, output = await run(env_for(slack, image_api, tmp_path))
    assert status == 1 and "out of quota or credit" in line(output, "OpenAI key and model")

    image_api.rate_limit(operation="models")
    status, output = await run(env_for(slack, image_api, tmp_path))
    assert status == 0 and line(output, "OpenAI key and model").startswith("[warn]")


async def test_organisation_verification_comes_from_the_ledger(workspace_factory, slack: SlackStandIn,
                                                               image_api: ImageAPIStandIn, tmp_path: Path) -> None:
    workspace: LocalWorkspace = await workspace_factory()
    image_api.org_not_verified(operation="generations")
    await slack.send_command("U0ALICE", "C0GENERAL", "a lighthouse")
    await workspace.settle()
    status, output = await run(env_for(slack, image_api, tmp_path))
    assert status == 1
    verification = line(output, "Organisation verification")
    assert verification.startswith("[FAIL]") and "was refused" in verification
    assert "platform.openai.com/settings/organization/general" in verification
    await slack.send_command("U0ALICE", "C0GENERAL", "a lighthouse, again")  # verified since: it works
    await workspace.settle()
    status, output = await run(env_for(slack, image_api, tmp_path))
    assert status == 0 and line(output, "Organisation verification").startswith("[ok]")


async def test_azure_checks_key_and_deployment_without_making_an_image(slack: SlackStandIn,
                                                                       image_api: ImageAPIStandIn,
                                                                       tmp_path: Path) -> None:
    served = in_state("live", "azure", doctors_today())[0]  # a model Azure serves (not merely unconfirmed)
    image_api.azure_deployments["imagebot-images"] = served
    azure = {"OPENAI_API_KEY": "", "OPENAI_BASE_URL": "", "AZURE_OPENAI_ENDPOINT": image_api.azure_endpoint,
             "AZURE_OPENAI_API_KEY": image_api.azure_api_key, "AZURE_OPENAI_DEPLOYMENT": "imagebot-images",
             "IMAGEBOT_MODEL": served}
    status, output = await run(env_for(slack, image_api, tmp_path, **azure))
    assert status == 0, output
    assert line(output, "Azure OpenAI key and deployment").startswith("[ok]")
    assert line(output, "Model").startswith(f"[ok] Model: {served} (IMAGEBOT_MODEL) is live on Azure OpenAI")
    assert line(output, "Organisation verification").startswith("[--]")
    assert "Models the key lists" not in output  # Azure lists no models
    (probe,) = image_api.requests
    assert probe.status == 400 and "prompt" not in (probe.json or {})  # refused before any image was made

    status, output = await run(env_for(slack, image_api, tmp_path, **{**azure, "AZURE_OPENAI_DEPLOYMENT": "nope"}))
    assert status == 1 and "no deployment nope (AZURE_OPENAI_DEPLOYMENT)" in line(output,
                                                                                  "Azure OpenAI key and deployment")
    status, output = await run(env_for(slack, image_api, tmp_path, **{**azure, "AZURE_OPENAI_API_KEY": "wrong-key"}))
    deployment = line(output, "Azure OpenAI key and deployment")
    assert status == 1 and "rejected imagebot's API key" in deployment and "AZURE_OPENAI_API_KEY" in deployment


# -- Models the key lists (GET /v1/models), against answers written here ----------------------------------------

def openai_settings(tmp_path: Path, model: str | None = None) -> Settings:
    return dataclasses.replace(
        Settings(provider="openai", openai_api_key="sk-test", openai_base_url="https://api.example/v1",
                 data_dir=tmp_path / "data", sources={"IMAGEBOT_MODEL": "environment"} if model else {}),
        model=model or DEFAULT)


def models_api(listing: Callable[[], httpx.Response], seen: list[str]) -> httpx.MockTransport:
    """The OpenAI API's model routes: GET /models/{id} says the key works; GET /models answers `listing()`."""

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        assert request.headers["authorization"] == "Bearer sk-test"
        if request.url.path == "/v1/models":
            return listing()
        model = request.url.path.rsplit("/", 1)[1]
        return httpx.Response(200, json={"id": model, "object": "model", "created": 1, "owned_by": "system"})

    return httpx.MockTransport(handle)


def listing(*models: tuple[str, str | None]) -> Callable[[], httpx.Response]:
    data = [{"id": m, "object": "model", "created": 1, "owned_by": "system", **({"shutdown_date": d} if d else {})}
            for m, d in models]
    return lambda: httpx.Response(200, json={"object": "list", "data": data})


async def listed_check(tmp_path: Path, answer: Callable[[], httpx.Response], model: str | None = None,
                       seen: list[str] | None = None) -> Check:
    seen = [] if seen is None else seen
    async with httpx.AsyncClient(transport=models_api(answer, seen)) as http:
        checks = await image_api_checks(openai_settings(tmp_path, model), http)
    assert [c.title for c in checks] == ["OpenAI key and model", "Models the key lists", "Organisation verification"]
    assert checks[0].status == OK
    return checks[1]


async def test_models_the_key_lists_shows_the_image_models(tmp_path: Path) -> None:
    other = next(m for m in live() if m != DEFAULT)
    seen: list[str] = []
    check = await listed_check(tmp_path, listing((DEFAULT, None), (other, None), ("text-embedding-3-small", None)),
                               seen=seen)
    assert check.status == OK
    assert check.detail.startswith(", ".join(sorted((DEFAULT, other))) + ".")
    assert "text-embedding" not in check.detail  # not an image model
    assert "not proof of access" in check.detail
    assert seen == [f"/v1/models/{DEFAULT}", "/v1/models"]


async def test_models_the_key_lists_warns_of_the_models_shutdown_date(tmp_path: Path) -> None:
    check = await listed_check(tmp_path, listing((DEFAULT, "2027-03-01")))
    assert check.status == WARN
    assert f"{DEFAULT} (shuts down 2027-03-01)" in check.detail
    assert f"{DEFAULT} (IMAGEBOT_MODEL) shuts down on 2027-03-01" in check.detail
    assert "replacement before then" in check.fix


async def test_models_the_key_lists_warns_when_the_model_is_not_listed(tmp_path: Path) -> None:
    other = next(m for m in live() if m != DEFAULT)
    check = await listed_check(tmp_path, listing((other, None)), model=DEFAULT)
    assert check.status == WARN and f"{DEFAULT} (IMAGEBOT_MODEL) is not listed" in check.detail
    assert "Set IMAGEBOT_MODEL to a listed model" in check.fix


@pytest.mark.parametrize(("answer", "words"), [
    (lambda: httpx.Response(500, json={"error": {"message": "boom"}}), "GET /models failed (HTTP 500)"),
    (lambda: httpx.Response(200, text="<html>a proxy</html>"), "not a list of models"),
    (lambda: httpx.Response(200, json={"object": "list"}), "not a list of models"),
    (listing(("text-embedding-3-small", None)), "lists no image model"),
])
async def test_models_the_key_lists_falls_back_on_the_catalogue_when_the_list_is_no_use(
        tmp_path: Path, answer: Callable[[], httpx.Response], words: str) -> None:
    check = await listed_check(tmp_path, answer)
    assert check.status == WARN and words in check.detail and "falls back on its catalogue" in check.detail


async def test_models_the_key_lists_is_not_asked_when_the_key_fails(tmp_path: Path) -> None:
    seen: list[str] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(401, json={"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}})

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as http:
        key, listed, _ = await image_api_checks(openai_settings(tmp_path), http)
    assert key.status == FAIL
    assert (listed.title, listed.status, listed.detail) == ("Models the key lists", INFO,
                                                            "not checked, as the key check failed")
    assert seen == [f"/v1/models/{DEFAULT}"]


async def test_models_the_key_lists_over_loopback_sees_a_shutdown_date_the_api_gives(
        slack: SlackStandIn, image_api: ImageAPIStandIn, tmp_path: Path) -> None:
    image_api.shutdown_dates[DEFAULT] = "2099-01-01"  # announced, still served
    status, output = await run(env_for(slack, image_api, tmp_path))
    assert status == 0, output
    listed = line(output, "Models the key lists")
    assert listed.startswith("[warn]") and f"{DEFAULT} (IMAGEBOT_MODEL) shuts down on 2099-01-01" in listed
