"""`imagebot doctor [--http]` itself: the settings first, then the Slack and image API checks side by side, then
storage; every check's words redacted of the secrets; the checklist printed; 0 or 1."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

import httpx

from bot.logs import Redactor
from bot.settings import Settings
from imagebot.doctor import bounds
from imagebot.doctor.checklist import Check, exit_status, render
from imagebot.doctor.data_dir import LOW_FREE_BYTES, MIN_FREE_BYTES, storage_checks
from imagebot.doctor.image_api import image_api_checks
from imagebot.doctor.settings import load_settings
from imagebot.doctor.slack import slack_checks


def main(environ: Mapping[str, str], *, dotenv: Path | None, http: bool = False, out: TextIO | None = None) -> int:
    """`imagebot doctor [--http]`: read the settings, run every check, print the checklist; 0 or 1."""
    out = out or sys.stdout
    settings, checks = load_settings(environ, dotenv)
    heading = "imagebot doctor"
    if settings is not None:
        socket_mode = bool(settings.slack_app_token) and not http
        slack = ("Slack not configured" if not settings.has_slack_credentials
                 else f"Slack over {'Socket Mode' if socket_mode else 'HTTP'}")
        images = ("the offline renderer" if settings.provider == "offline"
                  else f"{settings.provider} ({settings.model})")
        heading += f": {slack}, images from {images}, data in {settings.data_dir.resolve()}"
        redactor = Redactor(settings.secrets)
        checks += [Check(c.title, c.status, redactor(c.detail), redactor(c.fix))
                   for c in asyncio.run(run_checks(settings, socket_mode=socket_mode))]
    out.write(render(checks, heading=heading))
    out.flush()
    return exit_status(checks)


async def run_checks(settings: Settings, *, socket_mode: bool, http: httpx.AsyncClient | None = None,
                     min_free_bytes: int = MIN_FREE_BYTES, low_free_bytes: int = LOW_FREE_BYTES) -> list[Check]:
    """The Slack and image API checks (side by side, so a hanging host costs one timeout), then storage."""
    async with contextlib.AsyncExitStack() as stack:
        if http is None:
            # trust_env=False, as for the app's own client: proxies from the environment are not its settings.
            http = await stack.enter_async_context(httpx.AsyncClient(timeout=bounds.CALL_TIMEOUT, trust_env=False))
        slack, images = await asyncio.gather(slack_checks(settings, socket_mode=socket_mode),
                                             image_api_checks(settings, http))
    storage = await asyncio.to_thread(storage_checks, settings.data_dir, min_free_bytes, low_free_bytes)
    return [*slack, *images, *storage]
