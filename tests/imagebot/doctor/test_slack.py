"""The Slack section against the Slack stand-in on loopback: scopes, the bot token, the report channel, the
connection mode, and multi-workspace installs.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from slack_sdk.oauth.installation_store import Installation

from handlers.manifest import BOT_SCOPES
from standins.images_api import ImageAPIStandIn
from standins.slack import SlackStandIn
from storage.db import open_db
from storage.installations import save_installation
from tests.imagebot.doctor.helpers import env_for, line, run

pytestmark = pytest.mark.anyio


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
