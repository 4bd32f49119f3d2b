"""bot/money/catalogue_reader.py: catalogue data is merged key by key and read into a catalogue of its own; bad data
and bad IMAGEBOT_MODELS files are refused naming the variable, the file, the model and the key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.errors import SettingsError
from bot.money.catalogue import Catalogue
from bot.money.catalogue_reader import merge
from tests.bot.money.catalogue_entries import new_model
from tests.catalogue_helpers import catalogue_from


def refusal(extra: dict[str, Any]) -> SettingsError:
    with pytest.raises(SettingsError) as caught:
        catalogue_from(extra)
    assert caught.value.variable == "IMAGEBOT_MODELS"
    return caught.value


# reading catalogue data ------------------------------------------------------------------------------------


def test_merge_merges_tables_key_by_key_and_replaces_everything_else() -> None:
    base = {"a": {"b": 1, "c": {"d": 2, "e": 3}}, "f": [1, 2], "g": 4}
    extra = {"a": {"c": {"d": 20}}, "f": [3], "h": 5}

    assert merge(base, extra) == {"a": {"b": 1, "c": {"d": 20, "e": 3}}, "f": [3], "g": 4, "h": 5}
    assert base == {"a": {"b": 1, "c": {"d": 2, "e": 3}}, "f": [1, 2], "g": 4}  # not changed in place


def test_from_data_builds_a_catalogue_of_its_own() -> None:
    data = Catalogue.builtin_data()
    data["models"] = {"only-one": new_model()}
    data["defaults"] = {"model": "only-one"}
    data["gone"] = {}

    cat = Catalogue.from_data(data, source="a test")

    assert cat.ids == ("only-one",)
    assert cat.default_model == "only-one"


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ({"models": {"bad-model": new_model(family="no-such-family")}}, ["bad-model", "family", "no-such-family"]),
        ({"models": {"bad-model": new_model(status={"openai": {"state": "deprecated", "shutdown": "2027-01-01",
                                                               "replacement": "no-such-model"}})}},
         ["bad-model.status.openai", "replacement", "no-such-model"]),
        ({"models": {"bad-model": new_model(status={"openai": {"state": "deprecated", "shutdown": "soon"}})}},
         ["bad-model.status.openai.shutdown", "date", "soon"]),
        ({"models": {"bad-model": new_model(status={"openai": {"state": "deprecated"}})}},
         ["bad-model.status.openai", "shutdown date"]),
        ({"models": {"bad-model": new_model(status={"openai": {"state": "retired"}})}},
         ["bad-model.status.openai", "live"]),
        ({"models": {"bad-model": new_model(status={})}}, ["bad-model.status"]),
        ({"models": {"bad-model": new_model(max_n="ten")}}, ["bad-model.max_n", "int"]),
        ({"models": {"bad-model": new_model(qualities=["low", 3])}}, ["bad-model.qualities"]),
        ({"models": {"bad-model": new_model(sizes={"rule": "any"})}}, ["bad-model.sizes"]),
        ({"models": {"bad-model": new_model(estimate="guess")}}, ["bad-model.estimate", "guess"]),
        ({"models": {"bad-model": new_model(prices={"image_out": "cheap"})}}, ["bad-model.prices", "cheap"]),
        ({"models": {"bad-model": "a model"}}, ["bad-model", "table"]),
        ({"models": {"bad-snapshot": {"snapshot_of": "no-such-model"}}}, ["bad-snapshot", "no-such-model"]),
        ({"defaults": {"model": "no-such-model"}}, ["defaults.model", "no-such-model"]),
        ({"gone": {"old-model": {"shutdown": "long ago"}}}, ["gone.old-model.shutdown", "long ago"]),
        ({"svg_authors": {"writer": {"text_out": "lots"}}}, ["svg_authors.writer", "lots"]),
        ({"models": {"bad-model": new_model(typical_seconds=-5)}}, ["bad-model.typical_seconds", "-5"]),
        ({"latency": {"quality_factor": {"high": "slow"}}}, ["latency.quality_factor.high", "slow"]),
    ],
)
def test_bad_data_is_refused_naming_imagebot_models_the_model_and_the_key(extra: dict[str, Any],
                                                                         words: list[str]) -> None:
    error = refusal(extra)

    for word in words:
        assert word in error.problem, (word, error.problem)


def test_a_bad_override_file_names_itself(tmp_path: Path) -> None:
    path = tmp_path / "models.json"
    path.write_text(json.dumps({"models": {"bad-model": new_model(family="no-such-family")}}), encoding="utf-8")

    with pytest.raises(SettingsError) as caught:
        Catalogue.load(path)

    assert caught.value.variable == "IMAGEBOT_MODELS"
    assert str(path) in caught.value.problem
    assert "bad-model" in caught.value.problem


@pytest.mark.parametrize(("name", "content"), [("broken.json", "{not json"), ("broken.toml", "models = ["),
                                               ("list.json", "[1, 2]"), ("binary.json", b"\xff\xfe\x00garbage")])
def test_an_unreadable_override_names_imagebot_models(tmp_path: Path, name: str, content: str | bytes) -> None:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")

    with pytest.raises(SettingsError) as caught:
        Catalogue.load(path)

    assert caught.value.variable == "IMAGEBOT_MODELS"
    assert str(path) in caught.value.problem


def test_a_missing_override_file_names_imagebot_models(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as caught:
        Catalogue.load(tmp_path / "absent.json")

    assert caught.value.variable == "IMAGEBOT_MODELS"
    assert "absent.json" in caught.value.problem


