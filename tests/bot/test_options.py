"""bot/options.py: `/image` text → prompt and options; every mistake is an InvalidOption naming valid values."""

import pytest

from bot.errors import InvalidOption, PromptTooLong, UserInputError
from bot.models import ImageOptions
from bot.options import PROMPT_LIMIT, check_options, is_help, parse_command, slack_to_plain

DEFAULTS = ImageOptions(model="gpt-image-1")
GPT2 = ImageOptions(model="gpt-image-2")


def invalid(text: str, defaults: ImageOptions = DEFAULTS, **kwargs) -> InvalidOption:
    with pytest.raises(InvalidOption) as caught:
        parse_command(text, defaults, **kwargs)
    return caught.value


# prompt and options ---------------------------------------------------------------------------------------


def test_plain_prompt_keeps_the_defaults() -> None:
    parsed = parse_command("a lighthouse at dusk", DEFAULTS)

    assert parsed.prompt == "a lighthouse at dusk"
    assert parsed.options == DEFAULTS


def test_options_may_stand_anywhere_in_the_text() -> None:
    parsed = parse_command("--quality high a lighthouse --size landscape at dusk --n 2", DEFAULTS)

    assert parsed.prompt == "a lighthouse at dusk"
    assert parsed.options == ImageOptions(model="gpt-image-1", size="1536x1024", quality="high", n=2)


def test_option_values_may_be_given_with_equals() -> None:
    parsed = parse_command("a cat --size=portrait --quality=LOW --n=3 --format=webp --model=gpt-image-1.5", DEFAULTS)

    assert parsed.prompt == "a cat"
    assert parsed.options == ImageOptions(model="gpt-image-1.5", size="1024x1536", quality="low", n=3,
                                          output_format="webp")


def test_option_names_are_case_insensitive() -> None:
    assert parse_command("a cat --SIZE square", DEFAULTS).options.size == "1024x1024"


@pytest.mark.parametrize(("alias", "size"), [("square", "1024x1024"), ("portrait", "1024x1536"),
                                             ("landscape", "1536x1024"), ("Landscape", "1536x1024"),
                                             ("auto", "auto"), ("1536x1024", "1536x1024")])
def test_size_aliases_and_listed_sizes(alias: str, size: str) -> None:
    assert parse_command(f"a cat --size {alias}", DEFAULTS).options.size == size


@pytest.mark.parametrize("n", ["1", "2", "3", "4"])
def test_n_from_1_to_4_is_accepted(n: str) -> None:
    assert parse_command(f"a cat --n {n}", DEFAULTS).options.n == int(n)


@pytest.mark.parametrize("n", ["0", "5", "10", "-1", "two", "1.5", ""])
def test_n_outside_1_to_4_is_refused_naming_the_range(n: str) -> None:
    error = invalid(f"a cat --n={n}")

    assert error.option == "n"
    assert "1 to 4" in str(error)


def test_n_given_as_a_superscript_digit_is_an_invalid_option() -> None:
    error = invalid("a cat --n ²")

    assert error.option == "n"


def test_format_jpg_means_jpeg() -> None:
    assert parse_command("a cat --format jpg", DEFAULTS).options.output_format == "jpeg"


def test_transparent_flag_sets_transparent() -> None:
    options = parse_command("a logo --transparent", DEFAULTS).options

    assert options.transparent is True
    assert options.background == "transparent"


def test_transparent_with_webp_is_accepted() -> None:
    assert parse_command("a logo --transparent --format webp", DEFAULTS).options.output_format == "webp"


@pytest.mark.parametrize("fmt", ["jpeg", "jpg"])
def test_transparent_with_jpeg_is_refused_naming_png_and_webp(fmt: str) -> None:
    error = invalid(f"a logo --transparent --format {fmt}")

    assert error.option == "format"
    assert "png" in str(error)
    assert "webp" in str(error)


def test_transparent_with_gpt_image_2_is_refused() -> None:
    error = invalid("a logo --transparent --model gpt-image-2")

    assert error.option == "transparent"
    assert "gpt-image-2" in str(error)


def test_transparent_takes_no_value() -> None:
    assert invalid("a logo --transparent=yes").option == "transparent"


# sizes per model ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", ["2048x2048", "2048x1152", "3840x2160", "2160x3840", "1024x1024", "1280x720",
                                  "auto"])
def test_gpt_image_2_accepts_custom_sizes_within_its_rules(size: str) -> None:
    assert parse_command(f"a cat --size {size}", GPT2).options.size == size


@pytest.mark.parametrize(
    ("size", "rule"),
    [
        ("1000x1000", "multiples of 16"),
        ("4096x2048", "at most 3840"),
        ("3072x1008", "3 × the short edge"),
        ("512x512", "655,360 and 8,294,400"),
        ("3840x3840", "655,360 and 8,294,400"),
    ],
)
def test_gpt_image_2_refuses_sizes_breaking_a_rule_and_names_it(size: str, rule: str) -> None:
    error = invalid(f"a cat --size {size}", GPT2)

    assert error.option == "size"
    assert rule in str(error)


@pytest.mark.parametrize("model", ["gpt-image-1", "gpt-image-1-mini", "gpt-image-1.5"])
def test_classic_models_refuse_custom_sizes_naming_their_sizes(model: str) -> None:
    error = invalid(f"a cat --model {model} --size 2048x2048")

    assert error.option == "size"
    for size in ("1024x1024", "1536x1024", "1024x1536", "auto"):
        assert size in str(error)
    assert "gpt-image-2" in str(error)


def test_switching_to_gpt_image_2_allows_a_custom_size() -> None:
    options = parse_command("a cat --size 2048x1152 --model gpt-image-2", DEFAULTS).options

    assert (options.model, options.size) == ("gpt-image-2", "2048x1152")


@pytest.mark.parametrize("size", ["huge", "1024", "1024x", "x1024", "1024*1024"])
def test_size_that_is_not_a_size_lists_the_valid_sizes(size: str) -> None:
    error = invalid(f"a cat --size {size}")

    assert error.option == "size"
    assert "square, portrait, landscape, 1024x1024, 1536x1024, 1024x1536 or auto" in str(error)


# other mistakes -------------------------------------------------------------------------------------------


def test_bad_quality_lists_the_qualities() -> None:
    error = invalid("a cat --quality ultra")

    assert error.option == "quality"
    assert "low, medium, high or auto" in str(error)


def test_bad_format_lists_the_formats() -> None:
    error = invalid("a cat --format gif")

    assert error.option == "format"
    assert "png, jpeg or webp" in str(error)


def test_unavailable_model_lists_the_allowed_models() -> None:
    error = invalid("a cat --model dall-e-3", allowed_models=("gpt-image-1", "gpt-image-1.5"))

    assert error.option == "model"
    assert "gpt-image-1, gpt-image-1.5" in str(error)


def test_model_outside_the_allowed_list_is_refused_even_if_known() -> None:
    assert invalid("a cat --model gpt-image-2", allowed_models=("gpt-image-1",)).option == "model"


def test_unknown_option_lists_every_option_and_the_double_dash_escape() -> None:
    error = invalid("a cat --style watercolor")

    assert error.option == "style"
    for option in ("--size", "--quality", "--n", "--format", "--model", "--transparent"):
        assert option in str(error)
    assert "`--`" in str(error)


def test_option_given_twice_is_refused() -> None:
    error = invalid("a cat --size square --size portrait")

    assert error.option == "size"
    assert "twice" in str(error)


@pytest.mark.parametrize("text", ["a cat --size", "a cat --size --n 2", "a cat --quality"])
def test_option_without_a_value_names_the_valid_values(text: str) -> None:
    error = invalid(text)

    option = text.split("--")[1].split()[0]
    assert error.option == option
    assert "needs a value" in str(error)
    assert ("square" if option == "size" else "low, medium, high or auto") in str(error)


def test_double_dash_ends_the_options() -> None:
    parsed = parse_command("--quality high a poster that says -- --size matters", DEFAULTS)

    assert parsed.prompt == "a poster that says --size matters"
    assert parsed.options.quality == "high"
    assert parsed.options.size == "1024x1024"


def test_double_dash_at_the_start_makes_everything_prompt() -> None:
    assert parse_command("-- --n 5 cats", DEFAULTS).prompt == "--n 5 cats"


def test_single_dash_words_and_dashes_inside_words_are_prompt() -> None:
    assert parse_command("a -1 degree well-lit room --3d", DEFAULTS).prompt == "a -1 degree well-lit room --3d"


@pytest.mark.parametrize("text", ["", "   ", "--size square", "--n 2 --", "-- "])
def test_empty_prompt_is_refused_asking_for_one(text: str) -> None:
    error = invalid(text)

    assert error.option == "prompt"
    assert "prompt" in str(error)


def test_prompt_at_the_limit_is_accepted() -> None:
    prompt = "a" * PROMPT_LIMIT

    assert parse_command(prompt, DEFAULTS).prompt == prompt


def test_prompt_over_32000_characters_is_too_long() -> None:
    assert PROMPT_LIMIT == 32_000
    with pytest.raises(PromptTooLong) as caught:
        parse_command("a" * 32_001, DEFAULTS)

    assert isinstance(caught.value, UserInputError)
    assert (caught.value.length, caught.value.limit) == (32_001, 32_000)
    assert "32,001" in str(caught.value)
    assert "32,000" in str(caught.value)


def test_whitespace_between_words_is_collapsed() -> None:
    assert parse_command("  a   cat\n\ton a mat  ", DEFAULTS).prompt == "a cat on a mat"


# provider -------------------------------------------------------------------------------------------------


def test_azure_refuses_webp_naming_png_and_jpeg() -> None:
    error = invalid("a cat --format webp", provider="azure")

    assert error.option == "format"
    assert "png" in str(error)
    assert "jpeg" in str(error)


def test_openai_accepts_webp() -> None:
    assert parse_command("a cat --format webp", DEFAULTS, provider="openai").options.output_format == "webp"


def test_azure_refuses_a_webp_default_too() -> None:
    with pytest.raises(InvalidOption):
        parse_command("a cat", ImageOptions(model="gpt-image-1", output_format="webp"), provider="azure")


def test_check_options_accepts_defaults_and_refuses_a_classic_custom_size() -> None:
    check_options(DEFAULTS)
    with pytest.raises(InvalidOption):
        check_options(ImageOptions(model="gpt-image-1", size="2048x2048"))


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
    parsed = parse_command("<@U123|bob> &amp; <#C1|general> at <https://x.y|label> --size square", DEFAULTS)

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
    parsed = parse_command(f"a fox {dash}size portrait {dash}transparent", ImageOptions(model="gpt-image-1"))
    assert parsed.prompt == "a fox"
    assert parsed.options.size == "1024x1536" and parsed.options.transparent


def test_a_dash_word_that_is_not_an_option_stays_in_the_prompt() -> None:
    parsed = parse_command("a sign saying —hello", ImageOptions(model="gpt-image-1"))
    assert parsed.prompt == "a sign saying —hello"
