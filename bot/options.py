"""Parse `/image` text into a prompt and options, and check options against what the model accepts.

    /image <prompt> [--size square|portrait|landscape|1024x1024|1536x1024|1024x1536|auto]
                    [--quality low|medium|high|auto] [--n 1-4] [--transparent]
                    [--format png|jpeg|webp] [--model NAME] [--fidelity high|low]

Options may stand anywhere in the text, as `--size portrait` or `--size=portrait`. A lone `--` ends the
options: everything after it is prompt, so a prompt can itself contain "--size". Every mistake raises
`InvalidOption` with a message that names the valid values.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, replace

from bot.errors import InvalidOption, PromptTooLong
from bot.models import ImageOptions
from bot.tokens import is_gpt_image_2

SIZE_ALIASES = {"square": "1024x1024", "portrait": "1024x1536", "landscape": "1536x1024"}
CLASSIC_SIZES = ("1024x1024", "1536x1024", "1024x1536", "auto")
QUALITIES = ("low", "medium", "high", "auto")
FORMATS = ("png", "jpeg", "webp")
MAX_N = 4
PROMPT_LIMIT = 32_000  # characters, for every GPT image model
KNOWN_MODELS = ("gpt-image-1", "gpt-image-1-mini", "gpt-image-1.5", "gpt-image-2")
VALUE_OPTIONS = ("size", "quality", "n", "format", "model", "fidelity")
FLAG_OPTIONS = ("transparent",)
HELP_WORDS = ("help", "--help", "-h", "?")

_OPTION_RE = re.compile(r"^--([a-z][a-z-]*)(?:=(.*))?$", re.IGNORECASE)


@dataclass(frozen=True)
class ParsedCommand:
    prompt: str
    options: ImageOptions


def is_help(text: str) -> bool:
    stripped = text.strip().lower()
    return not stripped or stripped in HELP_WORDS


def parse_command(text: str, defaults: ImageOptions, *, allowed_models: tuple[str, ...] = KNOWN_MODELS,
                  provider: str = "openai") -> ParsedCommand:
    """Split `text` into prompt and options; apply them over `defaults`; validate for the model."""
    tokens = slack_to_plain(text).split()
    words: list[str] = []
    values: dict[str, str] = {}
    flags: set[str] = set()
    index = 0
    while index < len(tokens):
        token = tokens[index]
        index += 1
        if token == "--":
            words.extend(tokens[index:])  # verbatim: after "--" nothing is an option, not even "—size"
            break
        match = _OPTION_RE.match(_dashes(token))
        if not match:
            words.append(token)
            continue
        name, inline = match.group(1).lower(), match.group(2)
        if name in FLAG_OPTIONS:
            if inline is not None:
                raise InvalidOption(f"`--{name}` takes no value.", option=name)
            flags.add(name)
        elif name in VALUE_OPTIONS:
            if inline is None:
                if index >= len(tokens) or tokens[index].startswith("--"):
                    raise InvalidOption(f"`--{name}` needs a value: {_valid_values(name)}.", option=name)
                inline = tokens[index]
                index += 1
            if name in values:
                raise InvalidOption(f"`--{name}` is given twice.", option=name)
            values[name] = inline
        else:
            known = ", ".join(f"--{o}" for o in (*VALUE_OPTIONS, *FLAG_OPTIONS))
            raise InvalidOption(
                f"Unknown option `--{name}`. Options: {known}. (Put `--` before text that is not an option.)",
                option=name,
            )

    prompt = " ".join(words)
    if not prompt:
        raise InvalidOption("Add a prompt: what should the image show?", option="prompt")
    if len(prompt) > PROMPT_LIMIT:
        raise PromptTooLong(len(prompt), PROMPT_LIMIT)

    options = defaults
    if "model" in values:
        options = replace(options, model=_model(values["model"], allowed_models))
    if "size" in values:
        options = replace(options, size=_size(values["size"]))
    if "quality" in values:
        quality = values["quality"].lower()
        if quality not in QUALITIES:
            raise InvalidOption(f"`--quality {values['quality']}` is not valid: {_valid_values('quality')}.",
                                option="quality")
        options = replace(options, quality=quality)
    if "n" in values:
        options = replace(options, n=_n(values["n"]))
    if "format" in values:
        fmt = values["format"].lower().replace("jpg", "jpeg")
        if fmt not in FORMATS:
            raise InvalidOption(f"`--format {values['format']}` is not valid: {_valid_values('format')}.",
                                option="format")
        options = replace(options, output_format=fmt)
    if "transparent" in flags:
        options = replace(options, transparent=True)
    if "fidelity" in values:
        fidelity = values["fidelity"].lower()
        if fidelity not in ("high", "low"):
            raise InvalidOption(f"`--fidelity {values['fidelity']}` is not valid: {_valid_values('fidelity')}.",
                                option="fidelity")
        options = replace(options, input_fidelity=fidelity)
    check_options(options, provider=provider)
    return ParsedCommand(prompt=prompt, options=options)


def check_options(options: ImageOptions, *, provider: str = "openai") -> None:
    """Reject combinations the image API would refuse, before any money is at stake."""
    if is_gpt_image_2(options.model):
        _check_free_size(options.size)
    elif options.size not in CLASSIC_SIZES:
        raise InvalidOption(
            f"{options.model} makes {', '.join(CLASSIC_SIZES)} (or square, portrait, landscape); "
            f"{options.size} needs gpt-image-2.",
            option="size",
        )
    if options.transparent:
        if options.output_format == "jpeg":
            raise InvalidOption("A transparent background needs `--format png` or `--format webp`.", option="format")
        if is_gpt_image_2(options.model):
            raise InvalidOption("gpt-image-2 does not make transparent backgrounds; use another model.",
                                option="transparent")
    if options.input_fidelity == "high" and options.model == "gpt-image-1-mini":
        raise InvalidOption("gpt-image-1-mini does not support `--fidelity high`; use gpt-image-1 or gpt-image-1.5 "
                            "for a closer match to faces and logos.", option="fidelity")
    if provider == "azure" and options.output_format == "webp":
        raise InvalidOption("Azure OpenAI does not return webp; use `--format png` or `--format jpeg`.",
                            option="format")


def _dashes(token: str) -> str:
    """Slack on macOS and phones turns a typed "--" into "—" (or "–"): read "—size" as "--size"."""
    if token[:1] in ("—", "–") and _OPTION_RE.match("--" + token[1:]):
        name = token[1:].split("=", 1)[0].lower()
        if name in VALUE_OPTIONS or name in FLAG_OPTIONS:
            return "--" + token[1:]
    return token


def _model(value: str, allowed: tuple[str, ...]) -> str:
    model = value.strip().lower()
    if model not in allowed:
        raise InvalidOption(f"`--model {value}` is not available here. Models: {', '.join(allowed)}.", option="model")
    return model


def _size(value: str) -> str:
    size = value.strip().lower()
    size = SIZE_ALIASES.get(size, size)
    if size == "auto" or re.fullmatch(r"[0-9]{2,5}x[0-9]{2,5}", size):  # ASCII digits: \d takes "１０２４" too
        return size
    raise InvalidOption(f"`--size {value}` is not valid: {_valid_values('size')}.", option="size")


def _check_free_size(size: str) -> None:
    """gpt-image-2's rules (§1a): edges multiples of 16, long edge ≤ 3840, ratio ≤ 3:1, 655,360–8,294,400 px."""
    if size == "auto":
        return
    width, height = (int(v) for v in size.split("x"))
    long, short = max(width, height), min(width, height)
    problems = []
    if width % 16 or height % 16:
        problems.append("both edges must be multiples of 16")
    if long > 3840:
        problems.append("the long edge must be at most 3840")
    if long > 3 * short:
        problems.append("the long edge must be at most 3 × the short edge")
    if not 655_360 <= width * height <= 8_294_400:
        problems.append("the area must be between 655,360 and 8,294,400 pixels")
    if problems:
        raise InvalidOption(f"`--size {size}` does not work for gpt-image-2: {'; '.join(problems)}.", option="size")


def _n(value: str) -> int:
    if not re.fullmatch(r"[0-9]{1,3}", value) or not 1 <= int(value) <= MAX_N:
        raise InvalidOption(f"`--n {value}` is not valid: a whole number from 1 to {MAX_N}.", option="n")
    return int(value)


def _valid_values(option: str) -> str:
    return {
        "size": "square, portrait, landscape, 1024x1024, 1536x1024, 1024x1536 or auto",
        "quality": "low, medium, high or auto",
        "n": f"1 to {MAX_N}",
        "format": "png, jpeg or webp",
        "model": ", ".join(KNOWN_MODELS),
        "fidelity": "high or low (for edits)",
    }[option]


_SLACK_LINK_RE = re.compile(r"<([@#!]?)([^<>|]*)(?:\|([^<>]*))?>")


def slack_to_plain(text: str) -> str:
    """Turn Slack's message markup into the words a person sees.

    Slack sends `&`, `<` and `>` escaped, and mentions and links as `<@U123|bob>`, `<#C123|general>`,
    `<https://x|label>`; the image model should read "@bob", "#general" and the link.
    """

    def visible(match: re.Match[str]) -> str:
        sigil, target, label = match.groups()
        if sigil == "@":
            return "@" + (label or target).lstrip("@")
        if sigil == "#":
            return "#" + (label or target).lstrip("#")
        if sigil == "!":  # <!here>, <!channel>, <!subteam^S123|@devs>
            return "@" + (label or target.split("^")[0]).lstrip("@")
        return target

    return html.unescape(_SLACK_LINK_RE.sub(visible, text))
