"""Multi-workspace distribution end to end: Slack's OAuth v2 install through /slack/install and
/slack/oauth_redirect (the browser's part played by an aiohttp session with cookies), tokens stored per
workspace, one workspace never seeing another's data, token rotation, uninstall and revocation. Everything
runs against the Slack stand-in's authorize page and oauth.v2.access; nothing of imagebot's is faked."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import AsyncIterator
from html import unescape
from pathlib import Path

import aiohttp
import pytest

from bot.settings import Settings
from standins.images_api import ImageAPIStandIn
from standins.slack import SlackStandIn
from standins.workspace import LocalWorkspace, settings_for
from storage import installations
from tests.slack_views import cards, image_replies

pytestmark = pytest.mark.anyio
ALPHA, BETA = "T0STANDIN", "T0BETA"  # the stand-in's own workspace, and a second one
ALICE, BOB = "U0ALICE", "U0BOB"
GENERAL, BETA_CHANNEL = "C0GENERAL", "C0BETAGEN"
WAIT = 20.0


@pytest.fixture
async def app(slack: SlackStandIn, image_api: ImageAPIStandIn, tmp_path: Path) -> AsyncIterator[LocalWorkspace]:
    settings = dataclasses.replace(
        settings_for(slack, tmp_path / "data", Settings(provider="openai", openai_api_key=image_api.api_key,
                                                        openai_base_url=image_api.openai_base_url)),
        slack_bot_token=None, slack_client_id=slack.client_id, slack_client_secret=slack.client_secret)
    assert settings.oauth_enabled and settings.has_slack_credentials
    slack.add_workspace(BETA, "beta")
    slack.add_channel(BETA_CHANNEL, "beta-general")
    async with LocalWorkspace(settings, slack) as workspace:
        base = slack.app_request_url.rsplit("/slack/events", 1)[0]  # type: ignore[union-attr]
        slack.oauth_redirect_url = f"{base}/slack/oauth_redirect"
        yield workspace


async def install(slack: SlackStandIn, workspace: LocalWorkspace, team: str, **options: object) -> str:
    """Click "Add to Slack" on /slack/install and approve: returns the page the redirect ends on."""
    base = slack.oauth_redirect_url.rsplit("/slack/oauth_redirect", 1)[0]  # type: ignore[union-attr]
    slack.approve_install(team, **options)  # type: ignore[arg-type]
    async with aiohttp.ClientSession() as browser:
        async with browser.get(f"{base}/slack/install") as page:
            assert page.status == 200
            html = await page.text()
            # Bolt's state cookie is Secure (installs are served over https), so a cookie jar would not send it
            # back over this loopback http: the test carries it, as the browser would over https.
            cookie = "; ".join(f"{name}={morsel.value}" for name, morsel in page.cookies.items())
        assert "slack-app-oauth-state" in cookie
        link = unescape(re.search(r'href="([^"]*oauth/v2/authorize[^"]*)"', html).group(1))  # type: ignore[union-attr]
        assert link.startswith(slack.base_url) and "state=" in link
        async with browser.get(link, allow_redirects=False) as allow:  # the stand-in's Allow page
            assert allow.status == 302
            callback = allow.headers["Location"]
        assert callback.startswith(f"{base}/slack/oauth_redirect?code=")
        async with browser.get(callback, headers={"Cookie": cookie}) as done:
            return f"{done.status} {await done.text()}"


def bots(workspace: LocalWorkspace) -> list[tuple[str, str]]:
    assert workspace.services is not None
    return installations.installed_teams(workspace.services.images.store.db)


async def image(slack: SlackStandIn, workspace: LocalWorkspace, user: str, channel: str, team: str,
                prompt: str) -> dict:
    await slack.send_command(user, channel, prompt, team_id=team)
    await workspace.settle()
    [card] = [c for c in cards(slack, channel) if prompt in str(c.get("blocks"))]
    await slack.wait_for(lambda: image_replies(slack, card["ts"], channel), timeout=WAIT)
    return card


def tokens_used(slack: SlackStandIn, method: str, channel: str) -> set[str | None]:
    return {slack.team_of(c.token) for c in slack.calls
            if c.method == method and channel in (c.params.get("channel"), c.params.get("channel_id"))}


async def test_install_stores_the_workspace_token_and_each_workspace_speaks_with_its_own(
        slack: SlackStandIn, app: LocalWorkspace) -> None:
    page = await install(slack, app, BETA)
    assert page.startswith("200"), page
    assert bots(app) == [("", BETA)]
    requested = set(slack.installs[-1]["scope"].split(","))
    assert {"commands", "chat:write", "files:write", "files:read"} <= requested

    # Not installed (yet) in the stand-in's own workspace: its requests get no job and no reply from the bot.
    delivery = await slack.send_command(ALICE, GENERAL, "a lighthouse", team_id=ALPHA)
    await app.settle()
    assert not cards(slack, GENERAL)
    assert app.services is not None and app.services.images.store.count_jobs("done") == 0
    assert delivery.status in (200, 401)

    await install(slack, app, ALPHA)
    assert sorted(bots(app)) == [("", BETA), ("", ALPHA)]
    await image(slack, app, ALICE, GENERAL, ALPHA, "a lighthouse at dusk")
    await image(slack, app, BOB, BETA_CHANNEL, BETA, "a beta balloon")
    # Every Web API call about a channel used the token of the workspace the channel is in.
    assert tokens_used(slack, "chat.postMessage", GENERAL) == {ALPHA}
    assert tokens_used(slack, "chat.postMessage", BETA_CHANNEL) == {BETA}
    assert tokens_used(slack, "files.completeUploadExternal", BETA_CHANNEL) == {BETA}


async def test_one_workspace_never_sees_another_workspaces_spend_or_threads(
        slack: SlackStandIn, app: LocalWorkspace, image_api: ImageAPIStandIn) -> None:
    await install(slack, app, ALPHA)
    await install(slack, app, BETA)
    card = await image(slack, app, ALICE, GENERAL, ALPHA, "an alpha lighthouse")

    # Bob (in beta) asks for his usage: beta has spent nothing, whatever alpha spent.
    before = len(slack.ephemerals(user_id=BOB))
    await slack.send_command(BOB, BETA_CHANNEL, "usage", team_id=BETA)
    await app.settle()
    [answer] = [e["text"] for e in slack.ephemerals(user_id=BOB)[before:]]
    assert "$0.00 today, $0.00 this month" in answer

    # A reply claiming alpha's thread, arriving from beta, is not an edit of alpha's image.
    calls = len(image_api.requests)
    await slack.deliver_event({"type": "message", "channel": GENERAL, "user": BOB, "text": "make it purple",
                               "ts": "1999999999.000100", "thread_ts": card["ts"], "team": BETA}, team_id=BETA)
    await app.settle()
    assert len(image_api.requests) == calls

    # The same reply from alpha is an edit.
    await slack.post_message(ALICE, GENERAL, "make the sky purple", thread_ts=card["ts"], team_id=ALPHA)
    await app.settle()
    assert len(image_api.requests) == calls + 1 and image_api.requests[-1].path.endswith("/images/edits")


async def test_uninstall_and_revocation_delete_that_workspaces_tokens_only(
        slack: SlackStandIn, app: LocalWorkspace) -> None:
    await install(slack, app, ALPHA)
    await install(slack, app, BETA)
    delivery = await slack.uninstall(BETA)
    assert delivery.status == 200
    await slack.wait_for(lambda: bots(app) == [("", ALPHA)], timeout=WAIT)
    assert app.services is not None
    assert installations.find_installation(app.services.images.store.db, None, BETA) is None

    # Beta's commands now go nowhere (no token, no job); alpha works on.
    await slack.send_command(BOB, BETA_CHANNEL, "a balloon", team_id=BETA)
    await image(slack, app, ALICE, GENERAL, ALPHA, "still here")
    assert not cards(slack, BETA_CHANNEL)

    await slack.revoke_tokens(ALPHA)
    await slack.wait_for(lambda: bots(app) == [], timeout=WAIT)


async def test_a_rotating_token_is_refreshed_before_it_expires_and_saved(
        slack: SlackStandIn, app: LocalWorkspace) -> None:
    # Slack's rotating tokens last 12 h; this one has 30 minutes left, inside the two hours before expiry
    # in which imagebot refreshes it.
    await install(slack, app, BETA, rotation=True, expires_in=1800)
    first = slack.installs[-1]["access_token"]
    assert first.startswith("xoxe.xoxb-")
    await image(slack, app, BOB, BETA_CHANNEL, BETA, "a rotating balloon")
    refreshes = [c for c in slack.calls if c.method == "oauth.v2.access" and c.params.get("grant_type")]
    assert len(refreshes) == 1  # concurrent users of the token shared one refresh
    posted = {c.token for c in slack.calls
              if c.method == "chat.postMessage" and c.params.get("channel") == BETA_CHANNEL}
    assert first not in posted and all(slack.team_of(t) == BETA for t in posted)
    assert app.services is not None
    stored = installations.find_bot(app.services.images.store.db, None, BETA)
    assert stored is not None and stored.bot_token in posted and stored.bot_token_expires_at is not None

    # Once the old token has expired, everything still works with the stored new one.
    slack.expire_tokens(BETA)
    slack.token_expiry[stored.bot_token] = 1e12  # only the first token expires
    await image(slack, app, BOB, BETA_CHANNEL, BETA, "a second balloon")


async def test_install_with_a_bad_state_is_refused(slack: SlackStandIn, app: LocalWorkspace) -> None:
    code = slack.authorization_code(BETA)
    base = slack.oauth_redirect_url
    async with aiohttp.ClientSession() as browser, browser.get(
            f"{base}?code={code}&state=forged") as response:
        assert response.status >= 400
    assert bots(app) == []
    assert not [c for c in slack.calls if c.method == "oauth.v2.access"]


async def test_scheduled_reports_go_to_each_workspaces_own_channel_with_its_token(
        slack: SlackStandIn, image_api: ImageAPIStandIn, tmp_path: Path) -> None:
    import time

    from slack_sdk.oauth.installation_store import Installation

    from storage.store import Store

    # Two workspaces installed earlier (their installs already in the database), each with its report channel.
    slack.add_workspace(BETA, "beta")
    slack.add_channel(BETA_CHANNEL, "beta-general")
    slack.add_channel("C0BETAREP", "beta-reports")
    store = Store.open(tmp_path / "data")
    for team, channel in ((ALPHA, "C0RANDOM"), (BETA, "C0BETAREP")):
        token = f"xoxb-{team}-earlier"
        slack.tokens[token] = team
        installations.save_installation(store.db, Installation(
            app_id=slack.app_id, team_id=team, user_id="U0ADMIN", bot_token=token, bot_id=slack.bot_id,
            bot_user_id=slack.bot_user_id, bot_scopes="chat:write,files:write", installed_at=time.time()))
        store.set_team_report_channel(team, channel, "U0ADMIN")
    store.close()

    settings = dataclasses.replace(
        settings_for(slack, tmp_path / "data", Settings()), slack_bot_token=None, slack_client_id=slack.client_id,
        slack_client_secret=slack.client_secret, report_schedule="daily 09:00")
    async with LocalWorkspace(settings, slack) as workspace:
        assert workspace.services is not None and workspace.services.scheduler is not None
        await asyncio.wait_for(workspace.services.scheduler.ticked.wait(), WAIT)  # the catch-up slot
        await workspace.settle()
    for team, channel in ((ALPHA, "C0RANDOM"), (BETA, "C0BETAREP")):
        reports = [m for m in slack.messages(channel) if "imagebot spend" in m.get("text", "")]
        assert len(reports) == 1, channel
        assert tokens_used(slack, "chat.postMessage", channel) <= {team} and tokens_used(
            slack, "files.completeUploadExternal", channel) == {team}, channel
