"""`imagebot doctor`: each check against the Slack and image API stand-ins on loopback, and the checklist it prints.

The doctor runs as the CLI runs it (`bot.doctor.main` with an environment), on its own event loop in a worker
thread, while the stand-ins answer on the test's loop.
"""

from __future__ import annotations

import asyncio
import io
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from slack_sdk.oauth.installation_store import Installation

from bot import doctor
from bot.doctor import FAIL, INFO, OK, WARN, Check
from bot.manifest import BOT_SCOPES
from standins.images_api import ImageAPIStandIn
from standins.slack import SlackStandIn
from standins.workspace import LocalWorkspace
from storage.db import open_db
from storage.installations import save_installation

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[1]


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
    for title in ("Settings", "Prices", "Socket Mode", "Slack bot token", "Slack scopes", "Report channel", "Admins",
                  "OpenAI key and model", "Data dir", "Free disk"):
        assert line(output, title).startswith("[ok]"), title
    assert "@imagebot in workspace standin (T0STANDIN)" in line(output, "Slack bot token")
    assert "also granted, not needed: mpim:history" in line(output, "Slack scopes")
    assert line(output, "Organisation verification").startswith("[--]")  # no image made yet: not known
    assert "No failures" in output
    # What it asked, and of whom: read-only calls, one each.
    assert [c.method for c in slack.calls] == ["apps.connections.open", "auth.test", "conversations.history",
                                               "users.info"]
    assert slack.calls_to("apps.connections.open")[0].token == slack.app_token
    assert [(r.operation, r.path, r.status) for r in image_api.requests] == [("models", "/v1/models/gpt-image-1", 200)]
    assert image_api.requests[0].headers["authorization"] == f"Bearer {image_api.api_key}"
    assert not (tmp_path / "data").exists()  # nothing created


async def test_a_bad_setting_is_a_failed_check_naming_the_variable(tmp_path: Path) -> None:
    status, output = await run({"IMAGEBOT_QUALITY": "ultra"})
    assert status == 1
    assert line(output, "Settings").startswith("[FAIL] Settings: IMAGEBOT_QUALITY: must be one of")
    assert "it is set in the environment" in output and "Traceback" not in output
    dotenv = tmp_path / ".env"
    dotenv.write_text("IMAGEBOT_REPORT_CHANNEL=general\n", encoding="utf-8")
    status, output = await run({}, dotenv=dotenv)
    assert status == 1 and f"IMAGEBOT_REPORT_CHANNEL correctly (it is set in {dotenv})" in line(output, "Settings")


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
        {"IMAGEBOT_MODEL": "gpt-image-9"}, 1,
        {"OpenAI key and model": ("[FAIL]", "gpt-image-9 (IMAGEBOT_MODEL) is not available"), "Prices": ("[warn]",)}),
    "the offline renderer is a warning": (
        {"OPENAI_API_KEY": "", "OPENAI_BASE_URL": ""}, 0,
        {"Image API": ("[warn]", "no image API is configured")}),
    "a look-alike variable is flagged with a suggestion": (
        {"IMAGEBOT_QUALTY": "high"}, 0,
        {"Unknown settings": ("[warn]", "IMAGEBOT_QUALTY (did you mean IMAGEBOT_QUALITY?)")}),
    "an unpriced model with budgets fails": (
        {"IMAGEBOT_MODEL": "gpt-image-9", "IMAGEBOT_USER_MONTHLY_BUDGET_USD": "20"}, 1,
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
    azure = {"OPENAI_API_KEY": "", "OPENAI_BASE_URL": "", "AZURE_OPENAI_ENDPOINT": image_api.azure_endpoint,
             "AZURE_OPENAI_API_KEY": image_api.azure_api_key, "AZURE_OPENAI_DEPLOYMENT": "gpt-image-1"}
    status, output = await run(env_for(slack, image_api, tmp_path, **azure))
    assert status == 0, output
    assert line(output, "Azure OpenAI key and deployment").startswith("[ok]")
    assert line(output, "Organisation verification").startswith("[--]")
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
    done = subprocess.run([sys.executable, "-m", "bot", "doctor"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert "[FAIL] Settings: IMAGEBOT_LOG_LEVEL" in done.stdout and not done.stderr
