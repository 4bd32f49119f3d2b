"""How the doctor's tests run it: as the CLI runs it (`imagebot.doctor.program.main` with an environment), on its
own event loop in a worker thread, while the stand-ins answer on the test's loop; and how they read its checklist.
Models are picked from the catalogue (tests/catalogue_helpers.py), never named.
"""

from __future__ import annotations

import asyncio
import io
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.settings import Settings
from imagebot.doctor import program
from standins.images_api import ImageAPIStandIn
from standins.slack import SlackStandIn
from tests.catalogue_helpers import TODAY, catalogue, default_model

DEFAULT = default_model()


def doctors_today() -> date:
    """The day `program.main` judges statuses on: today on the settings' clock (UTC by default)."""
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
    status = await asyncio.to_thread(program.main, env, dotenv=dotenv, http=http, out=out)
    return status, out.getvalue()


def line(output: str, title: str) -> str:
    """The entry for one check (its status tag, detail and fix), joined into one line."""
    entries = output.split("\n[")
    found = [e for e in entries if e.split("]", 1)[-1].strip().startswith(title + ":")]
    assert len(found) == 1, f"no single {title!r} entry in:\n{output}"
    return "[" + " ".join(found[0].split())
