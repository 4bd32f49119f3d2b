"""The Settings section: a bad setting is a failed check naming the variable; the Model check, through the doctor
and on its own on a fixed day for each state the catalogue can give a model.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from pathlib import Path

import pytest

from bot.settings import Settings
from imagebot.doctor.checklist import FAIL, OK, WARN
from imagebot.doctor.settings import model_check
from standins.images_api import ImageAPIStandIn
from standins.slack import SlackStandIn
from tests.catalogue_helpers import TODAY, catalogue, live, shut_down
from tests.imagebot.doctor.helpers import DEFAULT, doctors_today, env_for, in_state, line, run

pytestmark = pytest.mark.anyio


async def test_a_bad_setting_is_a_failed_check_naming_the_variable(tmp_path: Path) -> None:
    status, output = await run({"IMAGEBOT_QUALITY": "ultra-high"})
    assert status == 1
    assert line(output, "Settings").startswith("[FAIL] Settings: IMAGEBOT_QUALITY: must be a quality such as")
    assert "it is set in the environment" in output and "Traceback" not in output
    dotenv = tmp_path / ".env"
    dotenv.write_text("IMAGEBOT_REPORT_CHANNEL=general\n", encoding="utf-8")
    status, output = await run({}, dotenv=dotenv)
    assert status == 1 and f"IMAGEBOT_REPORT_CHANNEL correctly (it is set in {dotenv})" in line(output, "Settings")


@pytest.mark.parametrize(("variable", "value"), [("IMAGEBOT_QUALITY", "ultra"), ("IMAGEBOT_SIZE", "16x16")])
async def test_a_default_the_model_cannot_make_fails_as_serve_refuses_it(tmp_path: Path, variable: str,
                                                                        value: str) -> None:
    from bot.errors import SettingsError
    from bot.runtime.services import check_defaults

    settings = Settings.from_env({variable: value})
    with pytest.raises(SettingsError):  # what `serve` does with it
        check_defaults(settings, catalogue(), "offline", doctors_today())
    status, output = await run({variable: value, "IMAGEBOT_DATA_DIR": str(tmp_path)})
    assert status == 1
    assert [e for e in output.split("\n[") if e.startswith("FAIL]") and variable in e], output  # named in a failure


# -- the Model check -------------------------------------------------------------------------------------------

async def test_a_shut_down_imagebot_model_fails_with_the_replacement_to_set(slack: SlackStandIn,
                                                                           image_api: ImageAPIStandIn,
                                                                           tmp_path: Path) -> None:
    gone = shut_down(today=doctors_today())[0]
    replacement = catalogue().resolve(gone, "openai", doctors_today()).used
    status, output = await run(env_for(slack, image_api, tmp_path, IMAGEBOT_MODEL=gone))
    assert status == 1
    model = line(output, "Model")
    assert model.startswith(f"[FAIL] Model: {gone} (IMAGEBOT_MODEL) was shut down on OpenAI on ")
    assert f"requests use {replacement} instead" in model
    assert model.endswith(f"fix: Set IMAGEBOT_MODEL={replacement}.")


def settings_for_check(model: str | None, provider: str = "openai", **fields: object) -> Settings:
    """Settings as load_settings hands them to model_check: the model filled in, its source recorded."""
    sources = {"IMAGEBOT_MODEL": "environment"} if model else {}
    return dataclasses.replace(Settings(provider=provider, sources=sources), model=model or DEFAULT, **fields)


def test_model_check_live_default_says_why_it_is_the_default() -> None:
    check = model_check(settings_for_check(None), catalogue(), TODAY)
    assert (check.status, check.fix) == (OK, "")
    assert check.detail.startswith(f"{DEFAULT} (the default model) is live on OpenAI per the built-in catalogue")
    assert catalogue().default_why and catalogue().default_why in check.detail


def test_model_check_live_named_model() -> None:
    model = next(m for m in live() if m != DEFAULT)
    check = model_check(settings_for_check(model), catalogue(), TODAY)
    assert check.status == OK and check.detail.startswith(f"{model} (IMAGEBOT_MODEL) is live on OpenAI")
    assert catalogue().default_why not in check.detail  # the why is the default's


@pytest.mark.parametrize("provider", ["openai", "azure"])
def test_model_check_deprecated_warns_with_the_date_and_the_replacement(provider: str) -> None:
    # A day on which the catalogue has a model deprecated but not yet shut down on this provider.
    day, model = next((day, found[0]) for day in (TODAY, date(2026, 11, 1), date(2026, 6, 1))
                      if (found := in_state("deprecated", provider, day)))
    status = catalogue().status(model, provider)
    check = model_check(settings_for_check(model, provider), catalogue(), day)
    where = {"openai": "OpenAI", "azure": "Azure OpenAI"}[provider]
    assert check.status == WARN
    assert check.detail == (f"{model} (IMAGEBOT_MODEL) shuts down on {where} on {status.shutdown}; its replacement "
                            f"is {status.replacement}")
    assert check.fix == f"Move to IMAGEBOT_MODEL={status.replacement} before then."


def test_a_deprecated_model_fails_from_its_shutdown_day() -> None:
    model = next(m for m in catalogue().ids if catalogue().status(m, "openai").state == "deprecated"
                 and not catalogue().get(m).snapshot_of)  # type: ignore[union-attr]
    status = catalogue().status(model, "openai")
    assert status.shutdown is not None
    settings = settings_for_check(model)
    assert model_check(settings, catalogue(), date.fromordinal(status.shutdown.toordinal() - 1)).status == WARN
    on_the_day = model_check(settings, catalogue(), status.shutdown)
    assert on_the_day.status == FAIL and f"was shut down on OpenAI on {status.shutdown}" in on_the_day.detail
    assert on_the_day.fix == f"Set IMAGEBOT_MODEL={catalogue().resolve(model, 'openai', status.shutdown).used}."


def test_model_check_shut_down_fails_with_the_fix() -> None:
    gone = shut_down()[0]
    replacement = catalogue().resolve(gone, "openai", TODAY).used
    check = model_check(settings_for_check(gone), catalogue(), TODAY)
    assert check.status == FAIL and replacement != gone
    assert check.detail.startswith(f"{gone} (IMAGEBOT_MODEL) was shut down on OpenAI on ")
    assert check.fix == f"Set IMAGEBOT_MODEL={replacement}."


def test_model_check_shut_down_without_a_live_replacement_lists_the_live_models(tmp_path: Path) -> None:
    gone = shut_down()[0]
    entry = catalogue().get(gone)
    assert entry is not None
    override = tmp_path / "models.json"
    override.write_text(json.dumps({"models": {gone: {"status": {"openai": {
        "state": "shut_down", "shutdown": str(entry.status("openai").shutdown), "replacement": None}}}}}),
        encoding="utf-8")
    from bot.money.catalogue import Catalogue

    custom = Catalogue.load(override)
    check = model_check(settings_for_check(gone, models_path=override), custom, TODAY)
    assert check.status == FAIL and "requests use nothing instead" in check.detail
    assert check.fix == f"Set IMAGEBOT_MODEL to one of {', '.join(custom.live('openai', TODAY))}."


def test_model_check_not_in_the_catalogue_warns() -> None:
    check = model_check(settings_for_check("house-model"), catalogue(), TODAY)
    assert check.status == WARN
    assert check.detail.startswith("house-model (IMAGEBOT_MODEL) is not in the built-in catalogue")
    assert "IMAGEBOT_MODELS" in check.fix and all(m in check.fix for m in catalogue().live("openai", TODAY))


def test_model_check_names_an_imagebot_models_file(tmp_path: Path) -> None:
    override = tmp_path / "models.json"
    family = catalogue().get(DEFAULT).family  # type: ignore[union-attr]
    override.write_text(json.dumps({"models": {"house-model": {"family": family, "status": {
        "openai": {"state": "live"}}}}}), encoding="utf-8")
    from bot.money.catalogue import Catalogue

    check = model_check(settings_for_check("house-model", models_path=override), Catalogue.load(override),
                               TODAY)
    assert check.status == OK
    assert check.detail == f"house-model (IMAGEBOT_MODEL) is live on OpenAI per the catalogue ({override} over the " \
                           "built-in one)"


def test_model_check_unconfirmed_on_azure_warns() -> None:
    model = in_state("unconfirmed", "azure")[0]
    check = model_check(settings_for_check(model, "azure"), catalogue(), TODAY)
    assert check.status == WARN
    assert check.detail == f"{model} (IMAGEBOT_MODEL) is not confirmed on Azure OpenAI in the built-in catalogue"
    assert "deployment serves it" in check.fix


def test_model_check_a_model_with_no_status_on_the_provider_warns() -> None:
    # The catalogue lists no Azure status for some OpenAI-only models: unknown there, not assumed live.
    model = next(m for m in catalogue().ids if "azure" not in catalogue().get(m).statuses)  # type: ignore[union-attr]
    check = model_check(settings_for_check(model, "azure"), catalogue(), TODAY)
    assert check.status == WARN and "is not confirmed on Azure OpenAI" in check.detail
