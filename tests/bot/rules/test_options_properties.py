"""bot/rules/options.py under any input: a usable ParsedCommand or a UserInputError with a message (an InvalidOption
names every problem once), nothing else.

The model names and qualities the inputs are made of come from the catalogue (tests/catalogue_helpers.py)."""

import re

from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.errors import InvalidOption, UserInputError
from bot.models import ImageOptions
from bot.rules.options import (
    MAX_N,
    Choices,
    ParsedCommand,
    check_options,
    is_help,
    parse_command,
    slack_to_plain,
)
from tests.catalogue_helpers import catalogue, choices, default_model, live, shut_down

OPENAI, AZURE = choices("openai"), choices("azure")
DEFAULTS = ImageOptions(model=default_model())
# The defaults a request may start from: every live model (OpenAI), and the fixed-size ones Azure still serves.
STARTS = [(ImageOptions(model=m), OPENAI) for m in live("openai")] + [
    (ImageOptions(model=m), AZURE) for m in live("azure", where=lambda c: not c.sizes.free)]
FREE = ImageOptions(model=live("openai", where=lambda c: c.sizes.free)[0])
GIF = ImageOptions(model=live("openai", where=lambda c: c.gif is not None)[0])
_CAPS = [catalogue().capabilities(m, "openai") for m in catalogue().ids]
MODEL_NAMES = sorted({*catalogue().ids, *(m for m in catalogue().builtin_data()["gone"] if not m.startswith("_"))})
QUALITY_WORDS = sorted({q for c in _CAPS if c for q in c.qualities})
FORMAT_WORDS = sorted({f for c in _CAPS if c for f in c.formats})
# What a token must look like to be read as an option (the module's own rule, written out independently).
OPTION_TOKEN = re.compile(r"--[a-z][a-z-]*(?:=.*)?", re.IGNORECASE | re.DOTALL)

CHEAP = settings(max_examples=300, deadline=None)

OPTION_TOKENS = [
    "--size", "--SIZE", "--n", "--quality", "--format", "--model", "--transparent", "--Transparent", "--help", "--",
    "--size=", "--n=", "--n=2", "--n=0", "--n=4", "--size=portrait", "--size=3840x2160", "--quality=HIGH",
    "--format=jpg", "--format=webp", "--format=gif", "--format=svg", "--frames", "--frames=4", "--frame-ms",
    "--frame-ms=100", "--complexity", "--complexity=high", "--moderation", "--moderation=low", "--fidelity",
    "--fidelity=high", "--quality=xhigh", "--quality=max", "--transparent=yes",
    "--bogus", "--x-y", "---", "--=x", "--1", "-n", "-", "—size", "--ſize", "--\u212aelvin", "--size=\u00a0",
    *(f"--model={m}" for m in MODEL_NAMES),
]
VALUES = [
    "square", "portrait", "landscape", "auto", "AUTO", "1024x1024", "1536x1024", "1024x1536", "2048x2048",
    "3840x2160", "3840x1280", "16x16", "1008x1008", "99999x99999", "00x00", "1024X1024", "１０２４x１０２４",
    "standard", "ultra", "1", "2", "4", "5", "0", "-1", "01", "16", "17", "655351", "²", "jpg", "JPG", "bmp",
    "low", "medium", "high", "off", "",
    *QUALITY_WORDS, *(q.upper() for q in QUALITY_WORDS), *FORMAT_WORDS, *MODEL_NAMES,
    *(m.upper() for m in MODEL_NAMES),
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


def check_parse(text: str, defaults: ImageOptions = DEFAULTS, where: Choices = OPENAI) -> ParsedCommand | None:
    """The contract; returns the ParsedCommand, or None when the input was refused properly."""
    try:
        parsed = parse_command(text, defaults, where)
    except UserInputError as error:
        assert str(error).strip(), f"{type(error).__name__} with an empty message"
        if isinstance(error, InvalidOption):  # every mistake at once, each said once, the first naming the option
            messages = [str(problem) for problem in error.problems]
            assert messages and all(m.strip() for m in messages) and len(set(messages)) == len(messages)
            assert error.option == error.problems[0].option
            assert all(message in str(error) for message in messages)
        return None
    assert isinstance(parsed, ParsedCommand)
    assert parsed.prompt.strip()
    check_options(parsed.options, where)  # raises if the combination would be refused
    options = parsed.options
    assert options.model in where.models
    assert options.model not in shut_down(where.provider, where.today)
    caps = where.caps(options.model)
    assert caps is not None
    assert len(parsed.prompt) <= caps.prompt_limit
    assert options.quality in caps.qualities
    assert options.output_format in caps.formats
    assert not caps.sizes.problems(options.size)
    assert 1 <= options.n <= min(MAX_N, caps.max_n)
    if options.frames is not None or options.frame_ms is not None:
        assert options.output_format == "gif" and caps.gif is not None
    if options.frames is not None:
        assert caps.gif is not None and caps.gif.min_frames <= options.frames <= caps.gif.max_frames
    if options.output_format == "svg":
        assert options.n == 1
    if options.complexity is not None:
        assert caps.complexity
    if options.transparent:
        assert caps.transparent and options.output_format in ("png", "webp")

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
@given(commands, st.sampled_from(STARTS))
@example("a cat --size portrait --n 2 -- --size landscape", (DEFAULTS, OPENAI))
@example("a logo --transparent --format jpg", (DEFAULTS, OPENAI))
@example("<@U1|bob> as a knight --quality=HIGH <#C1|general>", (DEFAULTS, OPENAI))
@example(f"--model {FREE.model} --size 3840x2160 a city", (DEFAULTS, OPENAI))
@example("a dance --format gif --frames 16 --frame-ms 100", (GIF, OPENAI))
@example("a dance --format gif --frames 17", (GIF, OPENAI))
@example("a logo --format svg --n 2", (GIF, OPENAI))
@example("a cat --format webp", (DEFAULTS, AZURE))
def test_commands_mixing_options_markup_and_quotes(text: str, start: tuple[ImageOptions, Choices]) -> None:
    defaults, where = start
    check_parse(text, defaults, where)


def test_the_starting_points_cover_both_providers_and_fixed_sizes() -> None:
    # A guard on the property above: its inputs must reach both providers and both kinds of size rule.
    assert {where.provider for _, where in STARTS} == {"openai", "azure"}
    assert {where.caps(options.model).sizes.free for options, where in STARTS} == {True, False}  # type: ignore[union-attr]


@settings(max_examples=50, deadline=None)
@given(long_commands)
def test_long_prompts_with_options(text: str) -> None:
    parsed = check_parse(text)
    if parsed is None:
        return
    limit = OPENAI.caps(parsed.options.model).prompt_limit  # type: ignore[union-attr]
    assert len(parsed.prompt) <= limit


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
    parsed = check_parse(f"a cat --size {size}", FREE)

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
