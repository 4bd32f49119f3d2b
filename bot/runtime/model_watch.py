"""Learned at run time: which image models the key lists, and when the configured one shuts down.

At start-up and once a day, `GET /v1/models` (OpenAI only; Azure and the offline renderer list nothing) records the
image models the key lists and their `shutdown_date`. When the model requests use has a shutdown date (from that
list, or from the catalogue), admins are told once 14 days ahead and once on the day. A failing or empty list never
stops imagebot: the catalogue is the fallback. The list is not proof of access (verification and project model
permissions still refuse calls), so nothing is refused because of it.

Each notice is claimed before it is posted (the `report_runs` table, as scheduled reports are), so restarts never
repeat one; a post that fails gives its claim back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from bot.errors import ImageAPIError
from bot.money.catalogue import Catalogue

log = logging.getLogger(__name__)
AHEAD = timedelta(days=14)
EVERY = 24 * 3600.0  # seconds between looks at the list
NOTICES = "notice"  # the `report_runs` schedule name under which notices are claimed

ListModels = Callable[[], Awaitable[list[tuple[str, str | None]]]]
# Posts a text to the admins (each workspace's report channel); False when nobody could be told.
Notify = Callable[[str], Awaitable[bool]]
Claim = Callable[[str], Awaitable[bool]]  # True the first time a key is claimed, ever
Release = Callable[[str], Awaitable[None]]


def image_models(body: Any, catalogue: Catalogue) -> dict[str, str | None]:
    """{id: shutdown_date or None} for the image models in a `GET /v1/models` answer. Raises ValueError when the
    answer is not a list of models. Image models are the ones the catalogue knows or whose IDs look like one."""
    items = body.get("data") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise ValueError("not a list of models")
    found: dict[str, str | None] = {}
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            continue
        model = item["id"]
        if catalogue.is_image_model(model):
            shutdown = item.get("shutdown_date")
            found[model] = shutdown if isinstance(shutdown, str) and shutdown else None
    return found


@dataclass
class ModelWatch:
    catalogue: Catalogue
    provider: str
    model: Callable[[], str]  # the model requests use (IMAGEBOT_MODEL or its replacement, or the default)
    today: Callable[[], date]
    notify: Notify
    claim: Claim
    release: Release
    list_models: ListModels | None = None  # None: the provider lists nothing (Azure, offline)
    listed: dict[str, str | None] | None = None  # what the last successful look found
    looked: asyncio.Event = field(default_factory=asyncio.Event)  # set after the first look: for tests and probes

    async def look(self) -> None:
        """Fetch the list (if the provider has one); a failure is logged and the catalogue stays the source."""
        if self.list_models is None:
            return
        try:
            answer = await self.list_models()
        except ImageAPIError as error:
            log.warning("GET /models failed (%s); model shutdowns come from the catalogue", error)
            return
        listed = {m: d for m, d in answer if self.catalogue.is_image_model(m, self.provider)}
        if not listed:
            log.warning("GET /models lists no image model; model shutdowns come from the catalogue")
            return
        self.listed = listed
        dated = ", ".join(f"{m} ({d})" for m, d in sorted(listed.items()) if d)
        log.info("the key lists %d image models%s", len(listed), f"; shutdown dates: {dated}" if dated else "")

    def shutdown_of(self, model: str) -> date | None:
        """The model's shutdown date: the provider's own word when it listed one, else the catalogue's."""
        if self.listed and self.listed.get(model):
            try:
                return date.fromisoformat(str(self.listed[model]))
            except ValueError:
                log.warning("GET /models gave %s an unreadable shutdown_date %r", model, self.listed[model])
        status = self.catalogue.status(model, self.provider)
        return status.shutdown if status.state == "deprecated" else None

    def due(self) -> tuple[str, str] | None:
        """(key, text) of the notice due today for the configured model, if any."""
        model, today = self.model(), self.today()
        shutdown = self.shutdown_of(model)
        if shutdown is None or today < shutdown - AHEAD:
            return None
        replacement = self.catalogue.status(model, self.provider).replacement
        instead = f" Its replacement is {replacement}: set IMAGEBOT_MODEL={replacement}." if replacement else \
            " Set IMAGEBOT_MODEL to a live model (`imagebot doctor` lists them)."
        if today < shutdown:
            days = (shutdown - today).days
            return (f"model-shutdown:{model}:{shutdown}:ahead",
                    f":calendar: imagebot's model {model} shuts down on {shutdown} (in {days} day"
                    f"{'s' * (days != 1)}).{instead}")
        after = " From then on requests use the replacement." if replacement else ""
        return (f"model-shutdown:{model}:{shutdown}:day",
                f":warning: imagebot's model {model} shuts down today ({shutdown}).{instead}{after}"
                if today == shutdown else
                f":warning: imagebot's model {model} was shut down on {shutdown}.{instead}{after}")

    async def tell(self) -> str | None:
        """Post the notice due today, once ever; returns its key when it was posted."""
        notice = self.due()
        if notice is None:
            return None
        key, text = notice
        if not await self.claim(key):
            return None
        if not await self.notify(text):  # nobody could be told: give the claim back, the next look tries again
            await self.release(key)
            log.warning("could not tell the admins (%s); will try again at the next look: %s", key, text)
            return None
        log.info("told the admins: %s", key)
        return key

    async def run(self, stop: asyncio.Event) -> None:
        """Look and tell now, then once a day, until `stop` is set. The wait is bounded by EVERY."""
        while not stop.is_set():
            await self.look()
            await self.tell()
            self.looked.set()
            try:
                await asyncio.wait_for(stop.wait(), timeout=EVERY)
            except TimeoutError:
                continue
