"""bot/rules/batch_lines.py: `/image batch`'s prompts from the command's lines or an attached TXT or CSV."""

from __future__ import annotations

import pytest

from bot.errors import InvalidOption, UserInputError
from bot.models import ImageOptions
from bot.rules.batch_lines import MAX_PROMPTS, is_batch, lines_of_file, lines_of_text
from bot.rules.options import parse_command
from tests.catalogue_helpers import choices, default_model, live_with

DEFAULTS = ImageOptions(model=default_model(), partial_images=2)


def test_the_word_batch_starts_a_batch() -> None:
    assert is_batch("batch\na cat") and is_batch("  BATCH --size landscape") and not is_batch("batches of cats")


def test_each_line_is_a_prompt_over_the_batchs_options() -> None:
    model = live_with(lambda c: "low" in c.qualities and c.sizes.free)
    text = f"batch --model {model} --quality low\na lighthouse\n\n# not this one\na barn --size portrait\n"
    options, lines = lines_of_text(text, DEFAULTS, choices())
    assert (options.model, options.quality, options.partial_images) == (model, "low", 0)  # a batch never streams
    assert [line.prompt for line in lines] == ["a lighthouse", "a barn"]
    barn = parse_command(f"a barn --model {model} --quality low --size portrait", DEFAULTS, choices()).options
    assert lines[1].options.size == barn.size and lines[0].options.size == DEFAULTS.size
    assert all(line.options.partial_images == 0 for line in lines)


def test_every_bad_line_is_named_at_once() -> None:
    with pytest.raises(InvalidOption) as caught:
        lines_of_text("batch\na cat --quality ultra\na dog\na fox --size enormous", DEFAULTS, choices())
    texts = [str(problem) for problem in caught.value.problems]
    assert len(texts) == 2 and texts[0].startswith("Line 1:") and texts[1].startswith("Line 3:")


def test_no_prompts_and_too_many_are_refused() -> None:
    with pytest.raises(UserInputError, match="one prompt on each line"):
        lines_of_text("batch --size landscape", DEFAULTS, choices())
    with pytest.raises(UserInputError, match=f"at most {MAX_PROMPTS}"):
        lines_of_text("batch\n" + "\n".join(f"cat {i}" for i in range(MAX_PROMPTS + 1)), DEFAULTS, choices())


def test_a_csv_has_a_prompt_column_and_optional_ones() -> None:
    data = b"Prompt,size,n\na lighthouse,landscape,2\n\"a barn, red\",,\n,,\n"
    lines = lines_of_file("shots.csv", b"\xef\xbb\xbf" + data, DEFAULTS, choices())  # Excel's BOM
    assert [(line.prompt, line.options.n) for line in lines] == [("a lighthouse", 2), ("a barn, red", 1)]
    assert lines[0].options.size == parse_command("x --size landscape", DEFAULTS, choices()).options.size
    with pytest.raises(UserInputError, match="prompt` column"):
        lines_of_file("shots.csv", b"title\na cat\n", DEFAULTS, choices())
    with pytest.raises(InvalidOption, match="Row 2"):
        lines_of_file("shots.csv", b"prompt,quality\na cat,ultra\n", DEFAULTS, choices())


def test_a_txt_is_one_prompt_a_line_and_must_be_text() -> None:
    assert [line.prompt for line in lines_of_file("p.txt", b"a cat\r\na dog\n", DEFAULTS, choices())] == [
        "a cat", "a dog"]
    with pytest.raises(UserInputError, match="not UTF-8"):
        lines_of_file("p.txt", b"\xff\xfe\x00a", DEFAULTS, choices())
