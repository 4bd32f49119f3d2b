"""Parse `/image` text into a prompt and options, and check options against what the model accepts.

    /image <prompt> [--size square|portrait|landscape|WxH|auto] [--quality low|medium|high|xhigh|max|auto]
                    [--n 1-4] [--transparent] [--format png|jpeg|webp|gif|svg] [--frames 2-16] [--frame-ms MS]
                    [--complexity low|medium|high] [--moderation low|auto] [--model NAME] [--fidelity high|low]

Which values a model takes is the catalogue's (bot/money/catalogue.json), seen through `Choices`: one provider on one
day. Options may stand anywhere in the text, as `--size portrait` or `--size=portrait`. A lone `--` ends the
options: everything after it is prompt, so a prompt can itself contain "--size". The mistakes in a request are
refused together, in one `InvalidOption` with a problem for each that names the valid values.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date

from bot.errors import InvalidOption, PromptTooLong
from bot.models import ImageOptions
from bot.money.catalogue import Catalogue
from bot.money.catalogue_records import Capabilities

SIZE_ALIASES = {"square": "1024x1024", "portrait": "1024x1536", "landscape": "1536x1024"}
#: What imagebot posts for one request at most (a product limit, below every model's own `max_n`).
MAX_N = 4
COMPLEXITIES = ("low", "medium", "high")
MODERATIONS = ("low", "auto")
FIDELITIES = ("high", "low")
VALUE_OPTIONS = ("size", "quality", "n", "format", "model", "fidelity", "complexity", "moderation", "frames",
                 "frame-ms")
FLAG_OPTIONS = ("transparent",)
HELP_WORDS = ("help", "--help", "-h", "?")
_ANY_QUALITY = ("low", "medium", "high", "auto")  # for a model the catalogue does not know: the API decides the rest

_OPTION_RE = re.compile(r"^--([a-z][a-z-]*)(?:=(.*))?$", re.IGNORECASE)


@dataclass(frozen=True)
class ParsedCommand:
    prompt: str
    options: ImageOptions


@dataclass(frozen=True)
class Choices:
    """What a request may ask for here today: the catalogue seen from one provider on one day.

    `only` narrows the models (an Azure deployment serves exactly the one it was made for)."""

    catalogue: Catalogue
    provider: str
    today: date
    only: tuple[str, ...] | None = None
    # Capabilities by model (asked three times a command); a Choices lives a day (bot/usecases/of_today.py).
    _caps: dict[str, Capabilities | None] = field(default_factory=dict, compare=False, repr=False)

    @property
    def models(self) -> tuple[str, ...]:
        if self.only is not None:
            return self.only
        return self.catalogue.live(self.provider, self.today)

    def caps(self, model: str) -> Capabilities | None:
        if model not in self._caps:
            self._caps[model] = self.catalogue.capabilities(model, self.provider)
        return self._caps[model]

    def refuse_model(self, model: str) -> InvalidOption:
        """Why `model` cannot be asked for, with the models that can."""
        live = f"Models: {', '.join(self.models)}."
        status = self.catalogue.status(model, self.provider)
        gone = self.catalogue.gone(model)
        if status.on(self.today) == "shut_down" or gone is not None:
            when = (status.shutdown or (gone.shutdown if gone else None))
            replacement = status.replacement or (gone.replacement if gone else None)
            instead = f" Its replacement is {replacement}." if replacement else ""
            day = f" on {when.isoformat()}" if when else ""
            return InvalidOption(f"`{model}` was shut down{day}.{instead} {live}", option="model")
        if model in self.catalogue and self.only is not None:
            return InvalidOption(f"`{model}` is not the model of this deployment. {live}", option="model")
        return InvalidOption(f"`--model {model}` is not available here. {live}", option="model")


def is_help(text: str) -> bool:
    stripped = text.strip().lower()
    return not stripped or stripped in HELP_WORDS


def parse_command(text: str, defaults: ImageOptions, choices: Choices) -> ParsedCommand:
    """Split `text` into prompt and options; apply them over `defaults`; validate for the model.

    Every mistake found is refused at once, in one InvalidOption whose `problems` name each (a missing prompt
    last), so a user fixes them all in one go. A prompt over the model's limit is a PromptTooLong when it is the
    only mistake. With a model that cannot be had, the values that depend on the model are not judged."""
    problems: list[InvalidOption] = []
    words, values, flags = _split(slack_to_plain(text).split(), defaults, choices, problems)
    return _parsed(" ".join(words), values, flags, defaults, choices, problems)


def parse_fields(prompt: str, values: dict[str, str], defaults: ImageOptions, choices: Choices) -> ParsedCommand:
    """The same rules for a prompt and options given one field each (a Workflow Builder step's inputs): `values`
    by option name (`size`, `quality`, `model`, ...; empty ones are not given), read as `--name value` would be."""
    given = {name: value.strip() for name, value in values.items() if value and value.strip()}
    problems = [InvalidOption(f"Unknown option `{name}`.", option=name) for name in given if name not in VALUE_OPTIONS]
    known = {name: value for name, value in given.items() if name in VALUE_OPTIONS}
    return _parsed(" ".join(prompt.split()), known, set(), defaults, choices, problems)


def _parsed(prompt: str, values: dict[str, str], flags: set[str], defaults: ImageOptions, choices: Choices,
            problems: list[InvalidOption]) -> ParsedCommand:
    options = defaults
    if "model" in values:
        try:
            options = replace(options, model=_model(values["model"], choices))
        except InvalidOption as problem:  # the options stay as they were
            problems.append(problem)
    if not any(problem.option == "model" for problem in problems):
        options = _apply(options, values, flags, choices.caps(options.model), choices, problems)
        # `--format bmp --frames 4` is one mistake, not also "frames are for gif" about the format kept instead.
        format_refused = any(problem.option == "format" for problem in problems)
        problems += [problem for problem in option_problems(options, choices)
                     if not (format_refused and problem.option == "frames")]
    caps = choices.caps(options.model)
    limit = caps.prompt_limit if caps else 32_000
    if not prompt:
        problems.append(InvalidOption("Add a prompt: what should the image show?", option="prompt"))
    elif len(prompt) > limit:
        if not problems:
            raise PromptTooLong(len(prompt), limit)
        problems.append(InvalidOption(str(PromptTooLong(len(prompt), limit)), option="prompt"))
    if problems:
        raise InvalidOption.joined(problems)
    if caps is not None and options.input_fidelity and options.input_fidelity not in caps.input_fidelity:
        # A model that reads every input at high fidelity takes no such field (the SDK says to omit it).
        options = replace(options, input_fidelity=None)
    return ParsedCommand(prompt=prompt, options=options)


def _split(tokens: list[str], defaults: ImageOptions, choices: Choices, problems: list[InvalidOption],
           ) -> tuple[list[str], dict[str, str], set[str]]:
    """The prompt's words, the options' values by name and the flags given. An unknown option, a flag with a
    value, a value missing or an option given twice is added to `problems`, and the reading goes on."""
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
                problems.append(InvalidOption(f"`--{name}` takes no value.", option=name))
            else:
                flags.add(name)
        elif name in VALUE_OPTIONS:
            if inline is None:
                if index >= len(tokens) or tokens[index].startswith("--"):
                    model = values.get("model", defaults.model)
                    problems.append(InvalidOption(
                        f"`--{name}` needs a value: {_valid_values(name, choices, model)}.", option=name))
                    continue
                inline = tokens[index]
                index += 1
            if name in values:
                problems.append(InvalidOption(f"`--{name}` is given twice.", option=name))
            else:
                values[name] = inline
        else:
            known = ", ".join(f"--{o}" for o in (*VALUE_OPTIONS, *FLAG_OPTIONS))
            problems.append(InvalidOption(
                f"Unknown option `--{name}`. Options: {known}. (Put `--` before text that is not an option.)",
                option=name))
    return words, values, flags


def _apply(options: ImageOptions, values: dict[str, str], flags: set[str], caps: Capabilities | None,
           choices: Choices, problems: list[InvalidOption]) -> ImageOptions:
    """`options` with the values given (but the model, already applied), each checked against its valid values;
    a value that is not valid is added to `problems` and leaves its option as it was."""

    def word(name: str, given: str, allowed: tuple[str, ...]) -> str:
        if given.lower() not in allowed:
            raise InvalidOption(f"`--{name} {given}` is not valid: {_valid_values(name, choices, options.model)}.",
                                option=name)
        return given.lower()

    if "format" in values:
        values["format"] = values["format"].lower().replace("jpg", "jpeg")
    qualities = caps.qualities if caps else _ANY_QUALITY
    formats = caps.formats if caps else ("png", "jpeg", "webp")
    gif = caps.gif if caps else None
    low, high = (gif.min_frames, gif.max_frames) if gif else (2, 16)
    longest = gif.max_frame_ms if gif else 655_350
    # (option, the attribute it sets, how its value is read): the model's own values, its own limits.
    readers: tuple[tuple[str, str, Callable[[str], object]], ...] = (
        ("size", "size", lambda v: _size(v, choices, options.model)),
        ("quality", "quality", lambda v: word("quality", v, qualities)),
        ("n", "n", lambda v: _whole(v, "n", 1, MAX_N)),
        ("format", "output_format", lambda v: word("format", v, formats)),
        ("fidelity", "input_fidelity", lambda v: word("fidelity", v, FIDELITIES)),
        ("complexity", "complexity", lambda v: word("complexity", v, COMPLEXITIES)),
        ("moderation", "moderation", lambda v: word("moderation", v, MODERATIONS)),
        ("frames", "frames", lambda v: _whole(v, "frames", low, high)),
        ("frame-ms", "frame_ms", lambda v: _whole(v, "frame-ms", 10, longest)),
    )
    changes: dict[str, object] = {"transparent": True} if "transparent" in flags else {}
    for name, attribute, reader in readers:
        if name in values:
            try:
                changes[attribute] = reader(values[name])
            except InvalidOption as problem:  # the option stays as it was; the reading goes on
                problems.append(problem)
    # One new ImageOptions for all the changes: one for each was a tenth of reading a command (issue 16).
    return replace(options, **changes) if changes else options  # type: ignore[arg-type]


def check_options(options: ImageOptions, choices: Choices) -> None:
    """Reject what the model would refuse, and combinations the API refuses, before any money is at stake: one
    InvalidOption naming every problem (`option_problems`)."""
    problems = option_problems(options, choices)
    if problems:
        raise InvalidOption.joined(problems)


def option_problems(options: ImageOptions, choices: Choices) -> list[InvalidOption]:
    """What the model would refuse in `options`, and combinations the API refuses; [] when there is nothing."""
    caps = choices.caps(options.model)
    if caps is None:
        return []  # a model the catalogue does not know (an operator's IMAGEBOT_MODEL): the API decides
    model = options.model
    found: list[InvalidOption] = []

    def problem(message: str, option: str) -> None:
        found.append(InvalidOption(message, option=option))

    sizes = caps.sizes.problems(options.size)
    if sizes:
        problem(f"`--size {options.size}` does not work for {model}: {'; '.join(sizes)}.", "size")
    if options.quality not in caps.qualities:
        problem(f"{model} has no quality {options.quality}: {_or(caps.qualities)}.", "quality")
    if options.output_format not in caps.formats:
        where = " on Azure OpenAI" if choices.provider == "azure" else ""
        problem(f"{model} does not make {options.output_format}{where}; it makes {_or(caps.formats)}.", "format")
    if options.transparent and options.output_format not in ("png", "webp"):
        problem("A transparent background needs `--format png` or `--format webp`.", "format")
    if options.transparent and not caps.transparent:
        problem(f"{model} does not make transparent backgrounds; use {_or(models_with(choices, 'transparent'))}.",
                "transparent")
    if options.input_fidelity == "high" and "high" not in caps.input_fidelity and not caps.inputs_high_fidelity:
        problem(f"{model} does not support `--fidelity high`; use {_or(models_with(choices, 'input_fidelity'))} "
                "for a closer match to faces and logos.", "fidelity")
    if options.complexity and not caps.complexity:
        problem(f"{model} has no `--complexity`; use {_or(models_with(choices, 'complexity'))}.", "complexity")
    if options.moderation and not caps.moderation:
        problem(f"{model} has no `--moderation` setting.", "moderation")
    if options.output_format != "gif" and (options.frames or options.frame_ms):
        problem("`--frames` and `--frame-ms` are for `--format gif`.", "frames")
    if options.output_format == "svg" and options.n > 1:
        problem("An SVG comes one at a time: ask for 1 image with the svg format.", "n")
    if options.n > caps.max_n:
        problem(f"{model} makes at most {caps.max_n} images a request.", "n")
    return found


def fit_options(options: ImageOptions, caps: Capabilities) -> tuple[ImageOptions, tuple[str, ...]]:
    """Options a model can take, for a request whose options were chosen for another model (a thread started on a
    model since shut down, a Retry): what it lacks is dropped or set to its default, with a note for each.
    Streaming is switched off for GIF and SVG, which never stream."""
    notes = []
    if caps.sizes.problems(options.size):
        notes.append(f"size {options.size} became auto")
        options = replace(options, size="auto")
    if options.quality not in caps.qualities:
        notes.append(f"quality {options.quality} became auto")
        options = replace(options, quality="auto")
    if options.output_format not in caps.formats:
        notes.append(f"format {options.output_format} became png")
        options = replace(options, output_format="png", frames=None, frame_ms=None)
    if options.transparent and not caps.transparent:
        notes.append("the transparent background was dropped")
        options = replace(options, transparent=False)
    if options.input_fidelity and options.input_fidelity not in caps.input_fidelity:
        # Models that read every input at high fidelity take no such field; nothing is lost by leaving it out.
        options = replace(options, input_fidelity=None)
    if options.complexity and not caps.complexity:
        options = replace(options, complexity=None)
    if options.moderation and not caps.moderation:
        options = replace(options, moderation=None)
    if options.partial_images and not caps.streams(options.output_format):
        options = replace(options, partial_images=0)
    elif options.partial_images > caps.max_partial_images:
        options = replace(options, partial_images=caps.max_partial_images)
    return options, tuple(notes)


def models_with(choices: Choices, capability: str) -> tuple[str, ...]:
    """The models here (aliases, not snapshots) that have `capability`, a truthy Capabilities field, for "use …"
    advice; ("another model",) when none has it."""
    found = []
    for model in choices.models:
        caps, entry = choices.caps(model), choices.catalogue.get(model)
        if caps is not None and getattr(caps, capability) and entry is not None and not entry.snapshot_of:
            found.append(model)
    return tuple(found) or ("another model",)


def _or(values: tuple[str, ...]) -> str:
    return values[0] if len(values) == 1 else f"{', '.join(values[:-1])} or {values[-1]}"


def _dashes(token: str) -> str:
    """Slack on macOS and phones turns a typed "--" into "—" (or "–"): read "—size" as "--size"."""
    if token[:1] in ("—", "–") and _OPTION_RE.match("--" + token[1:]):
        name = token[1:].split("=", 1)[0].lower()
        if name in VALUE_OPTIONS or name in FLAG_OPTIONS:
            return "--" + token[1:]
    return token


def _model(value: str, choices: Choices) -> str:
    model = value.strip().lower()
    if model not in choices.models:
        raise choices.refuse_model(model)
    return model


def _size(value: str, choices: Choices, model: str) -> str:
    size = value.strip().lower()
    size = SIZE_ALIASES.get(size, size)
    if size == "auto" or re.fullmatch(r"[0-9]{2,5}x[0-9]{2,5}", size):  # ASCII digits: \d takes "１０２４" too
        return size
    raise InvalidOption(f"`--size {value}` is not valid: {_valid_values('size', choices, model)}.", option="size")


def _whole(value: str, name: str, low: int, high: int) -> int:
    if not re.fullmatch(r"[0-9]{1,6}", value) or not low <= int(value) <= high:
        raise InvalidOption(f"`--{name} {value}` is not valid: a whole number from {low} to {high}.", option=name)
    return int(value)


def _valid_values(option: str, choices: Choices, model: str) -> str:
    caps = choices.caps(model)
    if option == "size":
        return "square, portrait, landscape, " + (caps.sizes.describe() if caps else "WIDTHxHEIGHT or auto")
    if option == "quality" and caps:
        return _or(caps.qualities)
    if option == "format" and caps:
        return _or(caps.formats)
    if option == "frames" and caps and caps.gif:
        return f"{caps.gif.min_frames} to {caps.gif.max_frames} (with --format gif)"
    return {
        "n": f"1 to {MAX_N}",
        "model": ", ".join(choices.models),
        "fidelity": "high or low (for edits)",
        "complexity": _or(COMPLEXITIES),
        "moderation": _or(MODERATIONS),
        "frames": "2 to 16 (with --format gif)",
        "frame-ms": "milliseconds per frame (with --format gif)",
        "quality": "low, medium, high or auto",
        "format": "png, jpeg or webp",
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
