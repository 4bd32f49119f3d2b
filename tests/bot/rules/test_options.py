"""bot/rules/options.py: `/image` text → prompt and options; every mistake is an InvalidOption naming valid values.

Models come from the catalogue by what they can do (tests/catalogue_helpers.py), never by name: a catalogue with a
model added or retired changes which model a test uses, not whether it passes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest

from bot.errors import InvalidOption, PromptTooLong, UserInputError
from bot.models import ImageOptions
from bot.money.catalogue_records import Capabilities, SizeRule
from bot.rules.options import (
    FLAG_OPTIONS,
    MAX_N,
    VALUE_OPTIONS,
    Choices,
    check_options,
    fit_options,
    is_help,
    parse_command,
    parse_fields,
    slack_to_plain,
)
from tests.catalogue_helpers import (
    TODAY,
    caps,
    catalogue,
    catalogue_from,
    choices,
    default_model,
    live,
    live_with,
    live_without,
    shut_down,
)

DEFAULTS = ImageOptions(model=default_model())


def parse(text: str, defaults: ImageOptions = DEFAULTS, where: Choices | None = None) -> ImageOptions:
    return parse_command(text, defaults, where or choices()).options


def invalid(text: str, defaults: ImageOptions = DEFAULTS, where: Choices | None = None) -> InvalidOption:
    with pytest.raises(InvalidOption) as caught:
        parse_command(text, defaults, where or choices())
    return caught.value


def one_of(values: tuple[str, ...]) -> str:
    """How the module lists alternatives ("a, b or c"), written out independently."""
    return values[0] if len(values) == 1 else f"{', '.join(values[:-1])} or {values[-1]}"


def fixed_size_models(provider: str = "azure") -> list[str]:
    """Models with a fixed list of sizes that a request may name on `provider` today (they live on Azure)."""
    found = live(provider, where=lambda c: not c.sizes.free)
    assert found, f"no model with fixed sizes is live on {provider}"
    return found


def free_rule() -> tuple[str, SizeRule]:
    model = live_with(lambda c: c.sizes.free)
    return model, caps(model).sizes


# prompt and options ---------------------------------------------------------------------------------------


def test_plain_prompt_keeps_the_defaults() -> None:
    parsed = parse_command("a lighthouse at dusk", DEFAULTS, choices())

    assert parsed.prompt == "a lighthouse at dusk"
    assert parsed.options == DEFAULTS


def test_options_may_stand_anywhere_in_the_text() -> None:
    parsed = parse_command("--quality high a lighthouse --size landscape at dusk --n 2", DEFAULTS, choices())

    assert parsed.prompt == "a lighthouse at dusk"
    assert parsed.options == replace(DEFAULTS, size="1536x1024", quality="high", n=2)


def test_option_values_may_be_given_with_equals() -> None:
    other = [m for m in live(where=lambda c: "webp" in c.formats and "low" in c.qualities) if m != DEFAULTS.model]
    assert other, "the catalogue has only one live model that makes low-quality webp"
    parsed = parse_command(f"a cat --size=portrait --quality=LOW --n=3 --format=webp --model={other[0]}", DEFAULTS,
                           choices())

    assert parsed.prompt == "a cat"
    assert parsed.options == ImageOptions(model=other[0], size="1024x1536", quality="low", n=3, output_format="webp")


def test_option_names_and_model_names_are_case_insensitive() -> None:
    model = live()[-1]

    assert parse("a cat --SIZE square").size == "1024x1024"
    assert parse(f"a cat --Model {model.upper()}").model == model


@pytest.mark.parametrize(("alias", "size"), [("square", "1024x1024"), ("portrait", "1024x1536"),
                                             ("landscape", "1536x1024"), ("Landscape", "1536x1024"),
                                             ("auto", "auto"), ("1536x1024", "1536x1024")])
def test_size_aliases_and_listed_sizes(alias: str, size: str) -> None:
    assert parse(f"a cat --size {alias}").size == size


def test_size_aliases_work_on_fixed_size_models_too() -> None:
    for model in fixed_size_models():
        for alias, size in (("square", "1024x1024"), ("portrait", "1024x1536"), ("landscape", "1536x1024")):
            assert size in caps(model, "azure").sizes.sizes
            assert parse(f"a cat --size {alias}", ImageOptions(model=model), choices("azure")).size == size


@pytest.mark.parametrize("n", [str(n) for n in range(1, MAX_N + 1)])
def test_n_from_1_to_max_n_is_accepted(n: str) -> None:
    assert parse(f"a cat --n {n}").n == int(n)


@pytest.mark.parametrize("n", ["0", str(MAX_N + 1), "10", "-1", "two", "1.5", ""])
def test_n_outside_1_to_max_n_is_refused_naming_the_range(n: str) -> None:
    error = invalid(f"a cat --n={n}")

    assert error.option == "n"
    assert f"1 to {MAX_N}" in str(error)


def test_n_given_as_a_superscript_digit_is_an_invalid_option() -> None:
    assert invalid("a cat --n ²").option == "n"


def test_format_jpg_means_jpeg() -> None:
    assert parse("a cat --format jpg").output_format == "jpeg"
    assert parse("a cat --format JPG").output_format == "jpeg"


# transparency ---------------------------------------------------------------------------------------------


def transparent_defaults() -> ImageOptions:
    return ImageOptions(model=live_with(lambda c: c.transparent and "webp" in c.formats))


def test_transparent_flag_sets_transparent() -> None:
    options = parse("a logo --transparent", transparent_defaults())

    assert options.transparent is True
    assert options.background == "transparent"


def test_transparent_with_webp_is_accepted() -> None:
    assert parse("a logo --transparent --format webp", transparent_defaults()).output_format == "webp"


@pytest.mark.parametrize("fmt", ["jpeg", "jpg"])
def test_transparent_with_jpeg_is_refused_naming_png_and_webp(fmt: str) -> None:
    error = invalid(f"a logo --transparent --format {fmt}", transparent_defaults())

    assert error.option == "format"
    assert "png" in str(error)
    assert "webp" in str(error)


def test_transparent_with_a_model_without_transparency_is_refused_naming_models_that_have_it() -> None:
    without = live_without(lambda c: c.transparent)
    error = invalid(f"a logo --transparent --model {without}")

    assert error.option == "transparent"
    assert without in str(error)
    having = live(where=lambda c: c.transparent)
    assert having and all(model in str(error) for model in having)
    snapshots = [m for m in catalogue().live("openai", TODAY) if catalogue().get(m).snapshot_of]  # type: ignore[union-attr]
    assert snapshots and not [m for m in snapshots if m in str(error)]  # advice names aliases, not snapshots


def test_transparent_takes_no_value() -> None:
    assert invalid("a logo --transparent=yes").option == "transparent"


# sizes per model ------------------------------------------------------------------------------------------


def test_a_free_size_model_accepts_its_suggested_sizes_turned_and_auto() -> None:
    model, rule = free_rule()
    sizes = [*rule.sizes, *("x".join(reversed(s.split("x"))) for s in rule.sizes), "auto"]
    for size in sizes:
        assert parse(f"a cat --size {size}", ImageOptions(model=model)).size == size


def rule_breakers(rule: SizeRule) -> list[tuple[str, str]]:
    """(size, the words naming the broken rule) — one size per rule, worked out from the rule's numbers."""
    m = rule.multiple
    short = 64 * m
    not_multiple = (short + m // 2, short)
    too_long = (rule.max_edge + m, (rule.max_edge + m) // 2 // m * m)
    too_narrow = ((int(rule.max_ratio * short) // m + 1) * m, short)
    small_side = int((rule.min_pixels // 2) ** 0.5) // m * m
    too_big_side = (int(rule.max_pixels ** 0.5) // m + 1) * m
    cases = [
        (not_multiple, f"multiples of {m}"),
        (too_long, f"at most {rule.max_edge}"),
        (too_narrow, f"{rule.max_ratio:g} × the short edge"),
        ((small_side, small_side), f"{rule.min_pixels:,} and {rule.max_pixels:,}"),
        ((too_big_side, too_big_side), f"{rule.min_pixels:,} and {rule.max_pixels:,}"),
    ]
    # Each size breaks the one rule it is for (worked out here, not by the module): otherwise the test is wrong.
    (w, h), _ = cases[0]
    assert w % m and not h % m
    (w, h), _ = cases[1]
    assert w > rule.max_edge and w <= rule.max_ratio * h and rule.min_pixels <= w * h <= rule.max_pixels
    (w, h), _ = cases[2]
    assert w > rule.max_ratio * h and w <= rule.max_edge and rule.min_pixels <= w * h
    (w, _h), _ = cases[3]
    assert w * w < rule.min_pixels
    (w, _h), _ = cases[4]
    assert w * w > rule.max_pixels and w <= rule.max_edge
    return [(f"{w}x{h}", words) for (w, h), words in cases]


def test_a_free_size_model_refuses_sizes_breaking_a_rule_and_names_it() -> None:
    model, rule = free_rule()
    for size, words in rule_breakers(rule):
        error = invalid(f"a cat --size {size}", ImageOptions(model=model))
        assert error.option == "size", size
        assert words in str(error), (size, str(error))


def test_fixed_size_models_refuse_custom_sizes_naming_their_sizes() -> None:
    _, free = free_rule()
    custom = next(s for s in free.sizes if not free.problems(s) and s not in ("1024x1024", "1536x1024", "1024x1536"))
    for model in fixed_size_models():
        error = invalid(f"a cat --model {model} --size {custom}", where=choices("azure"))
        assert error.option == "size"
        assert model in str(error)
        for size in (*caps(model, "azure").sizes.sizes, "auto"):
            assert size in str(error)


def test_switching_to_a_free_size_model_allows_a_custom_size() -> None:
    fixed = fixed_size_models()[0]
    free = live_with(lambda c: c.sizes.free, provider="azure")
    size = next(s for s in caps(free, "azure").sizes.sizes if s not in caps(fixed, "azure").sizes.sizes)

    options = parse(f"a cat --size {size} --model {free}", ImageOptions(model=fixed), choices("azure"))

    assert (options.model, options.size) == (free, size)


@pytest.mark.parametrize("size", ["huge", "1024", "1024x", "x1024", "1024*1024"])
def test_size_that_is_not_a_size_names_the_valid_kinds(size: str) -> None:
    error = invalid(f"a cat --size {size}")

    assert error.option == "size"
    assert "square, portrait, landscape" in str(error)
    assert "WIDTHxHEIGHT" in str(error)
    assert "auto" in str(error)


def test_size_that_is_not_a_size_lists_a_fixed_size_models_sizes() -> None:
    model = fixed_size_models()[0]
    error = invalid("a cat --size huge", ImageOptions(model=model), choices("azure"))

    for size in caps(model, "azure").sizes.sizes:
        assert size in str(error)


# qualities ------------------------------------------------------------------------------------------------


def test_bad_quality_lists_the_models_qualities() -> None:
    error = invalid("a cat --quality ultra")

    assert error.option == "quality"
    assert one_of(caps(DEFAULTS.model).qualities) in str(error)


@pytest.mark.parametrize("quality", ["xhigh", "max"])
def test_xhigh_and_max_are_allowed_only_where_the_catalogue_has_them(quality: str) -> None:
    models = live()
    having = [m for m in models if quality in caps(m).qualities]
    lacking = [m for m in models if quality not in caps(m).qualities]
    assert having and lacking, f"the test needs live models with and without {quality}"
    for model in having:
        assert parse(f"a cat --quality {quality.upper()}", ImageOptions(model=model)).quality == quality
    for model in lacking:
        error = invalid(f"a cat --quality {quality}", ImageOptions(model=model))
        assert error.option == "quality"
        assert one_of(caps(model).qualities) in str(error)


def test_a_default_quality_the_model_lacks_is_refused() -> None:
    model = live_without(lambda c: "xhigh" in c.qualities)

    with pytest.raises(InvalidOption) as caught:
        check_options(ImageOptions(model=model, quality="xhigh"), choices())

    assert caught.value.option == "quality"


# formats, GIF and SVG -------------------------------------------------------------------------------------


def test_bad_format_lists_the_models_formats() -> None:
    model = live_without(lambda c: "gif" in c.formats)
    error = invalid("a cat --format gif", ImageOptions(model=model))

    assert error.option == "format"
    assert one_of(caps(model).formats) in str(error)


def gif_model() -> tuple[str, int, int, int]:
    model = live_with(lambda c: c.gif is not None and "gif" in c.formats)
    gif = caps(model).gif
    assert gif is not None
    return model, gif.min_frames, gif.max_frames, gif.max_frame_ms


def test_gif_with_frames_in_range_is_accepted() -> None:
    model, low, high, longest = gif_model()
    for frames in (low, high):
        options = parse(f"a dancing cat --format gif --frames {frames} --frame-ms {longest}", ImageOptions(model=model))
        assert (options.output_format, options.frames, options.frame_ms) == ("gif", frames, longest)


def test_gif_without_frames_leaves_them_to_the_model() -> None:
    model, *_ = gif_model()
    options = parse("a dancing cat --format GIF", ImageOptions(model=model))

    assert (options.output_format, options.frames, options.frame_ms) == ("gif", None, None)


def test_gif_with_frames_out_of_range_is_refused_naming_the_range() -> None:
    model, low, high, _ = gif_model()
    for frames in (low - 1, high + 1):
        error = invalid(f"a dancing cat --format gif --frames {frames}", ImageOptions(model=model))
        assert error.option == "frames"
        assert f"{low} to {high}" in str(error)


def test_gif_with_a_frame_duration_over_the_models_longest_is_refused() -> None:
    model, _, _, longest = gif_model()
    error = invalid(f"a dancing cat --format gif --frame-ms {longest + 1}", ImageOptions(model=model))

    assert error.option == "frame-ms"
    assert str(longest) in str(error)


@pytest.mark.parametrize("option", ["--frames 4", "--frame-ms 100"])
def test_frames_without_gif_are_refused(option: str) -> None:
    model, *_ = gif_model()
    error = invalid(f"a cat {option}", ImageOptions(model=model))

    assert error.option == "frames"
    assert "--format gif" in str(error)


def test_gif_on_a_model_without_gif_is_refused_as_a_format() -> None:
    model = live_without(lambda c: c.gif is not None)

    assert invalid("a cat --format gif --frames 4", ImageOptions(model=model)).option == "format"


def test_svg_alone_is_accepted_and_refused_with_n_2() -> None:
    model = live_with(lambda c: c.svg and "svg" in c.formats)

    assert parse("a logo --format svg", ImageOptions(model=model)).output_format == "svg"
    error = invalid("a logo --format svg --n 2", ImageOptions(model=model))
    assert error.option == "n"
    assert "SVG" in str(error)


def test_n_over_the_models_own_limit_is_refused() -> None:
    where = Choices(catalogue_from({"models": {default_model(): {"max_n": 1}}}), "openai", TODAY)

    parse_command("a cat --n 1", DEFAULTS, where)
    with pytest.raises(InvalidOption) as caught:
        parse_command("a cat --n 2", DEFAULTS, where)

    assert caught.value.option == "n"
    assert "at most 1" in str(caught.value)


# complexity, moderation, fidelity -------------------------------------------------------------------------


@pytest.mark.parametrize("level", ["low", "medium", "HIGH"])
def test_complexity_is_accepted_on_models_that_have_it(level: str) -> None:
    model = live_with(lambda c: c.complexity)

    assert parse(f"a map --complexity {level}", ImageOptions(model=model)).complexity == level.lower()


def test_complexity_is_refused_on_models_without_it_naming_models_with_it() -> None:
    model = live_without(lambda c: c.complexity)
    error = invalid("a map --complexity high", ImageOptions(model=model))

    assert error.option == "complexity"
    assert model in str(error)
    assert live_with(lambda c: c.complexity) in str(error)


def test_a_complexity_that_is_not_a_level_lists_the_levels() -> None:
    model = live_with(lambda c: c.complexity)
    error = invalid("a map --complexity extreme", ImageOptions(model=model))

    assert error.option == "complexity"
    assert "low, medium or high" in str(error)


def test_moderation_low_is_accepted_and_other_words_refused() -> None:
    model = live_with(lambda c: c.moderation)

    assert parse("a cat --moderation LOW", ImageOptions(model=model)).moderation == "low"
    error = invalid("a cat --moderation off", ImageOptions(model=model))
    assert error.option == "moderation"
    assert "low or auto" in str(error)


def test_moderation_is_refused_on_a_model_without_the_setting() -> None:
    where = Choices(catalogue_from({"models": {default_model(): {"moderation": False}}}), "openai", TODAY)

    with pytest.raises(InvalidOption) as caught:
        parse_command("a cat --moderation low", DEFAULTS, where)

    assert caught.value.option == "moderation"


def test_fidelity_high_is_refused_where_the_model_has_no_such_setting() -> None:
    lacking = live("azure", where=lambda c: "high" not in c.input_fidelity and not c.inputs_high_fidelity)
    assert lacking, "the test needs a model with only low input fidelity"
    error = invalid("an edit --fidelity high", ImageOptions(model=lacking[0]), choices("azure"))

    assert error.option == "fidelity"
    assert lacking[0] in str(error)


@pytest.mark.parametrize("where", [lambda c: "high" in c.input_fidelity, lambda c: c.inputs_high_fidelity])
def test_fidelity_high_is_accepted_where_the_model_has_it_or_always_reads_inputs_so(
        where: Callable[[Capabilities], bool]) -> None:
    model = live_with(where, provider="azure")
    sent = parse("an edit --fidelity high", ImageOptions(model=model), choices("azure")).input_fidelity

    # Sent where the model takes the field; left out where the model reads every input at high fidelity anyway
    # (the SDK says to omit it there): accepted either way, never refused.
    assert sent == ("high" if "high" in caps(model, "azure").input_fidelity else None)


# models ---------------------------------------------------------------------------------------------------


def test_a_shut_down_model_is_answered_with_its_date_replacement_and_the_live_models() -> None:
    gone = shut_down()
    assert gone, "the catalogue has no model shut down on OpenAI today"
    for model in gone:
        status = catalogue().status(model, "openai")
        error = invalid(f"a cat --model {model}")
        assert error.option == "model"
        assert "shut down" in str(error)
        assert status.shutdown is not None and status.shutdown.isoformat() in str(error)
        assert status.replacement and f"replacement is {status.replacement}" in str(error)
        for live_model in choices().models:
            assert live_model in str(error)


def test_a_deprecated_model_is_accepted_before_its_shutdown_date_and_refused_from_it() -> None:
    cat = catalogue()
    model = next(m for m in shut_down() if cat.status(m, "openai").state == "deprecated")
    day = cat.status(model, "openai").shutdown
    assert day is not None
    before = Choices(cat, "openai", day - timedelta(days=1))
    assert parse_command(f"a cat --model {model}", DEFAULTS, before).options.model == model
    error = invalid(f"a cat --model {model}", where=Choices(cat, "openai", day))
    assert day.isoformat() in str(error)


def test_a_model_the_api_once_served_is_answered_with_its_date_and_replacement() -> None:
    gone = {m: v for m, v in catalogue().builtin_data()["gone"].items() if not m.startswith("_")}
    assert gone
    for model, entry in gone.items():
        error = invalid(f"a cat --model {model}")
        assert error.option == "model"
        assert entry["shutdown"] in str(error)
        assert entry["replacement"] in str(error)


def test_an_unknown_model_is_answered_with_the_live_models() -> None:
    error = invalid("a cat --model no-such-image-model")

    assert error.option == "model"
    assert "no-such-image-model" in str(error)
    for model in choices().models:
        assert model in str(error)


def test_a_deployment_refuses_any_model_but_its_own_even_a_known_one() -> None:
    own, other = live("azure")[:2]
    where = choices("azure", only=(own,))
    error = invalid(f"a cat --model {other}", ImageOptions(model=own), where)

    assert error.option == "model"
    assert "deployment" in str(error)
    assert own in str(error)
    assert parse(f"a cat --model {own}", ImageOptions(model=own), where).model == own


def test_a_model_usable_on_azure_but_shut_down_on_openai_is_taken_on_azure_only() -> None:
    model = next(m for m in shut_down() if catalogue().status(m, "azure").usable(TODAY))

    assert parse(f"a cat --model {model}", where=choices("azure")).model == model
    assert invalid(f"a cat --model {model}").option == "model"


# other mistakes -------------------------------------------------------------------------------------------


def test_unknown_option_lists_every_option_and_the_double_dash_escape() -> None:
    error = invalid("a cat --style watercolor")

    assert error.option == "style"
    for option in (*VALUE_OPTIONS, *FLAG_OPTIONS):
        assert f"--{option}" in str(error)
    assert "`--`" in str(error)


def test_option_given_twice_is_refused() -> None:
    error = invalid("a cat --size square --size portrait")

    assert error.option == "size"
    assert "twice" in str(error)


def test_option_without_a_value_names_the_valid_values() -> None:
    model_caps = caps(DEFAULTS.model)
    expected = {
        "a cat --size": "square",
        "a cat --size --n 2": "square",
        "a cat --quality": one_of(model_caps.qualities),
        "a cat --format": one_of(model_caps.formats),
        "a cat --model": ", ".join(choices().models),
        "a cat --complexity": "low, medium or high",
    }
    for text, valid in expected.items():
        error = invalid(text)
        option = text.split("--")[1].split()[0]
        assert error.option == option
        assert "needs a value" in str(error)
        assert valid in str(error), text


def test_frames_without_a_value_names_the_models_range() -> None:
    model, low, high, _ = gif_model()
    error = invalid("a cat --format gif --frames", ImageOptions(model=model))

    assert error.option == "frames"
    assert f"{low} to {high}" in str(error)


def test_double_dash_ends_the_options() -> None:
    parsed = parse_command("--quality high a poster that says -- --size matters", DEFAULTS, choices())

    assert parsed.prompt == "a poster that says --size matters"
    assert parsed.options.quality == "high"
    assert parsed.options.size == DEFAULTS.size


def test_double_dash_at_the_start_makes_everything_prompt() -> None:
    assert parse_command("-- --n 5 cats", DEFAULTS, choices()).prompt == "--n 5 cats"


def test_single_dash_words_and_dashes_inside_words_are_prompt() -> None:
    text = "a -1 degree well-lit room --3d"

    assert parse_command(text, DEFAULTS, choices()).prompt == text


@pytest.mark.parametrize("text", ["", "   ", "--size square", "--n 2 --", "-- "])
def test_empty_prompt_is_refused_asking_for_one(text: str) -> None:
    error = invalid(text)

    assert error.option == "prompt"
    assert "prompt" in str(error)


def test_prompt_at_the_models_limit_is_accepted() -> None:
    prompt = "a" * caps(DEFAULTS.model).prompt_limit

    assert parse_command(prompt, DEFAULTS, choices()).prompt == prompt


def test_prompt_over_the_models_limit_is_too_long() -> None:
    limit = caps(DEFAULTS.model).prompt_limit
    with pytest.raises(PromptTooLong) as caught:
        parse_command("a" * (limit + 1), DEFAULTS, choices())

    assert isinstance(caught.value, UserInputError)
    assert (caught.value.length, caught.value.limit) == (limit + 1, limit)
    assert f"{limit + 1:,}" in str(caught.value)
    assert f"{limit:,}" in str(caught.value)


def test_the_prompt_limit_is_the_models_own() -> None:
    where = Choices(catalogue_from({"models": {default_model(): {"prompt_limit": 10}}}), "openai", TODAY)

    assert parse_command("a" * 10, DEFAULTS, where).prompt == "a" * 10
    with pytest.raises(PromptTooLong) as caught:
        parse_command("a" * 11, DEFAULTS, where)
    assert caught.value.limit == 10


def test_whitespace_between_words_is_collapsed() -> None:
    assert parse_command("  a   cat\n\ton a mat  ", DEFAULTS, choices()).prompt == "a cat on a mat"


# provider -------------------------------------------------------------------------------------------------


def test_azure_refuses_webp_naming_png_and_jpeg() -> None:
    model = live_with(lambda c: "webp" in c.formats)  # makes webp on OpenAI
    error = invalid("a cat --format webp", ImageOptions(model=model), choices("azure"))

    assert error.option == "format"
    assert "webp" not in str(error).split("valid")[-1]  # the formats named are Azure's: png and jpeg
    assert "png" in str(error)
    assert "jpeg" in str(error)


def test_openai_accepts_webp() -> None:
    assert parse("a cat --format webp").output_format == "webp"


def test_azure_refuses_a_webp_default_too() -> None:
    with pytest.raises(InvalidOption) as caught:
        parse_command("a cat", replace(DEFAULTS, output_format="webp"), choices("azure"))

    assert caught.value.option == "format"
    assert "Azure" in str(caught.value)


def test_check_options_accepts_defaults_and_refuses_a_fixed_size_models_custom_size() -> None:
    check_options(DEFAULTS, choices())
    fixed = fixed_size_models()[0]
    _, free = free_rule()
    custom = next(s for s in free.sizes if caps(fixed, "azure").sizes.problems(s))
    with pytest.raises(InvalidOption) as caught:
        check_options(ImageOptions(model=fixed, size=custom), choices("azure"))
    assert caught.value.option == "size"


def test_check_options_leaves_a_model_the_catalogue_does_not_know_to_the_api() -> None:
    check_options(ImageOptions(model="an-operators-own-model", quality="ultra", size="7x7"), choices())


# fit_options: options chosen for one model, sent to another -----------------------------------------------


def rich_options() -> ImageOptions:
    """Options using much of what the richest live model can do."""
    model = live_with(lambda c: c.gif is not None and c.complexity and c.transparent and "xhigh" in c.qualities)
    rule = caps(model).sizes
    big = next(s for s in rule.sizes if s not in ("1024x1024", "1536x1024", "1024x1536"))
    return ImageOptions(model=model, size=big, quality="xhigh", complexity="high", moderation="low")


def test_fit_options_keeps_everything_the_model_can_do() -> None:
    options = rich_options()

    assert fit_options(options, caps(options.model)) == (options, ())


def test_fit_options_turns_a_quality_the_model_lacks_into_auto() -> None:
    target = caps(live_without(lambda c: "xhigh" in c.qualities))
    fitted, notes = fit_options(rich_options(), target)

    assert fitted.quality == "auto"
    assert "quality xhigh became auto" in notes


def test_fit_options_turns_a_size_the_model_cannot_make_into_auto() -> None:
    options = rich_options()
    fixed = fixed_size_models()[0]
    fitted, notes = fit_options(options, caps(fixed, "azure"))

    assert fitted.size == "auto"
    assert f"size {options.size} became auto" in notes


def test_fit_options_drops_gif_and_its_frames_for_a_model_without_gif() -> None:
    options = replace(rich_options(), output_format="gif", frames=4, frame_ms=100, quality="high")
    fitted, notes = fit_options(options, caps(live_without(lambda c: "gif" in c.formats)))

    assert (fitted.output_format, fitted.frames, fitted.frame_ms) == ("png", None, None)
    assert "format gif became png" in notes


def test_fit_options_drops_complexity_transparency_and_moderation_the_model_lacks() -> None:
    options = replace(rich_options(), transparent=True, quality="high")
    target = replace(caps(live_without(lambda c: c.complexity or c.transparent)), moderation=False)
    fitted, notes = fit_options(options, target)

    assert (fitted.complexity, fitted.transparent, fitted.moderation) == (None, False, None)
    assert "the transparent background was dropped" in notes


def test_fit_options_leaves_out_a_fidelity_the_model_takes_no_field_for() -> None:
    target = caps(live_with(lambda c: c.inputs_high_fidelity and not c.input_fidelity))
    fitted, notes = fit_options(ImageOptions(model=default_model(), input_fidelity="high"), target)

    assert fitted.input_fidelity is None
    assert notes == ()  # the model reads every input at high fidelity: nothing is lost


def test_fit_options_for_a_shut_down_models_replacement() -> None:
    cat = catalogue()
    for model in shut_down():
        resolved = cat.resolve(model, "openai", TODAY)
        assert resolved.replaced and catalogue().status(resolved.used, "openai").usable(TODAY)
        before = caps(model)
        options = ImageOptions(model=model, size=before.sizes.sizes[0], quality=before.qualities[0],
                               input_fidelity=before.input_fidelity[0] if before.input_fidelity else None)
        fitted, _ = fit_options(replace(options, model=resolved.used), caps(resolved.used))
        check_options(fitted, choices())  # what fit_options gives the replacement, the replacement takes


@pytest.mark.parametrize("fmt", ["gif", "svg"])
def test_fit_options_switches_streaming_off_for_gif_and_svg(fmt: str) -> None:
    model = live_with(lambda c: fmt in c.formats and c.streaming)
    options = ImageOptions(model=model, output_format=fmt, partial_images=2)
    fitted, notes = fit_options(options, caps(model))

    assert fitted.output_format == fmt
    assert fitted.partial_images == 0
    assert notes == ()


def test_fit_options_keeps_streaming_for_a_still_image_within_the_models_limit() -> None:
    model = live_with(lambda c: c.streaming and c.max_partial_images >= 1)
    limit = caps(model).max_partial_images

    assert fit_options(ImageOptions(model=model, partial_images=limit), caps(model))[0].partial_images == limit
    assert fit_options(ImageOptions(model=model, partial_images=limit + 1), caps(model))[0].partial_images == limit
    no_streaming = replace(caps(model), streaming=False)
    assert fit_options(ImageOptions(model=model, partial_images=1), no_streaming)[0].partial_images == 0


# Slack markup ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("slack", "plain"),
    [
        ("fish &amp; chips &lt;3 &gt; salad", "fish & chips <3 > salad"),
        ("a portrait of <@U123|bob>", "a portrait of @bob"),
        ("a portrait of <@U123>", "a portrait of @U123"),
        ("the <#C1|general> channel", "the #general channel"),
        ("the <#C1> channel", "the #C1 channel"),
        ("a logo for <https://x.y|label>", "a logo for https://x.y"),
        ("a logo for <https://x.y>", "a logo for https://x.y"),
        ("hello <!here>", "hello @here"),
    ],
)
def test_slack_markup_becomes_plain_text(slack: str, plain: str) -> None:
    assert slack_to_plain(slack) == plain


def test_escaped_markup_typed_by_the_user_is_not_a_link() -> None:
    assert slack_to_plain("&lt;@U123|bob&gt;") == "<@U123|bob>"


def test_parse_command_reads_the_prompt_as_plain_text() -> None:
    parsed = parse_command("<@U123|bob> &amp; <#C1|general> at <https://x.y|label> --size square", DEFAULTS,
                           choices())

    assert parsed.prompt == "@bob & #general at https://x.y"


def test_user_group_mention_becomes_its_handle() -> None:
    assert slack_to_plain("ask <!subteam^S1|@devs>") == "ask @devs"


# help -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "help", "  HELP ", "--help", "-h", "?"])
def test_is_help_for_empty_text_and_help_words(text: str) -> None:
    assert is_help(text)


@pytest.mark.parametrize("text", ["a cat", "help me draw a cat", "helpful robot"])
def test_is_help_false_for_prompts(text: str) -> None:
    assert not is_help(text)


@pytest.mark.parametrize("dash", ["—", "–"])
def test_autocorrected_dashes_still_read_as_options(dash: str) -> None:
    defaults = transparent_defaults()
    parsed = parse_command(f"a fox {dash}size portrait {dash}transparent", defaults, choices())

    assert parsed.prompt == "a fox"
    assert parsed.options.size == "1024x1536" and parsed.options.transparent


def test_a_dash_word_that_is_not_an_option_stays_in_the_prompt() -> None:
    assert parse_command("a sign saying —hello", DEFAULTS, choices()).prompt == "a sign saying —hello"


# every problem in one answer ------------------------------------------------------------------------------


def test_a_bad_value_and_a_missing_prompt_are_refused_together() -> None:
    error = invalid("--quality ultra")

    assert [problem.option for problem in error.problems] == ["quality", "prompt"]
    assert error.option == "quality"  # the first problem's
    assert one_of(caps(DEFAULTS.model).qualities) in str(error.problems[0])
    assert "Add a prompt" in str(error.problems[1])
    assert str(error).splitlines() == [str(problem) for problem in error.problems]


def test_every_mistake_in_the_text_is_named_once() -> None:
    error = invalid("a cat --style watercolor --n 9 --size huge --transparent=yes --quality --frames 1 --n 2")

    assert sorted(str(problem.option) for problem in error.problems) == sorted(
        ["style", "n", "size", "transparent", "quality", "frames", "n"])
    messages = [str(problem) for problem in error.problems]
    assert len(set(messages)) == len(messages)
    assert any("twice" in message for message in messages)
    assert any(f"1 to {MAX_N}" in message for message in messages)


def test_the_same_mistake_twice_is_said_once() -> None:
    error = invalid("a cat --size square --size portrait --size landscape")

    assert [problem.option for problem in error.problems] == ["size"]
    assert "twice" in str(error)


def test_a_combination_the_model_refuses_is_named_beside_a_bad_value() -> None:
    model = live_without(lambda c: c.transparent)
    error = invalid(f"a logo --model {model} --transparent --format jpeg --n 0")

    assert {problem.option for problem in error.problems} == {"n", "format", "transparent"}


def test_with_a_model_that_cannot_be_had_the_values_that_depend_on_it_are_not_judged() -> None:
    error = invalid("--model no-such-image-model --quality ultra --style")

    assert [problem.option for problem in error.problems] == ["style", "model", "prompt"]


def test_a_format_refused_is_not_also_a_frames_problem() -> None:
    model = live_without(lambda c: "gif" in c.formats)
    error = invalid("a cat --format bmp --frames 4", ImageOptions(model=model))

    assert [problem.option for problem in error.problems] == ["format"]


def test_a_prompt_over_the_limit_beside_another_mistake_is_one_of_the_problems() -> None:
    limit = caps(DEFAULTS.model).prompt_limit
    error = invalid("a" * (limit + 1) + " --n 9")

    assert [problem.option for problem in error.problems] == ["n", "prompt"]
    assert f"{limit:,}" in str(error.problems[1])


def test_check_options_names_every_problem_of_a_combination() -> None:
    model = live_without(lambda c: c.transparent or c.complexity)
    with pytest.raises(InvalidOption) as caught:
        check_options(ImageOptions(model=model, transparent=True, output_format="jpeg", complexity="high"), choices())

    assert [problem.option for problem in caught.value.problems] == ["format", "transparent", "complexity"]


def test_invalid_option_joined() -> None:
    one = InvalidOption("One.", option="n")
    two = InvalidOption("Two.", option="size")

    assert InvalidOption.joined([one]) is one
    assert one.problems == (one,)
    both = InvalidOption.joined([one, two, InvalidOption("One.", option="n")])
    assert both.problems == (one, two) and both.option == "n" and str(both) == "One.\nTwo."
    assert InvalidOption.joined([both, InvalidOption("Three.")]).problems[2].option is None
    with pytest.raises(ValueError):
        InvalidOption.joined([])


# one field each (a Workflow Builder step's inputs) ---------------------------------------------------------------


def test_fields_follow_the_commands_rules() -> None:
    model = live_with(lambda c: "low" in c.qualities and c.sizes.free)
    fields = parse_fields("a  lighthouse\nat dusk", {"model": model, "size": "landscape", "quality": "LOW", "n": ""},
                          DEFAULTS, choices())
    same = parse_command(f"a lighthouse at dusk --model {model} --size landscape --quality low", DEFAULTS, choices())
    assert fields == same


def test_fields_are_refused_as_the_command_refuses_them_all_at_once() -> None:
    with pytest.raises(InvalidOption) as caught:
        parse_fields(" ", {"quality": "ultra", "colour": "red"}, DEFAULTS, choices())
    assert {problem.option for problem in caught.value.problems} == {"colour", "quality", "prompt"}
    # The prompt is one field: what looks like an option in it is words, as after `--` in the command.
    assert parse_fields("--size huge", {}, DEFAULTS, choices()).prompt == "--size huge"
