"""The image API section. OpenAI: the key and the model (GET /models/{model}, free), the image models the key lists,
and organisation verification (from the ledger: no free call shows it). Azure: the key and the deployment, with a
request refused before any work (not billed)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import httpx

from bot import errors
from bot.money.catalogue import load_catalogue
from bot.providers.error_answers import error_from_response
from bot.providers.targets import AzureTarget, OpenAITarget
from bot.runtime.model_watch import image_models
from bot.settings import DEFAULT_OPENAI_BASE_URL, Settings
from imagebot.doctor import bounds
from imagebot.doctor.checklist import FAIL, INFO, OK, WARN, Check
from imagebot.doctor.data_dir import unreadable_database
from imagebot.doctor.settings import requested_model
from storage import diagnostics


async def image_api_checks(settings: Settings, http: httpx.AsyncClient) -> list[Check]:
    if settings.provider == "offline":
        return [Check("Image API", WARN, "no image API is configured: images come from the offline renderer "
                      "(stand-in pictures, not billed)",
                      "Set OPENAI_API_KEY for OpenAI, or AZURE_OPENAI_ENDPOINT, AZURE_OPENAI_API_KEY and "
                      "AZURE_OPENAI_DEPLOYMENT for Azure OpenAI.")]
    if settings.provider == "azure":
        return [await _azure_check(settings, http),
                Check("Organisation verification", INFO, "not used by Azure OpenAI (access to the image models "
                      "is granted per subscription; the deployment check covers it)")]
    key_check, error = await _openai_check(settings, http)
    listed = await _listed_models_check(settings, http) if key_check.status != FAIL else \
        Check("Models the key lists", INFO, "not checked, as the key check failed")
    return [key_check, listed, await _verification_check(settings, error, checked=key_check.status != FAIL)]


async def _listed_models_check(settings: Settings, http: httpx.AsyncClient) -> Check:
    """GET /v1/models: the image models the key lists and their shutdown dates. Not proof of access."""
    title = "Models the key lists"
    target = OpenAITarget(settings.openai_base_url, settings.openai_api_key or "")
    answer = await _get_or_post(http, "GET", target.models_url(), headers=target.headers())
    if isinstance(answer, str) or answer.status_code >= 400:
        problem = answer if isinstance(answer, str) else f"HTTP {answer.status_code}"
        return Check(title, WARN, f"GET /models failed ({problem}); imagebot falls back on its catalogue",
                     "Nothing to do unless it persists.")
    try:
        listed = image_models(answer.json(), load_catalogue(settings)[0])
    except ValueError:
        return Check(title, WARN, "GET /models answered with something that is not a list of models; imagebot falls "
                     "back on its catalogue")
    if not listed:
        return Check(title, WARN, "GET /models lists no image model; imagebot falls back on its catalogue")
    shown = ", ".join(f"{m} (shuts down {d})" if d else m for m, d in sorted(listed.items()))
    model = requested_model(settings)
    if listed.get(model):
        return Check(title, WARN, f"{shown}. {model} (IMAGEBOT_MODEL) shuts down on {listed[model]}",
                     "Choose its replacement before then; imagebot warns admins 14 days ahead and on the day.")
    if model not in listed:
        return Check(title, WARN, f"{shown}. {model} (IMAGEBOT_MODEL) is not listed: it may be gone, or this project "
                     "may not see it", "Set IMAGEBOT_MODEL to a listed model, or check the project's model access.")
    return Check(title, OK, shown + ". The list is not proof of access: a refused call is explained as it happens")


async def _get_or_post(http: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> httpx.Response | str:
    """The response, or what went wrong on the way (the caller says where)."""
    try:
        return await asyncio.wait_for(http.request(method, url, timeout=bounds.CALL_TIMEOUT, **kwargs),
                                      bounds.CALL_TIMEOUT + bounds.BACKSTOP)
    except httpx.TimeoutException:
        return bounds.no_answer()
    except TimeoutError:
        return bounds.backstop_fired()
    except httpx.HTTPError as error:
        return f"{type(error).__name__}"


def _api_error_check(title: str, error: errors.ImageAPIError, key_name: str, model: str) -> Check:
    """The account problems in the words Slack uses for them (errors.account_advice), then the passing ones."""
    detail = f"{error} (HTTP {error.status})"
    advice = errors.account_advice(error, model=model, key_name=key_name)
    if advice is not None:
        problem = advice.problem.replace("The image API", "the image API", 1)  # after "Title: ", as others read
        return Check(title, FAIL, f"{problem}: {detail}", f"{advice.fix[0].upper()}{advice.fix[1:]}.")
    if isinstance(error, errors.RateLimited):
        return Check(title, WARN, f"the image API is busy with too many requests: {detail}",
                     "Run `imagebot doctor` again in a minute.")
    if isinstance(error, errors.ServerError):
        return Check(title, WARN, f"the image API failed, so nothing could be checked: {detail}",
                     "Run `imagebot doctor` again in a moment.")
    return Check(title, FAIL, f"the image API said: {detail}")


async def _openai_check(settings: Settings, http: httpx.AsyncClient) -> tuple[Check, errors.ImageAPIError | None]:
    """GET /models/{model}: free, and it needs a working key. It does not show organisation verification."""
    title = "OpenAI key and model"
    model = requested_model(settings)
    target = OpenAITarget(settings.openai_base_url, settings.openai_api_key or "")
    where = "" if settings.openai_base_url == DEFAULT_OPENAI_BASE_URL else f" at {settings.openai_base_url}"
    answer = await _get_or_post(http, "GET", target.model_url(model), headers=target.headers())
    if isinstance(answer, str):
        return Check(title, FAIL, f"could not reach the OpenAI API{where}: {answer}",
                     "Check the network and proxy, and OPENAI_BASE_URL if it is set."), None
    if answer.status_code < 400:
        return Check(title, OK, f"OPENAI_API_KEY works and {model} (IMAGEBOT_MODEL) is available{where}"), None
    error = error_from_response(answer)
    if answer.status_code == 404:
        if isinstance(error, errors.InvalidRequest) and error.api_code == "model_not_found":
            return Check(title, FAIL, f"OPENAI_API_KEY works, but {model} (IMAGEBOT_MODEL) is not available "
                         f"to it: {error}", "Set IMAGEBOT_MODEL to a model the account can use (see 'Models the "
                         "key lists'), or check the project's model access."), error
        return Check(title, WARN, f"the API{where} does not answer GET /models/{model} (a proxy?), so the "
                     "key is checked only when the first image is made",
                     "If images fail, check OPENAI_API_KEY and OPENAI_BASE_URL."), error
    return _api_error_check(title, error, "OPENAI_API_KEY", model), error


async def _verification_check(settings: Settings, error: errors.ImageAPIError | None, *, checked: bool) -> Check:
    """OpenAI may require organisation verification for the GPT image models. No free call shows it, so the
    answer comes from the ledger: the newest call with this model that succeeded, or that was refused for it."""
    title = "Organisation verification"
    model = requested_model(settings)
    if isinstance(error, errors.OrganizationNotVerified):
        return _api_error_check(title, error, "OPENAI_API_KEY", model)
    if not checked:
        return Check(title, INFO, "not checked, as the key check failed")
    try:
        verdict = await asyncio.to_thread(_last_verdict, settings.data_dir, model)
    except sqlite3.Error as unreadable:
        if settings.oauth_enabled:  # the install count has reported the damaged database already
            return Check(title, INFO, "not checked: the database cannot be read")
        return unreadable_database(settings.data_dir, unreadable)
    if verdict is None:
        return Check(title, INFO, f"not known yet: no image has been made with {model} here. OpenAI asks "
                     "some organisations to verify before they can use the GPT Image models; if yours must, the "
                     "first image fails and imagebot says so in Slack",
                     f"To be sure beforehand, look at {errors.VERIFY_URL}.")
    when = verdict["created_at"]
    if verdict["status"] == "ok":
        return Check(title, OK, f"not in the way: {model} made an image here on {when}")
    return Check(title, FAIL, f"the last call with {model} ({when}) was refused: OpenAI requires the "
                 "organisation to be verified",
                 f"Verify it at {errors.VERIFY_URL} (it can take 15 minutes to apply). If it is verified since, this "
                 "clears with the next image that succeeds.")


def _last_verdict(data_dir: Path, model: str) -> dict[str, Any] | None:
    db = diagnostics.open_readonly(data_dir)
    if db is None:
        return None
    try:
        return diagnostics.last_model_verdict(db, "openai", model)
    finally:
        db.close()


async def _azure_check(settings: Settings, http: httpx.AsyncClient) -> Check:
    """Azure documents no free read-only call for a deployment. A generation request without a prompt
    is the next best: the key and the deployment are checked before the body, which is refused (400) before any
    image is made, so nothing is billed."""
    title = "Azure OpenAI key and deployment"
    model = requested_model(settings)
    target = AzureTarget(settings.azure_endpoint or "", settings.azure_api_key or "", settings.azure_deployment or "",
                         settings.azure_api_version)
    answer = await _get_or_post(http, "POST", target.url("generations"), headers=target.headers(), json={})
    if isinstance(answer, str):
        return Check(title, FAIL, f"could not reach {settings.azure_endpoint}: {answer}",
                     "Check AZURE_OPENAI_ENDPOINT (https://YOUR-RESOURCE.openai.azure.com), the network and proxy.")
    deployment = f"deployment {settings.azure_deployment} (AZURE_OPENAI_DEPLOYMENT)"
    if answer.status_code < 400 or (answer.status_code == 400 and not _api_version_refused(answer)):
        return Check(title, OK, f"AZURE_OPENAI_API_KEY works and {deployment} answers "
                     f"(api-version {settings.azure_api_version})")
    error = error_from_response(answer)
    if answer.status_code == 400:
        return Check(title, FAIL, f"Azure does not accept api-version {settings.azure_api_version} "
                     f"(AZURE_OPENAI_API_VERSION): {error}",
                     "Unset AZURE_OPENAI_API_VERSION to use 2025-04-01-preview, the first version with GPT Image.")
    if answer.status_code == 404:
        if "deployment" in str(error).lower():
            return Check(title, FAIL, f"there is no {deployment} at {settings.azure_endpoint}: {error}",
                         "Set AZURE_OPENAI_DEPLOYMENT to the name of the image model's deployment (Azure AI Foundry, "
                         "Deployments). A new deployment can take 5 minutes to answer.")
        return Check(title, FAIL, f"no Azure OpenAI images API at {settings.azure_endpoint}: {error}",
                     "Check AZURE_OPENAI_ENDPOINT (https://YOUR-RESOURCE.openai.azure.com, without a path).")
    return _api_error_check(title, error, "AZURE_OPENAI_API_KEY", model)


def _api_version_refused(answer: httpx.Response) -> bool:
    return "api version" in answer.text.lower() or "api-version" in answer.text.lower()
