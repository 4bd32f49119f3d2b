"""bot/settings.py: defaults, provider inference, every contradiction named by its variable, `.env` files."""

import logging
from dataclasses import replace
from pathlib import Path

import pytest

from bot.errors import SettingsError
from bot.runtime.services import check_defaults
from bot.settings import VARIABLES, Settings
from bot.settings_parsing import parse_dotenv
from tests.catalogue_helpers import TODAY, caps, catalogue, default_model, live, live_with, live_without, shut_down

OPENAI = {"OPENAI_API_KEY": "sk-test"}
AZURE = {
    "AZURE_OPENAI_ENDPOINT": "https://example.openai.azure.com/",
    "AZURE_OPENAI_API_KEY": "azure-key",
    "AZURE_OPENAI_DEPLOYMENT": "images-east",  # a deployment's name is the operator's, not a model's
}


def settings_error(environ: dict[str, str], **kwargs) -> SettingsError:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(environ, **kwargs)
    return caught.value


# defaults -------------------------------------------------------------------------------------------------


def test_empty_environment_gives_documented_defaults() -> None:
    settings = Settings.from_env({})

    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.openai_base_url == "https://api.openai.com/v1"
    assert settings.azure_api_version == "2025-04-01-preview"
    assert settings.data_dir == Path("data")
    assert settings.model is None  # the catalogue's default
    assert settings.size == "1024x1024"
    assert settings.quality == "medium"
    assert settings.provider == "offline"
    assert settings.admins == ()
    assert settings.prices_path is None
    assert settings.models_path is None
    assert settings.moderation == "auto"
    assert settings.svg_model is None
    assert settings.slack_bot_token is None
    assert settings.has_slack_credentials is False


def test_blank_values_count_as_unset() -> None:
    settings = Settings.from_env({"IMAGEBOT_MODEL": "   ", "OPENAI_API_KEY": "", "IMAGEBOT_QUALITY": " ",
                                  "IMAGEBOT_MODERATION": "", "IMAGEBOT_SVG_MODEL": " ", "IMAGEBOT_MODELS": ""})

    assert settings.model is None
    assert settings.quality == "medium"
    assert settings.moderation == "auto"
    assert settings.svg_model is None
    assert settings.models_path is None
    assert settings.provider == "offline"


def test_values_from_environment_are_used_and_normalised() -> None:
    model = live()[-1]
    settings = Settings.from_env({
        "IMAGEBOT_DATA_DIR": "/srv/imagebot",
        "IMAGEBOT_MODEL": model.upper(),
        "IMAGEBOT_SIZE": "AUTO",
        "IMAGEBOT_QUALITY": "High",
        "IMAGEBOT_MODERATION": "Low",
        "IMAGEBOT_SVG_MODEL": "house-writer",
        "IMAGEBOT_ADMINS": " U012ABCDEF , W0ABC ,",
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_APP_TOKEN": "xapp-1",
    })

    assert settings.data_dir == Path("/srv/imagebot")
    assert settings.model == model
    assert settings.size == "auto"
    assert settings.quality == "high"
    assert settings.moderation == "low"
    assert settings.svg_model == "house-writer"
    assert settings.admins == ("U012ABCDEF", "W0ABC")
    assert settings.slack_bot_token == "xoxb-1"
    assert settings.has_slack_credentials is True


def test_slack_api_url_gains_a_trailing_slash_and_base_urls_lose_theirs() -> None:
    settings = Settings.from_env({
        "SLACK_API_URL": "http://127.0.0.1:8080/api",
        "OPENAI_BASE_URL": "http://127.0.0.1:9090/v1/",
        **AZURE,
    })

    assert settings.slack_api_url == "http://127.0.0.1:8080/api/"
    assert settings.openai_base_url == "http://127.0.0.1:9090/v1"
    assert settings.azure_endpoint == "https://example.openai.azure.com"


# provider -------------------------------------------------------------------------------------------------


def test_provider_is_offline_without_any_key() -> None:
    assert Settings.from_env({}).provider == "offline"


def test_provider_is_openai_when_openai_key_is_set() -> None:
    settings = Settings.from_env(OPENAI)

    assert settings.provider == "openai"
    assert settings.openai_api_key == "sk-test"


def test_provider_is_azure_when_azure_endpoint_is_set_even_with_an_openai_key() -> None:
    settings = Settings.from_env({**OPENAI, **AZURE})

    assert settings.provider == "azure"
    assert settings.azure_deployment == "images-east"


def test_explicit_provider_wins_over_inference() -> None:
    assert Settings.from_env({**OPENAI, "IMAGEBOT_PROVIDER": "offline"}).provider == "offline"
    assert Settings.from_env({**OPENAI, **AZURE, "IMAGEBOT_PROVIDER": "OpenAI"}).provider == "openai"


# contradictions -------------------------------------------------------------------------------------------


def test_openai_provider_without_key_names_openai_api_key() -> None:
    assert settings_error({"IMAGEBOT_PROVIDER": "openai"}).variable == "OPENAI_API_KEY"


def test_azure_provider_without_endpoint_names_azure_endpoint() -> None:
    assert settings_error({"IMAGEBOT_PROVIDER": "azure"}).variable == "AZURE_OPENAI_ENDPOINT"


@pytest.mark.parametrize("missing", ["AZURE_OPENAI_API_KEY", "AZURE_OPENAI_DEPLOYMENT"])
def test_azure_endpoint_without_key_or_deployment_names_the_missing_variable(missing: str) -> None:
    environ = {k: v for k, v in AZURE.items() if k != missing}

    assert settings_error(environ).variable == missing


def test_unknown_provider_names_imagebot_provider_and_lists_providers() -> None:
    error = settings_error({"IMAGEBOT_PROVIDER": "dalle"})

    assert error.variable == "IMAGEBOT_PROVIDER"
    for provider in ("openai", "azure", "offline"):
        assert provider in error.problem


@pytest.mark.parametrize("quality", ["x", "high!", "best1", "very high", "q" * 21])
def test_a_quality_that_is_not_a_word_names_imagebot_quality(quality: str) -> None:
    error = settings_error({"IMAGEBOT_QUALITY": quality})

    assert error.variable == "IMAGEBOT_QUALITY"
    assert "low, medium or high" in error.problem


def test_any_quality_word_passes_settings_the_model_decides_at_start_up() -> None:
    # Which qualities exist is the catalogue's: settings check only the shape, so next month's quality needs no
    # new version of settings.
    for quality in ("xhigh", "max", "ultra"):
        assert Settings.from_env({"IMAGEBOT_QUALITY": quality.upper()}).quality == quality


@pytest.mark.parametrize("moderation", ["off", "high", "none", "1"])
def test_bad_moderation_names_imagebot_moderation_and_lists_the_settings(moderation: str) -> None:
    error = settings_error({"IMAGEBOT_MODERATION": moderation})

    assert error.variable == "IMAGEBOT_MODERATION"
    assert "low, auto" in error.problem


@pytest.mark.parametrize("size", ["big", "1024", "1024*1024", "1x1", "1024x1024x3"])
def test_bad_size_names_imagebot_size(size: str) -> None:
    assert settings_error({"IMAGEBOT_SIZE": size}).variable == "IMAGEBOT_SIZE"


@pytest.mark.parametrize("variable", ["SLACK_API_URL", "OPENAI_BASE_URL", "AZURE_OPENAI_ENDPOINT"])
@pytest.mark.parametrize("url", ["slack.com/api", "ftp://slack.com/", "https://"])
def test_bad_url_names_its_variable(variable: str, url: str) -> None:
    environ = {**AZURE, variable: url} if variable == "AZURE_OPENAI_ENDPOINT" else {variable: url}

    error = settings_error(environ)

    assert error.variable == variable
    assert "http(s) URL" in error.problem


@pytest.mark.parametrize("admins", ["bob", "U012ABCDEF,@alice", "C012ABCDEF", "u012abcdef"])
def test_admins_that_are_not_user_ids_name_imagebot_admins(admins: str) -> None:
    error = settings_error({"IMAGEBOT_ADMINS": admins})

    assert error.variable == "IMAGEBOT_ADMINS"
    assert "U012ABCDEF" in error.problem  # shows what a user id looks like


@pytest.mark.parametrize(("variable", "value"), [("SLACK_BOT_TOKEN", "xapp-1"), ("SLACK_APP_TOKEN", "xoxb-1")])
def test_slack_tokens_with_the_wrong_prefix_name_their_variable(variable: str, value: str) -> None:
    error = settings_error({variable: value})

    assert error.variable == variable
    assert ("xoxb-" if variable == "SLACK_BOT_TOKEN" else "xapp-") in error.problem


def test_missing_prices_file_names_imagebot_prices(tmp_path: Path) -> None:
    error = settings_error({"IMAGEBOT_PRICES": str(tmp_path / "nope.json")})

    assert error.variable == "IMAGEBOT_PRICES"
    assert "nope.json" in error.problem


def test_existing_prices_file_is_kept_as_a_path(tmp_path: Path) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text("{}", encoding="utf-8")

    assert Settings.from_env({"IMAGEBOT_PRICES": str(prices)}).prices_path == prices


def test_missing_models_file_names_imagebot_models(tmp_path: Path) -> None:
    error = settings_error({"IMAGEBOT_MODELS": str(tmp_path / "models.toml")})

    assert error.variable == "IMAGEBOT_MODELS"
    assert "models.toml" in error.problem


def test_existing_models_file_is_kept_as_a_path(tmp_path: Path) -> None:
    models = tmp_path / "models.json"
    models.write_text("{}", encoding="utf-8")  # what it says is read (and checked) with the catalogue

    assert Settings.from_env({"IMAGEBOT_MODELS": str(models)}).models_path == models


def test_settings_error_message_starts_with_the_variable() -> None:
    error = settings_error({"IMAGEBOT_QUALITY": "ultra!"})

    assert str(error).startswith("IMAGEBOT_QUALITY: ")


# require_slack --------------------------------------------------------------------------------------------


def test_require_slack_without_bot_token_names_slack_bot_token() -> None:
    settings = Settings.from_env({"SLACK_SIGNING_SECRET": "s", "SLACK_APP_TOKEN": "xapp-1"})

    for http in (True, False):
        with pytest.raises(SettingsError) as caught:
            settings.require_slack(http=http)
        assert caught.value.variable == "SLACK_BOT_TOKEN"


def test_require_slack_http_mode_needs_signing_secret_not_app_token() -> None:
    without_secret = Settings.from_env({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"})
    with pytest.raises(SettingsError) as caught:
        without_secret.require_slack(http=True)
    assert caught.value.variable == "SLACK_SIGNING_SECRET"

    Settings.from_env({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}).require_slack(http=True)


def test_require_slack_socket_mode_needs_app_token_not_signing_secret() -> None:
    without_app_token = Settings.from_env({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"})
    with pytest.raises(SettingsError) as caught:
        without_app_token.require_slack(http=False)
    assert caught.value.variable == "SLACK_APP_TOKEN"

    Settings.from_env({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"}).require_slack(http=False)


# .env -----------------------------------------------------------------------------------------------------


def test_dotenv_values_are_used_and_sources_recorded(tmp_path: Path) -> None:
    model = live()[-1]
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"OPENAI_API_KEY=sk-from-file\nIMAGEBOT_MODEL={model}\n", encoding="utf-8")

    settings = Settings.from_env({}, dotenv=dotenv)

    assert settings.provider == "openai"
    assert settings.openai_api_key == "sk-from-file"
    assert settings.model == model
    assert settings.sources["OPENAI_API_KEY"] == str(dotenv)


def test_environment_wins_over_dotenv(tmp_path: Path) -> None:
    in_file, in_environment = live()[:2]
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"IMAGEBOT_MODEL={in_file}\nIMAGEBOT_QUALITY=low\n", encoding="utf-8")

    settings = Settings.from_env({"IMAGEBOT_MODEL": in_environment}, dotenv=dotenv)

    assert settings.model == in_environment
    assert settings.quality == "low"
    assert settings.sources["IMAGEBOT_MODEL"] == "environment"
    assert settings.sources["IMAGEBOT_QUALITY"] == str(dotenv)


def test_missing_dotenv_file_is_ignored(tmp_path: Path) -> None:
    assert Settings.from_env({}, dotenv=tmp_path / "absent.env") == Settings.from_env({})


def test_contradiction_inside_dotenv_is_reported(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("IMAGEBOT_PROVIDER=openai\n", encoding="utf-8")

    assert settings_error({}, dotenv=dotenv).variable == "OPENAI_API_KEY"


def test_parse_dotenv_handles_export_quotes_and_comments() -> None:
    text = "\n".join([
        "# a comment line",
        "",
        "PLAIN=value",
        "export EXPORTED=yes",
        "DOUBLE=\"two words\"",
        "SINGLE='it # is not a comment'",
        "TRAILING=abc # a trailing comment",
        "HASH_IN_VALUE=a#b",
        "  SPACED  =  padded  ",
        "EMPTY=",
        "EQUALS=a=b",
        "not a line",
        "1BAD=x",
    ])

    assert parse_dotenv(text) == {
        "PLAIN": "value",
        "EXPORTED": "yes",
        "DOUBLE": "two words",
        "SINGLE": "it # is not a comment",
        "TRAILING": "abc",
        "HASH_IN_VALUE": "a#b",
        "SPACED": "padded",
        "EMPTY": "",
        "EQUALS": "a=b",
    }


def test_parse_dotenv_strips_quotes_before_a_trailing_comment() -> None:
    assert parse_dotenv('OPENAI_API_KEY="sk-test" # the team key') == {"OPENAI_API_KEY": "sk-test"}


def test_an_unreadable_env_file_is_a_settings_error_naming_it(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_bytes(b"OPENAI_API_KEY=\xff\xfe not utf-8\n")
    with pytest.raises(SettingsError, match=r"\.env: cannot be read as UTF-8"):
        Settings.from_env({}, dotenv=dotenv)


def test_every_variable_is_listed_read_and_documented() -> None:
    import bot.settings as module

    source = Path(module.__file__ or "").read_text(encoding="utf-8")
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    listed_only = [name for name in VARIABLES if source.count(f'"{name}"') < 2]  # in VARIABLES, never read
    assert not listed_only
    assert [name for name in sorted(VARIABLES) if f"`{name}`" not in readme] == []


def test_a_bad_value_says_where_it_was_set(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("IMAGEBOT_QUALITY=best!\n", encoding="utf-8")
    with pytest.raises(SettingsError) as from_file:
        Settings.from_env({}, dotenv=dotenv)
    with pytest.raises(SettingsError) as from_environment:
        Settings.from_env({"IMAGEBOT_QUALITY": "best?"}, dotenv=dotenv)
    assert (from_file.value.source, from_environment.value.source) == (str(dotenv), "environment")


# start-up: the defaults against the model (bot/services.check_defaults) -----------------------------------


def test_start_up_refuses_a_quality_the_model_lacks_naming_imagebot_quality_and_its_qualities() -> None:
    model = live_without(lambda c: "xhigh" in c.qualities)
    settings = Settings.from_env({"IMAGEBOT_MODEL": model, "IMAGEBOT_QUALITY": "xhigh"})

    with pytest.raises(SettingsError) as caught:
        check_defaults(settings, catalogue(), "openai", TODAY)

    assert caught.value.variable == "IMAGEBOT_QUALITY"
    assert model in caught.value.problem
    assert ", ".join(caps(model).qualities) in caught.value.problem


def test_start_up_takes_a_quality_the_model_has() -> None:
    model = live_with(lambda c: "xhigh" in c.qualities)

    check_defaults(Settings.from_env({"IMAGEBOT_MODEL": model, "IMAGEBOT_QUALITY": "xhigh"}), catalogue(), "openai",
                   TODAY)


def test_start_up_checks_the_quality_against_the_catalogues_default_when_no_model_is_set() -> None:
    assert "ultra" not in caps(default_model()).qualities
    with pytest.raises(SettingsError) as caught:
        check_defaults(Settings.from_env({"IMAGEBOT_QUALITY": "ultra"}), catalogue(), "openai", TODAY)

    assert caught.value.variable == "IMAGEBOT_QUALITY"
    assert default_model() in caught.value.problem


def test_start_up_refuses_a_size_the_model_cannot_make_naming_imagebot_size() -> None:
    fixed = live("azure", where=lambda c: not c.sizes.free)
    assert fixed, "no fixed-size model is live on Azure"
    settings = replace(Settings.from_env({"IMAGEBOT_SIZE": "2048x2048"}), model=fixed[0])

    with pytest.raises(SettingsError) as caught:
        check_defaults(settings, catalogue(), "azure", TODAY)

    assert caught.value.variable == "IMAGEBOT_SIZE"
    assert fixed[0] in caught.value.problem


def test_start_up_names_a_shut_down_model_and_its_replacement_once(caplog: pytest.LogCaptureFixture) -> None:
    model = shut_down()[0]
    resolved = catalogue().resolve(model, "openai", TODAY)
    caplog.set_level(logging.WARNING)

    check_defaults(Settings.from_env({"IMAGEBOT_MODEL": model}), catalogue(), "openai", TODAY)

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert model in warnings[0] and resolved.used in warnings[0]
    assert catalogue().status(model, "openai").shutdown.isoformat() in warnings[0]  # type: ignore[union-attr]


def test_start_up_warns_about_a_model_the_catalogue_does_not_know_and_checks_nothing_else(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)

    check_defaults(Settings.from_env({"IMAGEBOT_MODEL": "house-model", "IMAGEBOT_QUALITY": "ultra"}), catalogue(),
                   "openai", TODAY)

    assert any("house-model" in r.getMessage() and "IMAGEBOT_MODELS" in r.getMessage() for r in caplog.records)
