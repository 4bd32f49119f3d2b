"""bot/options.py under any input: a usable ParsedCommand or a UserInputError with a message, nothing else."""

import re

from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.errors import UserInputError
from bot.models import ImageOptions
from bot.options import (
    FORMATS,
    KNOWN_MODELS,
    MAX_N,
    PROMPT_LIMIT,
    QUALITIES,
    ParsedCommand,
    check_options,
    is_help,
    parse_command,
    slack_to_plain,
)

DEFAULTS = ImageOptions(model="gpt-image-1")
GPT2 = ImageOptions(model="gpt-image-2")
# What a token must look like to be read as an option (the module's own rule, written out independently).
OPTION_TOKEN = re.compile(r"--[a-z][a-z-]*(?:=.*)?", re.IGNORECASE | re.DOTALL)

CHEAP = settings(max_examples=300, deadline=None)

OPTION_TOKENS = [
    "--size", "--SIZE", "--n", "--quality", "--format", "--model", "--transparent", "--Transparent", "--help", "--",
    "--size=", "--n=", "--n=2", "--n=0", "--n=4", "--size=portrait", "--size=3840x2160", "--quality=HIGH",
    "--format=jpg", "--format=webp", "--model=gpt-image-2", "--model=gpt-image-1-mini", "--transparent=yes",
    "--bogus", "--x-y", "---", "--=x", "--1", "-n", "-", "—size", "--ſize", "--\u212aelvin", "--size=\u00a0",
]
VALUES = [
    "square", "portrait", "landscape", "auto", "AUTO", "1024x1024", "1536x1024", "1024x1536", "2048x2048",
    "3840x2160", "3840x1280", "16x16", "1008x1008", "99999x99999", "00x00", "1024X1024", "１０２４x１０２４",
    "low", "medium", "HIGH", "standard", "1", "2", "4", "5", "0", "-1", "01", "²", "png", "jpeg", "webp", "jpg",
    "JPG", "gif", "gpt-image-1", "gpt-image-1-mini", "gpt-image-1.5", "gpt-image-2", "GPT-IMAGE-2", "dall-e-3", "",
]
MARKUP = [
    "<@U1|x>", "<@U1>", "<#C1>", "<#C1|general>", "<http://a|b>", "<http://a>", "<!here>", "<!subteam^S1|@devs>",
    "&lt;", "&gt;", "&amp;", "&amp;lt;", "&#45;&#45;size", "&#x2d;-n", "<http://a|--size>", "<@U1|--n>", "<", ">",
    "<<>>", "&", "&#0;", "&#x110000;", "&nbsp;",
]
ODD = ['"', "'", '"a cat', "“", "”", "`", "```", "\0", "\x1f", "\u202e", "مرحبا", "שלום", "🐱", "👩\u200d💻", "\u3000",
       "\u2028", "\x85", "\ufeff", "e\u0301"]
SEPARATORS = [" ", "  ", "\n", "\t", "\u3000", "\u00a0", "\r\n"]

tokens = st.one_of(
    st.sampled_from(OPTION_TOKENS), st.sampled_from(VALUES), st.sampled_from(MARKUP), st.sampled_from(ODD),
    st.text(min_size=1, max_size=12),
)
commands = st.builds(
    lambda parts, seps: "".join(p + seps[i % len(seps)] for i, p in enumerate(parts)),
    st.lists(tokens, max_size=14), st.lists(st.sampled_from(SEPARATORS), min_size=1, max_size=4),
)
# Long prompts near and over the 32,000-character limit, with options around them.
long_commands = st.builds(
    lambda chunk, count, before, after: f"{before} {chunk * count} {after}",
    st.text(min_size=1, max_size=6), st.integers(5_000, 40_000), st.sampled_from(["", "--n 2", "--size"]),
    st.sampled_from(["", "--quality low", "-- --n 9"]),
)


def check_parse(text: str, defaults: ImageOptions = DEFAULTS) -> ParsedCommand | None:
    """The contract; returns the ParsedCommand, or None when the input was refused properly."""
    try:
        parsed = parse_command(text, defaults)
    except UserInputError as error:
        assert str(error).strip(), f"{type(error).__name__} with an empty message"
        return None
    assert isinstance(parsed, ParsedCommand)
    assert parsed.prompt.strip()
    assert len(parsed.prompt) <= PROMPT_LIMIT
    check_options(parsed.options)  # raises if the combination would be refused
    options = parsed.options
    assert options.model in KNOWN_MODELS
    assert options.quality in QUALITIES
    assert options.output_format in FORMATS
    assert 1 <= options.n <= MAX_N

    # No option token that was read as an option is left in the prompt: everything before a lone `--` that looks
    # like an option is gone, and everything after it is kept word for word.
    plain = slack_to_plain(text).split()
    tail = plain[plain.index("--") + 1:] if "--" in plain else []
    words = parsed.prompt.split()
    head = words[: len(words) - len(tail)]
    assert words[len(head):] == tail
    assert not [word for word in head if OPTION_TOKEN.fullmatch(word)]
    return parsed


@CHEAP
@given(st.text())
@example("")
@example("\0")
@example("--")
@example("-- --size")
@example("--size")
@example("a cat --size=portrait --size=portrait")
@example("a " * 16_001)
@example("x" * 32_000)
@example("x" * 32_001)
@example("<@U1|--size> portrait cat")
@example("&#45;&#45;n 3 cats")
def test_any_text_parses_or_is_refused_with_a_message(text: str) -> None:
    check_parse(text)


@settings(max_examples=40, deadline=None)
@given(st.builds(lambda pieces, length: ("".join(pieces) * length)[:length],
                 st.lists(st.text(min_size=1, max_size=50), min_size=1, max_size=20), st.integers(30_000, 40_000)))
@example("x" * 40_000)
@example(" " * 40_000)
def test_very_long_text_parses_or_is_refused_with_a_message(text: str) -> None:
    check_parse(text)


@CHEAP
@given(commands, st.sampled_from([DEFAULTS, GPT2]))
@example("a cat --size portrait --n 2 -- --size landscape", DEFAULTS)
@example("a logo --transparent --format jpg", DEFAULTS)
@example("<@U1|bob> as a knight --quality=HIGH <#C1|general>", DEFAULTS)
@example("--model gpt-image-2 --size 3840x2160 a city", DEFAULTS)
def test_commands_mixing_options_markup_and_quotes(text: str, defaults: ImageOptions) -> None:
    check_parse(text, defaults)


@settings(max_examples=50, deadline=None)
@given(long_commands)
def test_long_prompts_with_options(text: str) -> None:
    parsed = check_parse(text)
    if parsed is None:
        return
    assert len(parsed.prompt) <= PROMPT_LIMIT


def test_a_consumed_option_really_is_consumed() -> None:
    # A guard on the property itself: it must see the difference between a consumed option and prompt text.
    parsed = check_parse("a cat --size portrait -- --n 2")

    assert parsed is not None
    assert parsed.prompt == "a cat --n 2"
    assert parsed.options.size == "1024x1536"


@CHEAP
@given(st.builds(lambda w, h, sep: f"{w}{sep}{h}",
                 st.text(st.characters(categories=["Nd"]), min_size=2, max_size=5),
                 st.text(st.characters(categories=["Nd"]), min_size=2, max_size=5),
                 st.sampled_from(["x", "X"])))
@example("１０２４x１０２４")
@example("١٠٢٤x١٠٢٤")
def test_a_size_that_is_accepted_is_plain_ascii(size: str) -> None:
    parsed = check_parse(f"a cat --model gpt-image-2 --size {size}")

    if parsed is not None:
        assert re.fullmatch(r"auto|[0-9]+x[0-9]+", parsed.options.size), parsed.options.size


@CHEAP
@given(st.text())
@example("<@U1|x> <#C1> <http://a|b> &lt; &amp;")
@example("<!subteam^S1> <<@U1>> &#x110000; &#0;")
def test_slack_to_plain_never_raises(text: str) -> None:
    assert isinstance(slack_to_plain(text), str)


@CHEAP
@given(st.text(st.characters(exclude_characters="<&")))
def test_slack_to_plain_leaves_text_without_markup_alone(text: str) -> None:
    plain = slack_to_plain(text)

    assert plain == text
    assert slack_to_plain(plain) == plain


@CHEAP
@given(st.one_of(st.text(), st.sampled_from([" help ", "HELP", "-h", "?", "--help", "\t", "help me"])))
def test_is_help_never_raises(text: str) -> None:
    assert is_help(text) in (True, False)
    assert is_help(text) == (not text.strip() or text.strip().lower() in ("help", "--help", "-h", "?"))
