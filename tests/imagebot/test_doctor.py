"""`imagebot doctor`: each check against the Slack and image API stand-ins on loopback, and the checklist it prints.

The doctor runs as the CLI runs it (`imagebot.doctor.main` with an environment), on its own event loop in a worker
thread, while the stand-ins answer on the test's loop. The Model check is also run on its own, on a fixed day, for
each state the catalogue can give a model; "Models the key lists" also against answers written here
(httpx.MockTransport). Models are picked from the catalogue (tests/catalogue_helpers.py), never named.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
import json
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from aiohttp import web
from slack_sdk.oauth.installation_store import Installation

from bot.settings import Settings
from handlers.manifest import BOT_SCOPES
from imagebot import doctor
from imagebot.doctor import FAIL, INFO, OK, WARN, Check
from standins.images_api import ImageAPIStandIn
from standins.slack import SlackStandIn
from standins.workspace import LocalWorkspace
from storage.db import open_db
from storage.installations import save_installation
from tests.catalogue_helpers import TODAY, catalogue, default_model, live, shut_down

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[2]
DEFAULT = default_model()


def doctors_today() -> date:
    """The day `doctor.main` judges statuses on: today on the settings' clock (UTC by default)."""
    return datetime.now(ZoneInfo(Settings().timezone)).date()


def in_state(state: str, provider: str, today: date = TODAY) -> list[str]:
    """Aliases whose status on `provider` is `state` on `today`."""
    cat = catalogue()
    return [m for m in cat.ids if not cat.get(m).snapshot_of  # type: ignore[union-attr]
            and cat.status(m, provider).on(today) == state]


def env_for(slack: SlackStandIn, image_api: ImageAPIStandIn, tmp_path: Path, **extra: str) -> dict[str, str]:
    """A healthy Socket Mode set-up with OpenAI, pointed at the stand-ins."""
    env = {"SLACK_BOT_TOKEN": slack.bot_token, "SLACK_APP_TOKEN": slack.app_token, "SLACK_API_URL": slack.api_url,
           "OPENAI_API_KEY": image_api.api_key, "OPENAI_BASE_URL": image_api.openai_base_url,
           "IMAGEBOT_DATA_DIR": str(tmp_path / "data")}
    env.update(extra)
    return {k: v for k, v in env.items() if v}


async def run(env: dict[str, str], *, http: bool = False, dotenv: Path | None = None) -> tuple[int, str]:
    out = io.StringIO()
    status = await asyncio.to_thread(doctor.main, env, dotenv=dotenv, http=http, out=out)
    return status, out.getvalue()


def line(output: str, title: str) -> str:
    """The entry for one check (its status tag, detail and fix), joined into one line."""
    entries = output.split("\n[")
    found = [e for e in entries if e.split("]", 1)[-1].strip().startswith(title + ":")]
    assert len(found) == 1, f"no single {title!r} entry in:\n{output}"
    return "[" + " ".join(found[0].split())


async def test_a_healthy_setup_passes_every_check(slack: SlackStandIn, image_api: ImageAPIStandIn,
                                                  tmp_path: Path) -> None:
    status, output = await run(env_for(slack, image_api, tmp_path, IMAGEBOT_REPORT_CHANNEL="C0GENERAL",
                                       IMAGEBOT_ADMINS="U0ADMIN"))
    assert status == 0, output
    for title in ("Settings", "Model", "Prices", "Socket Mode", "Slack bot token", "Slack scopes", "Report channel",
                  "Admins", "OpenAI key and model", "Models the key lists", "Data dir", "Free disk"):
        assert line(output, title).startswith("[ok]"), title
    assert f"{DEFAULT} (the default model) is live on OpenAI" in line(output, "Model")
    assert f"images from openai ({DEFAULT})" in output  # the heading names the model requests will use
    assert DEFAULT in line(output, "Models the key lists")
    assert "@imagebot in workspace standin (T0STANDIN)" in line(output, "Slack bot token")
    assert "also granted, not needed: mpim:history" in line(output, "Slack scopes")
    assert line(output, "Organisation verification").startswith("[--]")  # no image made yet: not known
    assert "No failures" in output
    # What it asked, and of whom: read-only calls, one each.
    assert [c.method for c in slack.calls] == ["apps.connections.open", "auth.test", "conversations.history",
                                               "users.info"]
    assert slack.calls_to("apps.connections.open")[0].token == slack.app_token
    assert (image_api.requests[0].path, image_api.requests[0].status) == (f"/v1/models/{DEFAULT}", 200)
    assert all(r.path.startswith("/v1/models") for r in image_api.requests)  # nothing made, only models read
    assert all(r.headers["authorization"] == f"Bearer {image_api.api_key}" for r in image_api.requests)
    assert not (tmp_path / "data").exists()  # nothing created


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


async def test_missing_scopes_fail_with_what_each_is_for(slack: SlackStandIn, image_api: ImageAPIStandIn,
                                                        tmp_path: Path) -> None:
    slack.bot_scopes = ",".join(s for s in BOT_SCOPES if s not in ("reactions:write", "users:read"))
    status, output = await run(env_for(slack, image_api, tmp_path))
    assert status == 1
    scopes = line(output, "Slack scopes")
    assert scopes.startswith("[FAIL]") and "reactions:write (the \"working on it\" reaction" in scopes
    assert "users:read (" in scopes and "reinstall the app" in scopes


async def test_a_refused_bot_token_fails_with_the_fix(slack: SlackStandIn, image_api: ImageAPIStandIn,
                                                     tmp_path: Path) -> None:
    status, output = await run(env_for(slack, image_api, tmp_path, SLACK_BOT_TOKEN="xoxb-not-the-token"))
    assert status == 1
    token = line(output, "Slack bot token")
    assert token.startswith("[FAIL]") and "invalid_auth" in token and "Bot User OAuth Token" in token
    assert "Slack scopes:" not in output  # nothing to compare
    assert "xoxb-not-the-token" not in output


async def test_report_channel_membership(slack: SlackStandIn, image_api: ImageAPIStandIn, tmp_path: Path) -> None:
    slack.add_channel("C0REPORTS", "reports", members=["U0ADMIN"])
    status, output = await run(env_for(slack, image_api, tmp_path, IMAGEBOT_REPORT_CHANNEL="C0REPORTS"))
    assert status == 1
    report = line(output, "Report channel")
    assert report.startswith("[FAIL]") and "not a member of C0REPORTS" in report and "/invite @imagebot" in report
    status, output = await run(env_for(slack, image_api, tmp_path, IMAGEBOT_REPORT_CHANNEL="C0NOWHERE"))
    assert status == 1 and "cannot see a channel C0NOWHERE" in line(output, "Report channel")
    slack.channels["C0REPORTS"]["members"].append(slack.bot_user_id)  # /invite @imagebot
    status, output = await run(env_for(slack, image_api, tmp_path, IMAGEBOT_REPORT_CHANNEL="C0REPORTS"))
    assert status == 0 and line(output, "Report channel").startswith("[ok]")


# One setting, one verdict: (what is set, exit status, {check title: (status tag, words its entry must hold)}).
VERDICTS = {
    "unknown admins are a warning only": (
        {"IMAGEBOT_ADMINS": "U0ADMIN,U0NOBODY"}, 0,
        {"Admins": ("[warn]", "U0NOBODY is not a user of this workspace")}),
    "a revoked app token fails Socket Mode": (
        {"SLACK_APP_TOKEN": "xapp-1-revoked"}, 1,
        {"Socket Mode": ("[FAIL]", "SLACK_APP_TOKEN", "connections:write")}),
    "a model the key cannot use fails, and it has no price": (
        {"IMAGEBOT_MODEL": "house-model"}, 1,
        {"OpenAI key and model": ("[FAIL]", "house-model (IMAGEBOT_MODEL) is not available"), "Prices": ("[warn]",),
         "Model": ("[warn]", "house-model (IMAGEBOT_MODEL) is not in the built-in catalogue", "IMAGEBOT_MODELS")}),
    "another live model is fine": (
        {"IMAGEBOT_MODEL": next(m for m in live() if m != DEFAULT)}, 0,
        {"Model": ("[ok]", "(IMAGEBOT_MODEL) is live on OpenAI"), "OpenAI key and model": ("[ok]",),
         "Models the key lists": ("[ok]",)}),
    "the offline renderer is a warning": (
        {"OPENAI_API_KEY": "", "OPENAI_BASE_URL": ""}, 0,
        {"Image API": ("[warn]", "no image API is configured")}),
    "a look-alike variable is flagged with a suggestion": (
        {"IMAGEBOT_QUALTY": "high"}, 0,
        {"Unknown settings": ("[warn]", "IMAGEBOT_QUALTY (did you mean IMAGEBOT_QUALITY?)")}),
    "an unpriced model with budgets fails": (
        {"IMAGEBOT_MODEL": "house-model", "IMAGEBOT_USER_MONTHLY_BUDGET_USD": "20"}, 1,
        {"Prices": ("[FAIL]", "every request for it would be refused")}),
}


@pytest.mark.parametrize("case", VERDICTS)
async def test_one_setting_one_verdict(slack: SlackStandIn, image_api: ImageAPIStandIn, tmp_path: Path,
                                       case: str) -> None:
    overrides, expected_status, entries = VERDICTS[case]
    status, output = await run(env_for(slack, image_api, tmp_path, **overrides))
    assert status == expected_status, output
    for title, (tag, *words) in entries.items():
        entry = line(output, title)
        assert entry.startswith(f"{tag} {title}:") and all(w in entry for w in words), entry
    if "OPENAI_API_KEY" in overrides:
        assert not image_api.requests  # no image API configured: nothing asked


async def test_http_mode_needs_the_signing_secret(slack: SlackStandIn, image_api: ImageAPIStandIn,
                                                  tmp_path: Path) -> None:
    status, output = await run(env_for(slack, image_api, tmp_path, SLACK_APP_TOKEN=""))
    assert status == 1 and "Slack over HTTP" in output
    assert line(output, "HTTP mode").startswith("[FAIL] HTTP mode: SLACK_SIGNING_SECRET is not set")
    # --http checks HTTP mode even with an app token, as `serve --http` serves it.
    status, output = await run(env_for(slack, image_api, tmp_path, SLACK_SIGNING_SECRET="0123456789abcdef" * 2),
                               http=True)
    assert status == 0 and line(output, "HTTP mode").startswith("[ok]")
    assert not slack.calls_to("apps.connections.open")


async def test_no_slack_credentials_fail_with_how_to_create_the_app(image_api: ImageAPIStandIn,
                                                                    tmp_path: Path) -> None:
    status, output = await run({"OPENAI_API_KEY": image_api.api_key, "OPENAI_BASE_URL": image_api.openai_base_url,
                                "IMAGEBOT_DATA_DIR": str(tmp_path)})
    assert status == 1
    assert "imagebot manifest" in line(output, "Slack credentials")


async def test_multi_workspace_counts_installs(slack: SlackStandIn, image_api: ImageAPIStandIn,
                                               tmp_path: Path) -> None:
    env = env_for(slack, image_api, tmp_path, SLACK_BOT_TOKEN="", SLACK_APP_TOKEN="",
                  SLACK_SIGNING_SECRET="0123456789abcdef" * 2, SLACK_CLIENT_ID=slack.client_id,
                  SLACK_CLIENT_SECRET=slack.client_secret, IMAGEBOT_REPORT_CHANNEL="C0GENERAL")
    status, output = await run(env)
    assert status == 0, output
    assert line(output, "Multi-workspace installs").startswith("[ok]")
    assert line(output, "Installed workspaces").startswith("[warn] Installed workspaces: no workspace")
    assert line(output, "Report channel and admins").startswith("[--]")
    assert not slack.calls  # no bot token and no workspace installed: nothing to ask Slack
    db = open_db(tmp_path / "data" / "imagebot.db")
    for team in ("T0ONE", "T0TWO"):
        save_installation(db, Installation(app_id="A0IMAGEBOT", team_id=team, user_id="U0ADMIN",
                                           bot_token=f"xoxb-{team}", bot_id="B0IMAGEBOT", bot_user_id="U0IMAGEBOT",
                                           bot_scopes=list(BOT_SCOPES)))
        slack.add_workspace(team, team.lower())
        slack.tokens[f"xoxb-{team}"] = team
    db.close()
    status, output = await run(env)
    assert status == 0 and line(output, "Installed workspaces") == "[ok] Installed workspaces: 2 workspaces"
    assert line(output, "Workspace tokens").startswith("[ok]")
    assert sorted(c.token for c in slack.calls_to("auth.test")) == ["xoxb-T0ONE", "xoxb-T0TWO"]  # each its own

    del slack.tokens["xoxb-T0TWO"]  # revoked, and the tokens_revoked event never arrived
    status, output = await run(env)
    tokens = line(output, "Workspace tokens")
    assert status == 0 and tokens.startswith("[warn]") and "T0TWO: Slack refused its token (invalid_auth)" in tokens
    assert "T0ONE" not in tokens and "xoxb-T0TWO" not in output


async def test_a_damaged_database_fails_instead_of_looking_empty(slack: SlackStandIn, image_api: ImageAPIStandIn,
                                                                 tmp_path: Path) -> None:
    env = env_for(slack, image_api, tmp_path, SLACK_BOT_TOKEN="", SLACK_APP_TOKEN="",
                  SLACK_SIGNING_SECRET="0123456789abcdef" * 2, SLACK_CLIENT_ID=slack.client_id,
                  SLACK_CLIENT_SECRET=slack.client_secret)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "imagebot.db").write_bytes(b"not a database at all, " * 100)
    status, output = await run(env)
    assert status == 1
    assert line(output, "Database").startswith("[FAIL] Database: ") and "imagebot restore" in output
    assert "no workspace has installed" not in output


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


async def test_every_call_is_bounded_by_its_clients_own_timeout(
        slack: SlackStandIn, image_api: ImageAPIStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Slack and the image API both take the call and never answer. Each must be cut by its client's own timeout
    # ("within 0.5 s"), not by asyncio's backstop, which would say "the client's own timeout did not fire".
    monkeypatch.setattr(doctor, "CALL_TIMEOUT", 0.5)
    image_api.hang(operation="models")
    slack.hang_next("apps.connections.open")
    status, output = await run(env_for(slack, image_api, tmp_path))
    assert status == 1
    assert "no answer within 0.5 s" in line(output, "OpenAI key and model")
    assert "could not reach Slack" in line(output, "Socket Mode") and "no answer within 0.5 s" in output
    assert "did not fire" not in output


async def test_a_slack_that_cannot_be_reached_fails_quickly(slack: SlackStandIn, image_api: ImageAPIStandIn,
                                                            tmp_path: Path) -> None:
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{closed.getsockname()[1]}/api/"
        status, output = await run(env_for(slack, image_api, tmp_path, SLACK_API_URL=nowhere))
    assert status == 1 and "could not reach Slack" in line(output, "Socket Mode")


@contextlib.asynccontextmanager
async def web_page(status: int) -> AsyncIterator[str]:
    """A loopback web server that answers every path with an HTML page and `status`: a SLACK_API_URL mistyped
    to a company's web site, or a proxy's error page. Its base URL."""

    async def page(request: web.Request) -> web.Response:
        return web.Response(status=status, text="<html><body>Not here</body></html>", content_type="text/html")

    application = web.Application()
    application.router.add_route("*", "/{path:.*}", page)
    runner = web.AppRunner(application)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/api/"
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("status", [404, 200])
async def test_a_slack_api_url_that_is_not_slack_is_named_instead_of_the_token(
        slack: SlackStandIn, image_api: ImageAPIStandIn, tmp_path: Path, status: int) -> None:
    async with web_page(status) as url:
        for app_token in (slack.app_token, ""):  # Socket Mode: apps.connections.open first; HTTP mode: auth.test
            code, output = await run(env_for(slack, image_api, tmp_path, SLACK_API_URL=url, SLACK_APP_TOKEN=app_token,
                                             SLACK_SIGNING_SECRET="0123456789abcdef" * 2))
            assert code == 1
            token = line(output, "Slack bot token")
            assert token.startswith(f"[FAIL] Slack bot token: SLACK_API_URL ({url}) is not Slack's Web API: it "
                                    f"answered HTTP {status} with text/html"), token
            assert "Unset SLACK_API_URL" in token
            assert "Slack refused" not in output and "Bot User OAuth Token" not in output  # the token is not blamed
            if app_token:
                assert line(output, "Socket Mode").startswith(f"[FAIL] Socket Mode: SLACK_API_URL ({url}) is not")


def test_an_answer_from_the_default_url_that_is_not_slack_points_at_a_proxy() -> None:
    problem = f"{doctor._NOT_SLACK}HTTP 502 with text/html"
    said = doctor._unreachable(Settings(), problem)
    assert said.startswith("https://slack.com/api/ answered HTTP 502 with text/html") and "proxy" in said
    assert doctor._unreachable(Settings(), "ClientConnectorError").startswith("could not reach Slack at")


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


def test_data_dir_and_free_disk(tmp_path: Path) -> None:
    assert [c.status for c in doctor.storage_checks(tmp_path)] == [OK, OK]
    assert not list(tmp_path.iterdir())  # the probe file is gone
    (tmp_path / "file").write_text("not a folder", encoding="utf-8")
    data_dir, _ = doctor.storage_checks(tmp_path / "file")
    assert data_dir.status == FAIL and "is not a folder" in data_dir.detail and "IMAGEBOT_DATA_DIR" in data_dir.fix
    _, disk = doctor.storage_checks(tmp_path, min_free_bytes=2**62, low_free_bytes=2**63)
    assert disk.status == FAIL and "IMAGEBOT_RETENTION_DAYS" in disk.fix
    _, disk = doctor.storage_checks(tmp_path, min_free_bytes=0, low_free_bytes=2**63)
    assert disk.status == WARN


def test_warnings_do_not_fail_and_the_checklist_says_so() -> None:
    checks = [Check("A", OK, "fine"), Check("B", WARN, "hmm", "do this"), Check("C", INFO, "not checked")]
    assert doctor.exit_status(checks) == 0
    assert doctor.exit_status([*checks, Check("D", FAIL, "broken", "fix it")]) == 1
    text = doctor.render([*checks, Check("D", FAIL, "broken", "fix it")], heading="imagebot doctor")
    assert "[warn] B: hmm\n       fix: do this" in text and "[FAIL] D: broken" in text
    assert text.rstrip().endswith("Fix the failures above, then run `imagebot doctor` again.")


def test_the_command_line_reports_a_bad_setting_as_a_checklist(tmp_path: Path) -> None:
    env = {"PATH": "", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT), "IMAGEBOT_LOG_LEVEL": "chatty"}
    done = subprocess.run([sys.executable, "-m", "imagebot", "doctor"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert "[FAIL] Settings: IMAGEBOT_LOG_LEVEL" in done.stdout and not done.stderr


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
    check = doctor.model_check(settings_for_check(None), catalogue(), TODAY)
    assert (check.status, check.fix) == (OK, "")
    assert check.detail.startswith(f"{DEFAULT} (the default model) is live on OpenAI per the built-in catalogue")
    assert catalogue().default_why and catalogue().default_why in check.detail


def test_model_check_live_named_model() -> None:
    model = next(m for m in live() if m != DEFAULT)
    check = doctor.model_check(settings_for_check(model), catalogue(), TODAY)
    assert check.status == OK and check.detail.startswith(f"{model} (IMAGEBOT_MODEL) is live on OpenAI")
    assert catalogue().default_why not in check.detail  # the why is the default's


@pytest.mark.parametrize("provider", ["openai", "azure"])
def test_model_check_deprecated_warns_with_the_date_and_the_replacement(provider: str) -> None:
    # A day on which the catalogue has a model deprecated but not yet shut down on this provider.
    day, model = next((day, found[0]) for day in (TODAY, date(2026, 11, 1), date(2026, 6, 1))
                      if (found := in_state("deprecated", provider, day)))
    status = catalogue().status(model, provider)
    check = doctor.model_check(settings_for_check(model, provider), catalogue(), day)
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
    assert doctor.model_check(settings, catalogue(), date.fromordinal(status.shutdown.toordinal() - 1)).status == WARN
    on_the_day = doctor.model_check(settings, catalogue(), status.shutdown)
    assert on_the_day.status == FAIL and f"was shut down on OpenAI on {status.shutdown}" in on_the_day.detail
    assert on_the_day.fix == f"Set IMAGEBOT_MODEL={catalogue().resolve(model, 'openai', status.shutdown).used}."


def test_model_check_shut_down_fails_with_the_fix() -> None:
    gone = shut_down()[0]
    replacement = catalogue().resolve(gone, "openai", TODAY).used
    check = doctor.model_check(settings_for_check(gone), catalogue(), TODAY)
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
    check = doctor.model_check(settings_for_check(gone, models_path=override), custom, TODAY)
    assert check.status == FAIL and "requests use nothing instead" in check.detail
    assert check.fix == f"Set IMAGEBOT_MODEL to one of {', '.join(custom.live('openai', TODAY))}."


def test_model_check_not_in_the_catalogue_warns() -> None:
    check = doctor.model_check(settings_for_check("house-model"), catalogue(), TODAY)
    assert check.status == WARN
    assert check.detail.startswith("house-model (IMAGEBOT_MODEL) is not in the built-in catalogue")
    assert "IMAGEBOT_MODELS" in check.fix and all(m in check.fix for m in catalogue().live("openai", TODAY))


def test_model_check_names_an_imagebot_models_file(tmp_path: Path) -> None:
    override = tmp_path / "models.json"
    family = catalogue().get(DEFAULT).family  # type: ignore[union-attr]
    override.write_text(json.dumps({"models": {"house-model": {"family": family, "status": {
        "openai": {"state": "live"}}}}}), encoding="utf-8")
    from bot.money.catalogue import Catalogue

    check = doctor.model_check(settings_for_check("house-model", models_path=override), Catalogue.load(override),
                               TODAY)
    assert check.status == OK
    assert check.detail == f"house-model (IMAGEBOT_MODEL) is live on OpenAI per the catalogue ({override} over the " \
                           "built-in one)"


def test_model_check_unconfirmed_on_azure_warns() -> None:
    model = in_state("unconfirmed", "azure")[0]
    check = doctor.model_check(settings_for_check(model, "azure"), catalogue(), TODAY)
    assert check.status == WARN
    assert check.detail == f"{model} (IMAGEBOT_MODEL) is not confirmed on Azure OpenAI in the built-in catalogue"
    assert "deployment serves it" in check.fix


def test_model_check_a_model_with_no_status_on_the_provider_warns() -> None:
    # The catalogue lists no Azure status for some OpenAI-only models: unknown there, not assumed live.
    model = next(m for m in catalogue().ids if "azure" not in catalogue().get(m).statuses)  # type: ignore[union-attr]
    check = doctor.model_check(settings_for_check(model, "azure"), catalogue(), TODAY)
    assert check.status == WARN and "is not confirmed on Azure OpenAI" in check.detail


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
        checks = await doctor.image_api_checks(openai_settings(tmp_path, model), http)
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
        key, listed, _ = await doctor.image_api_checks(openai_settings(tmp_path), http)
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
