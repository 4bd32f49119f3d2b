"""bot/money/retirement.py: statuses on a day, and the chain of replacements a request for a shut-down model
follows (through `Catalogue.resolve`, on small catalogues of the tests' own and on the shipped one)."""

from __future__ import annotations

from datetime import date, timedelta

from bot.money.catalogue import Catalogue
from bot.money.retirement import Resolved, Status
from tests.bot.money.catalogue_entries import new_model
from tests.catalogue_helpers import TODAY, catalogue, catalogue_from, live, shut_down

# statuses on a day -----------------------------------------------------------------------------------------


def test_a_deprecated_model_turns_shut_down_on_its_date() -> None:
    day = date(2027, 3, 1)
    status = Status(state="deprecated", shutdown=day, replacement="x")

    assert status.on(day - timedelta(days=1)) == "deprecated"
    assert status.usable(day - timedelta(days=1))
    assert status.on(day) == "shut_down"
    assert status.on(day + timedelta(days=400)) == "shut_down"
    assert not status.usable(day)


def test_other_states_do_not_change_with_the_day() -> None:
    for state in ("live", "unconfirmed"):
        assert Status(state=state, shutdown=date(2000, 1, 1)).on(TODAY) == state
        assert Status(state=state).usable(TODAY)
    assert Status(state="shut_down", shutdown=date(2100, 1, 1)).on(TODAY) == "shut_down"


def test_the_shipped_deprecated_models_turn_shut_down_on_their_dates() -> None:
    cat = catalogue()
    deprecated = [(m, p, s) for m in cat.ids for p, s in cat.get(m).statuses.items()  # type: ignore[union-attr]
                  if s.state == "deprecated"]
    assert deprecated
    for model, provider, status in deprecated:
        assert status.shutdown is not None
        before, on = status.shutdown - timedelta(days=1), status.shutdown
        assert model in cat.live(provider, before), (model, provider)
        assert model not in cat.live(provider, on), (model, provider)


# replacements ----------------------------------------------------------------------------------------------


def chain_catalogue() -> tuple[Catalogue, list[str]]:
    """Three models of the shipped catalogue's family: the first two shut down, each replaced by the next."""
    a, b, c = "chain-a", "chain-b", "chain-c"
    cat = catalogue_from({"models": {
        a: new_model(status={"openai": {"state": "shut_down", "shutdown": "2026-01-01", "replacement": b}}),
        b: new_model(status={"openai": {"state": "deprecated", "shutdown": "2026-06-01", "replacement": c}}),
        c: new_model(),
    }})
    return cat, [a, b, c]


def test_resolve_follows_a_chain_of_replacements_to_a_usable_model() -> None:
    cat, (a, b, c) = chain_catalogue()
    resolved = cat.resolve(a, "openai", TODAY)

    assert resolved == Resolved(requested=a, used=c, retired=cat.status(a, "openai"))
    assert resolved.replaced
    assert resolved.note() == f"{a} was shut down on 2026-01-01; this used {c}"
    # Before b's shutdown date, the chain stops at b.
    assert cat.resolve(a, "openai", date(2026, 5, 31)).used == b


def test_resolve_leaves_a_usable_model_as_it_is() -> None:
    cat, (_, _, c) = chain_catalogue()
    resolved = cat.resolve(c, "openai", TODAY)

    assert (resolved.used, resolved.replaced, resolved.retired, resolved.note()) == (c, False, None, None)


def test_resolve_returns_an_unknown_model_as_it_is() -> None:
    resolved = catalogue().resolve("no-such-model", "openai", TODAY)

    assert resolved.used == "no-such-model"
    assert not resolved.replaced


def test_resolve_stops_at_a_replacement_the_provider_knows_nothing_of() -> None:
    # On Azure, the replacement has no status: the chain stops there and the caller decides.
    a, b = "chain-a", "chain-b"
    cat = catalogue_from({"models": {
        a: new_model(status={"azure": {"state": "shut_down", "shutdown": "2026-01-01", "replacement": b}}),
        b: new_model(),
    }})

    resolved = cat.resolve(a, "azure", TODAY)
    assert resolved.used == b
    assert cat.status(b, "azure").state == "unknown"


def test_resolve_of_a_shut_down_model_without_a_replacement_keeps_it() -> None:
    cat = catalogue_from({"models": {"alone": new_model(status={"openai": {"state": "shut_down",
                                                                             "shutdown": "2026-01-01"}})}})
    resolved = cat.resolve("alone", "openai", TODAY)

    assert resolved.used == "alone" and not resolved.replaced
    assert resolved.retired is not None and resolved.retired.shutdown == date(2026, 1, 1)


def test_resolve_of_a_loop_of_shut_down_models_ends() -> None:
    cat = catalogue_from({"models": {
        "loop-a": new_model(status={"openai": {"state": "shut_down", "shutdown": "2026-01-01",
                                               "replacement": "loop-b"}}),
        "loop-b": new_model(status={"openai": {"state": "shut_down", "shutdown": "2026-01-01",
                                               "replacement": "loop-a"}}),
    }})

    assert cat.resolve("loop-a", "openai", TODAY).used == "loop-a"


def test_the_shipped_shut_down_models_resolve_to_their_live_replacements() -> None:
    cat = catalogue()
    for model in shut_down():
        resolved = cat.resolve(model, "openai", TODAY)
        assert resolved.replaced and resolved.used in live()
        assert resolved.note() and model in resolved.note() and resolved.used in resolved.note()  # type: ignore[operator]

