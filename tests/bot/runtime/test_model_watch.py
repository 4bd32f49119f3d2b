"""bot/runtime/model_watch.py: which image models `GET /v1/models` lists, and the admins' shutdown notices.

No network: `list_models`, `notify`, `claim` and `release` are small fakes, and "today" is whatever day a test
says. Models come from the catalogue by their status (tests/catalogue_helpers.py), never by name."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest

from bot.errors import ServerError
from bot.money.catalogue import Catalogue
from bot.runtime.model_watch import AHEAD, ModelWatch, image_models
from tests.catalogue_helpers import TODAY, catalogue, catalogue_from, live

pytestmark = pytest.mark.anyio
NOT_IMAGES = ("whisper-1", "text-embedding-3-small", "omni-moderation-latest")  # models of other kinds


def deprecated() -> tuple[str, str, date, str]:
    """(model, provider, shutdown, replacement) of a model the catalogue marks deprecated with a replacement."""
    cat = catalogue()
    for model in cat.ids:
        for provider, status in cat.get(model).statuses.items():  # type: ignore[union-attr]
            if status.state == "deprecated" and status.shutdown and status.replacement:
                return model, provider, status.shutdown, status.replacement
    raise AssertionError("the catalogue has no deprecated model with a replacement")


@dataclass
class Admins:
    """The far side of notify/claim/release: what was posted, what is claimed."""

    answers: list[bool] = field(default_factory=list)  # what notify returns, call by call (then True)
    posted: list[str] = field(default_factory=list)
    claimed: set[str] = field(default_factory=set)
    released: list[str] = field(default_factory=list)

    async def notify(self, text: str) -> bool:
        self.posted.append(text)
        return self.answers.pop(0) if self.answers else True

    async def claim(self, key: str) -> bool:
        if key in self.claimed:
            return False
        self.claimed.add(key)
        return True

    async def release(self, key: str) -> None:
        self.claimed.discard(key)
        self.released.append(key)


@dataclass
class Listing:
    """A fake `GET /v1/models`: an answer, or an error to raise."""

    answer: list[tuple[str, str | None]] = field(default_factory=list)
    error: Exception | None = None
    calls: int = 0

    async def __call__(self) -> list[tuple[str, str | None]]:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return list(self.answer)


class Day:
    def __init__(self, day: date) -> None:
        self.day = day

    def __call__(self) -> date:
        return self.day


def watch(model: str, provider: str, day: Day, admins: Admins, listing: Listing | None = None,
          cat: Catalogue | None = None) -> ModelWatch:
    return ModelWatch(catalogue=cat or catalogue(), provider=provider, model=lambda: model, today=day,
                      notify=admins.notify, claim=admins.claim, release=admins.release, list_models=listing)


# image_models ---------------------------------------------------------------------------------------------


def entry(model: Any, **fields: Any) -> dict[str, Any]:
    return {"id": model, "object": "model", "created": 1_700_000_000, "owned_by": "system", **fields}


def test_image_models_keeps_image_models_and_their_shutdown_dates() -> None:
    cat = catalogue()
    known, dated = live()[:2]
    prefix = cat.provider("openai").image_model_prefixes[0]
    unknown_image = f"{prefix}next-month"
    body = {"object": "list", "data": [
        entry(known), entry(dated, shutdown_date="2027-03-01"), entry(unknown_image, shutdown_date=""),
        *(entry(m) for m in NOT_IMAGES), entry(3), {"object": "model"}, "junk", None,
    ]}

    assert image_models(body, cat) == {known: None, dated: "2027-03-01", unknown_image: None}


def test_image_models_knows_a_model_of_the_catalogue_whatever_its_name() -> None:
    cat = catalogue_from({"models": {"house-image": {"family": catalogue().get(live()[0]).family,  # type: ignore[union-attr]
                                                     "status": {"openai": {"state": "live"}}}}})

    assert image_models({"data": [entry("house-image", shutdown_date=None)]}, cat) == {"house-image": None}
    assert image_models({"data": [entry("house-image")]}, catalogue()) == {}


def test_image_models_of_an_answer_without_image_models_is_empty() -> None:
    assert image_models({"object": "list", "data": [entry(m) for m in NOT_IMAGES]}, catalogue()) == {}
    assert image_models({"data": []}, catalogue()) == {}


@pytest.mark.parametrize("garbage", [None, "models", [entry("x")], {}, {"data": "x"}, {"data": {"id": "x"}},
                                     {"object": "list"}, 42])
def test_image_models_refuses_garbage_with_value_error(garbage: object) -> None:
    with pytest.raises(ValueError):
        image_models(garbage, catalogue())


# notices --------------------------------------------------------------------------------------------------


async def test_no_notice_for_a_model_without_a_shutdown_date() -> None:
    admins = Admins()
    model = live()[0]
    assert catalogue().status(model, "openai").shutdown is None
    w = watch(model, "openai", Day(TODAY), admins)

    assert w.due() is None
    assert await w.tell() is None
    assert admins.posted == [] and admins.claimed == set()


async def test_no_notice_earlier_than_14_days_ahead() -> None:
    model, provider, shutdown, _ = deprecated()
    admins = Admins()
    w = watch(model, provider, Day(shutdown - AHEAD - timedelta(days=1)), admins)

    assert w.due() is None
    assert await w.tell() is None
    assert admins.posted == []


async def test_the_notice_14_days_ahead_is_posted_once() -> None:
    model, provider, shutdown, replacement = deprecated()
    admins = Admins()
    day = Day(shutdown - AHEAD)
    w = watch(model, provider, day, admins)

    key = await w.tell()

    assert key == f"model-shutdown:{model}:{shutdown}:ahead"
    assert len(admins.posted) == 1
    text = admins.posted[0]
    assert model in text and str(shutdown) in text and "in 14 days" in text
    assert f"IMAGEBOT_MODEL={replacement}" in text
    # The next look, and the next day's: claimed once, never posted again.
    assert await w.tell() is None
    day.day += timedelta(days=1)
    assert await w.tell() is None
    assert len(admins.posted) == 1


async def test_a_claim_made_elsewhere_is_honoured() -> None:
    model, provider, shutdown, _ = deprecated()
    admins = Admins(claimed={f"model-shutdown:{model}:{shutdown}:ahead"})  # another process told them already
    w = watch(model, provider, Day(shutdown - timedelta(days=3)), admins)

    assert await w.tell() is None
    assert admins.posted == []


async def test_a_notice_nobody_could_read_gives_its_claim_back_and_is_tried_at_the_next_look() -> None:
    model, provider, shutdown, _ = deprecated()
    admins = Admins(answers=[False])
    w = watch(model, provider, Day(shutdown - timedelta(days=5)), admins)

    assert await w.tell() is None
    key = f"model-shutdown:{model}:{shutdown}:ahead"
    assert admins.released == [key]
    assert key not in admins.claimed

    assert await w.tell() == key
    assert len(admins.posted) == 2 and admins.posted[0] == admins.posted[1]
    assert key in admins.claimed
    assert "in 5 days" in admins.posted[1]


async def test_the_notice_on_the_day_is_its_own_and_posted_once() -> None:
    model, provider, shutdown, replacement = deprecated()
    admins = Admins()
    day = Day(shutdown - timedelta(days=1))
    w = watch(model, provider, day, admins)
    assert (await w.tell() or "").endswith(":ahead")
    assert "in 1 day)" in admins.posted[-1]

    day.day = shutdown
    key = await w.tell()

    assert key == f"model-shutdown:{model}:{shutdown}:day"
    assert "shuts down today" in admins.posted[-1] and str(shutdown) in admins.posted[-1]
    assert replacement in admins.posted[-1] and "requests use the replacement" in admins.posted[-1]
    day.day = shutdown + timedelta(days=1)
    assert await w.tell() is None
    assert len(admins.posted) == 2


async def test_a_watch_started_after_the_day_says_the_model_was_shut_down() -> None:
    model, provider, shutdown, _ = deprecated()
    admins = Admins()
    w = watch(model, provider, Day(shutdown + timedelta(days=2)), admins)

    assert await w.tell() == f"model-shutdown:{model}:{shutdown}:day"
    assert f"was shut down on {shutdown}" in admins.posted[0]


async def test_a_model_without_a_replacement_is_told_to_pick_a_live_one() -> None:
    cat = catalogue_from({"models": {"house-image": {
        "family": catalogue().get(live()[0]).family,  # type: ignore[union-attr]
        "status": {"openai": {"state": "deprecated", "shutdown": "2027-01-05"}}}}})
    admins = Admins()
    w = watch("house-image", "openai", Day(date(2027, 1, 1)), admins, cat=cat)

    assert await w.tell()
    assert "`imagebot doctor` lists them" in admins.posted[0]


# the list -------------------------------------------------------------------------------------------------


async def test_the_listed_shutdown_date_wins_over_the_catalogue() -> None:
    model = live()[0]
    listed = date(2027, 1, 20)
    listing = Listing(answer=[(model, listed.isoformat()), *((m, None) for m in NOT_IMAGES)])
    admins = Admins()
    w = watch(model, "openai", Day(listed - AHEAD), admins, listing)
    assert w.shutdown_of(model) is None  # the catalogue knows no date

    await w.look()

    assert w.listed == {model: listed.isoformat()}  # other kinds of model left out
    assert w.shutdown_of(model) == listed
    assert await w.tell() == f"model-shutdown:{model}:{listed}:ahead"
    assert str(listed) in admins.posted[0]


async def test_a_listed_date_replaces_the_catalogues_date_for_a_deprecated_model() -> None:
    model, provider, shutdown, _ = deprecated()
    later = shutdown + timedelta(days=60)
    w = watch(model, provider, Day(shutdown), Admins(), Listing(answer=[(model, later.isoformat())]))

    await w.look()

    assert w.shutdown_of(model) == later
    assert w.due() is None  # not yet within 14 days of the listed date


async def test_an_unreadable_listed_date_falls_back_to_the_catalogue() -> None:
    model, provider, shutdown, _ = deprecated()
    w = watch(model, provider, Day(TODAY), Admins(), Listing(answer=[(model, "next spring")]))

    await w.look()

    assert w.shutdown_of(model) == shutdown


async def test_a_failing_list_keeps_the_catalogue_as_the_source() -> None:
    model, provider, shutdown, _ = deprecated()
    listing = Listing(error=ServerError("GET /models: 503", status=503))
    admins = Admins()
    w = watch(model, provider, Day(shutdown - timedelta(days=2)), admins, listing)

    await w.look()  # does not raise

    assert listing.calls == 1
    assert w.listed is None
    assert w.shutdown_of(model) == shutdown
    assert await w.tell() == f"model-shutdown:{model}:{shutdown}:ahead"


async def test_a_failing_list_after_a_good_one_keeps_what_was_listed() -> None:
    model = live()[0]
    listing = Listing(answer=[(model, "2027-02-01")])
    w = watch(model, "openai", Day(TODAY), Admins(), listing)
    await w.look()
    listing.error = ServerError("timed out")

    await w.look()

    assert w.listed == {model: "2027-02-01"}


async def test_a_list_without_image_models_is_not_believed() -> None:
    model, provider, shutdown, _ = deprecated()
    w = watch(model, provider, Day(TODAY), Admins(), Listing(answer=[(m, None) for m in NOT_IMAGES]))

    await w.look()

    assert w.listed is None
    assert w.shutdown_of(model) == shutdown


async def test_a_provider_that_lists_nothing_is_never_asked() -> None:
    model, provider, shutdown, _ = deprecated()
    w = watch(model, provider, Day(TODAY), Admins(), listing=None)

    await w.look()

    assert w.listed is None
    assert w.shutdown_of(model) == shutdown


# run ------------------------------------------------------------------------------------------------------


async def test_run_looks_and_tells_at_once_then_stops_when_asked() -> None:
    model, provider, shutdown, _ = deprecated()
    listing = Listing(answer=[(model, shutdown.isoformat())])
    admins = Admins()
    w = watch(model, provider, Day(shutdown - timedelta(days=1)), admins, listing)
    stop = asyncio.Event()

    task = asyncio.create_task(w.run(stop))
    await asyncio.wait_for(w.looked.wait(), timeout=5)
    stop.set()
    await asyncio.wait_for(task, timeout=5)

    assert task.done() and task.exception() is None
    assert listing.calls == 1
    assert len(admins.posted) == 1


async def test_run_with_stop_already_set_returns_without_looking() -> None:
    listing = Listing(answer=[(live()[0], None)])
    w = watch(live()[0], "openai", Day(TODAY), Admins(), listing)
    stop = asyncio.Event()
    stop.set()

    await asyncio.wait_for(w.run(stop), timeout=5)

    assert listing.calls == 0
    assert not w.looked.is_set()


async def test_run_survives_a_failing_list() -> None:
    model, provider, shutdown, _ = deprecated()
    listing = Listing(error=ServerError("connection refused"))
    admins = Admins()
    w = watch(model, provider, Day(shutdown), admins, listing)
    stop = asyncio.Event()

    task = asyncio.create_task(w.run(stop))
    await asyncio.wait_for(w.looked.wait(), timeout=5)
    stop.set()
    await asyncio.wait_for(task, timeout=5)

    assert listing.calls == 1
    assert admins.posted and "shuts down today" in admins.posted[0]
