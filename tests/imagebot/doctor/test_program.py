"""`imagebot doctor` as a whole: a healthy set-up passes every check, one setting gives one verdict, and the
command line prints the checklist.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from standins.images_api import ImageAPIStandIn
from standins.slack import SlackStandIn
from tests.catalogue_helpers import live
from tests.imagebot.doctor.helpers import DEFAULT, env_for, line, run

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[3]


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


def test_the_command_line_reports_a_bad_setting_as_a_checklist(tmp_path: Path) -> None:
    env = {"PATH": "", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT), "IMAGEBOT_LOG_LEVEL": "chatty"}
    done = subprocess.run([sys.executable, "-m", "imagebot", "doctor"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert "[FAIL] Settings: IMAGEBOT_LOG_LEVEL" in done.stdout and not done.stderr
