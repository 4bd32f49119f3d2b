"""Modals, built by pure functions that return plain dicts; submissions parsed back. (What goes under a result,
the cost confirmation and the grid's words are in handlers/ui/results.py.)

Slack limits these builders keep (https://docs.slack.dev/reference/block-kit):
a modal's title, submit and close ≤ 24 characters, ≤ 100 blocks, `private_metadata` ≤ 3000; `block_id` and
`action_id` ≤ 255; a select's options ≤ 100, each option's text ≤ 75 and value ≤ 150; a plain_text_input's
`max_length` between 1 and 3000.

A submitted modal arrives as `view["state"]["values"]`, shaped `{block_id: {action_id: state}}` where state is
`{"type": "plain_text_input", "value": str | None}`, `{"type": "static_select", "selected_option": option |
None}` or `{"type": "checkboxes", "selected_options": [option, ...]}`.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from bot.errors import InvalidOption
from bot.models import ImageOptions
from bot.rules.options import MAX_N, SIZE_ALIASES, Choices, check_options
from handlers.ui.blocks import clip

# Slack limits.
TITLE_LIMIT = 24
OPTION_TEXT_LIMIT = 75
OPTIONS_LIMIT = 100
METADATA_LIMIT = 3000
# Slack refuses a plain_text_input whose max_length is over 3000 (views.open fails), so a prompt typed in the
# modal is shorter than the 32,000 characters `/image` text may carry.
INPUT_LIMIT = 3000
MODAL_INPUT_LIMIT = INPUT_LIMIT  # every model's prompt limit (the catalogue's prompt_limit) is far above it

# The /image modal.
IMAGE_MODAL = "imagebot_image_modal"
PROMPT_BLOCK, PROMPT_ACTION = "imagebot_prompt", "prompt"
SIZE_BLOCK, SIZE_ACTION = "imagebot_size", "size"
QUALITY_BLOCK, QUALITY_ACTION = "imagebot_quality", "quality"
N_BLOCK, N_ACTION = "imagebot_n", "n"
TRANSPARENT_BLOCK, TRANSPARENT_ACTION = "imagebot_transparent", "transparent"
FORMAT_BLOCK, FORMAT_ACTION = "imagebot_format", "format"
MODEL_BLOCK, MODEL_ACTION = "imagebot_model", "model"
TRANSPARENT_VALUE = "transparent"

# The "Edit with imagebot" modal; its quality select shares QUALITY_BLOCK so one error map serves both.
EDIT_MODAL = "imagebot_edit_modal"
INSTRUCTION_BLOCK, INSTRUCTION_ACTION = "imagebot_instruction", "instruction"

# InvalidOption.option (bot/rules/options.py names) → the input block that shows the error.
OPTION_BLOCKS = {
    "prompt": PROMPT_BLOCK,
    "size": SIZE_BLOCK,
    "quality": QUALITY_BLOCK,
    "n": N_BLOCK,
    "transparent": TRANSPARENT_BLOCK,
    "format": FORMAT_BLOCK,
    "model": MODEL_BLOCK,
    "instruction": INSTRUCTION_BLOCK,
}

SIZE_CHOICES = (
    ("Square (1024×1024)", SIZE_ALIASES["square"]),
    ("Portrait (1024×1536)", SIZE_ALIASES["portrait"]),
    ("Landscape (1536×1024)", SIZE_ALIASES["landscape"]),
    ("Auto (the model decides)", "auto"),
)
_FORMAT_NAMES = {"png": "PNG", "jpeg": "JPEG", "webp": "WebP", "gif": "GIF (animated)", "svg": "SVG (vector)"}
_QUALITY_NAMES = {"xhigh": "Extra high", "max": "Max"}
N_CHOICES = tuple((f"{n} image{'s' if n > 1 else ''}", str(n)) for n in range(1, MAX_N + 1))

_SIZE_RE = re.compile(r"[0-9]{2,5}x[0-9]{2,5}")  # ASCII digits only, as bot/rules/options.py reads them
_CLI_VALUE_RE = re.compile(r"`--[a-z-]+[ =]([^`]+)`")


# Small composition objects ---------------------------------------------------------------------------------


def _plain(text: str, limit: int | None = None) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit) if limit else text, "emoji": True}


def _option(text: str, value: str) -> dict[str, Any]:
    return {"text": _plain(text, OPTION_TEXT_LIMIT), "value": value}


def _input(block_id: str, label: str, element: dict[str, Any], *, optional: bool = False,
           hint: str | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "input", "block_id": block_id, "label": _plain(label), "element": element,
                             "optional": optional}
    if hint:
        block["hint"] = _plain(hint)
    return block


def _select(action_id: str, choices: tuple[tuple[str, str], ...], initial: str | None,
            placeholder: str) -> dict[str, Any]:
    """A static_select. Slack refuses an `initial_option` that is not one of the options, so it is set only
    when `initial` is among `choices`."""
    options = [_option(text, value) for text, value in choices[:OPTIONS_LIMIT]]
    element: dict[str, Any] = {"type": "static_select", "action_id": action_id, "placeholder": _plain(placeholder),
                               "options": options}
    for option in options:
        if option["value"] == initial:
            element["initial_option"] = option
    return element


def _text_input(action_id: str, initial: str, placeholder: str, *, focus: bool) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "plain_text_input", "action_id": action_id, "multiline": True,
                               "max_length": MODAL_INPUT_LIMIT, "placeholder": _plain(placeholder, 150),
                               "focus_on_load": focus}
    if initial:
        element["initial_value"] = clip(initial, MODAL_INPUT_LIMIT)
    return element


def _modal(callback_id: str, title: str, submit: str, blocks: list[dict[str, Any]],
           private_metadata: str) -> dict[str, Any]:
    if len(private_metadata) > METADATA_LIMIT:
        # Clipping would corrupt what the submission handler reads back (a channel id, a message ts).
        raise ValueError(f"private_metadata is {len(private_metadata)} characters; Slack allows {METADATA_LIMIT}")
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": callback_id,
        "title": _plain(title, TITLE_LIMIT),
        "submit": _plain(submit, TITLE_LIMIT),
        "close": _plain("Cancel", TITLE_LIMIT),
        "blocks": blocks,
    }
    if private_metadata:  # Slack sends "" back in view_submission when there is none
        view["private_metadata"] = private_metadata
    return view


# The /image modal -------------------------------------------------------------------------------------------


def offered(choices: Choices, what: str) -> tuple[str, ...]:
    """Every value of `what` ("qualities", "formats") that some offered model takes, in catalogue order. A modal's
    selects cannot depend on each other, so the union is offered and the submission is checked per model."""
    found: dict[str, None] = {}
    for model in choices.models:
        caps = choices.caps(model)
        for value in (getattr(caps, what) if caps else ()):
            found[value] = None
    return tuple(found) or (("low", "medium", "high", "auto") if what == "qualities" else ("png", "jpeg", "webp"))


def _quality_choices(qualities: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    return tuple((_QUALITY_NAMES.get(q, q.capitalize()), q) for q in qualities)


def build_image_modal(defaults: ImageOptions, choices: Choices, *, prompt: str = "",
                      private_metadata: str = "") -> dict[str, Any]:
    """The modal `/image` with no text opens: a prompt and every option, preset to `defaults`.

    Only the models `choices` offers are offered, with the qualities and formats they take (from the catalogue).
    `private_metadata` carries what the submission needs back (the channel id).
    """
    models = choices.models
    if not models:
        raise ValueError("the image modal needs at least one model to offer")
    sizes: tuple[tuple[str, str], ...] = SIZE_CHOICES
    if defaults.size not in {value for _, value in sizes}:  # a configured free size such as 2048x1152
        sizes = (*sizes, (defaults.size.replace("x", "×"), defaults.size))
    transparent = _option("Transparent background", TRANSPARENT_VALUE)
    without = [m for m in models if (caps := choices.caps(m)) is not None and not caps.transparent]
    hint = "PNG or WebP only" + (f"; not {', '.join(without)}" if without else "")
    transparent["description"] = _plain(hint, OPTION_TEXT_LIMIT)
    checkboxes: dict[str, Any] = {"type": "checkboxes", "action_id": TRANSPARENT_ACTION, "options": [transparent]}
    if defaults.transparent:
        checkboxes["initial_options"] = [transparent]
    formats = tuple((_FORMAT_NAMES.get(f, f), f) for f in offered(choices, "formats"))
    model_choices = tuple((m, m) for m in models[:OPTIONS_LIMIT])
    blocks = [
        _input(PROMPT_BLOCK, "Prompt", _text_input(PROMPT_ACTION, prompt, "A lighthouse at dusk, oil painting",
                                                   focus=True)),
        _input(SIZE_BLOCK, "Size", _select(SIZE_ACTION, sizes, defaults.size, "Choose a size")),
        _input(QUALITY_BLOCK, "Quality", _select(QUALITY_ACTION, _quality_choices(offered(choices, "qualities")),
                                                 defaults.quality, "Choose a quality"),
               hint="Higher quality costs more."),
        _input(N_BLOCK, "Number of images", _select(N_ACTION, N_CHOICES, str(defaults.n), "How many")),
        # A checkbox input that is not optional makes Slack insist that a box is ticked.
        _input(TRANSPARENT_BLOCK, "Background", checkboxes, optional=True),
        _input(FORMAT_BLOCK, "Output format", _select(FORMAT_ACTION, formats, defaults.output_format,
                                                      "Choose a format")),
        _input(MODEL_BLOCK, "Model", _select(MODEL_ACTION, model_choices, defaults.model, "Choose a model")),
    ]
    return _modal(IMAGE_MODAL, "imagebot", "Generate", blocks, private_metadata)


def parse_image_modal(state_values: dict[str, Any], choices: Choices, *,
                      defaults: ImageOptions | None = None) -> tuple[str, ImageOptions]:
    """Read a submitted image modal (`view["state"]["values"]`) into a prompt and checked options.

    With `defaults`, options the modal does not show (streaming previews, say) are kept from them. Raises
    InvalidOption naming the option (see `modal_errors`). The values are re-checked, not trusted: the options
    a person could pick are ours, but a payload is only as good as the view it came from.
    """
    prompt = _prompt(_text(state_values, PROMPT_BLOCK, PROMPT_ACTION), "prompt",
                     "Add a prompt: what should the image show?")
    model = _selected(state_values, MODEL_BLOCK, MODEL_ACTION)
    if not model or model not in choices.models:
        raise InvalidOption("Choose one of the models offered.", option="model")
    size = _selected(state_values, SIZE_BLOCK, SIZE_ACTION)
    if size is None or not (size == "auto" or _SIZE_RE.fullmatch(size)):
        raise InvalidOption("Choose a size.", option="size")
    quality = _selected(state_values, QUALITY_BLOCK, QUALITY_ACTION)
    if quality not in offered(choices, "qualities"):
        raise InvalidOption("Choose a quality.", option="quality")
    n = _selected(state_values, N_BLOCK, N_ACTION)
    if n is None or not re.fullmatch(r"[0-9]{1,3}", n) or not 1 <= int(n) <= MAX_N:
        raise InvalidOption(f"Choose from 1 to {MAX_N} images.", option="n")
    output_format = _selected(state_values, FORMAT_BLOCK, FORMAT_ACTION)
    if output_format not in offered(choices, "formats"):
        raise InvalidOption("Choose an output format.", option="format")
    ticked = _state(state_values, TRANSPARENT_BLOCK, TRANSPARENT_ACTION).get("selected_options") or []
    transparent = any(option.get("value") == TRANSPARENT_VALUE for option in ticked)
    chosen = {"model": model, "size": size, "quality": quality, "n": int(n), "transparent": transparent,
              "output_format": output_format}
    # `chosen` mixes str, int and bool, each checked above for its field; mypy sees one dict value type.
    options = replace(defaults, **chosen) if defaults is not None else ImageOptions(**chosen)  # type: ignore[arg-type]
    if output_format in ("gif", "svg"):
        options = replace(options, partial_images=0)  # GIF and SVG never stream
    check_options(options, choices)
    return prompt, options


def modal_errors(error: InvalidOption, *, fallback_block: str = PROMPT_BLOCK) -> dict[str, str]:
    """`{block_id: message}` for `ack(response_action="errors", errors=...)`.

    Slack only accepts errors keyed by an input block of the submitted view, so an option the modal has no
    block for is reported on `fallback_block`. check_options words its messages for `/image` text
    ("needs `--format png`"); a modal has selects, so "`--format png`" reads as "png" here. Each of the error's
    problems is shown on its own option's block (two on one block, one after the other).
    """
    found: dict[str, str] = {}
    for problem in error.problems:
        block = OPTION_BLOCKS.get(problem.option or "", fallback_block)
        message = _CLI_VALUE_RE.sub(r"\1", str(problem)).replace("`", "")
        found[block] = f"{found[block]} {message}" if block in found else message
    return found


# The "Edit with imagebot" modal -----------------------------------------------------------------------------


def build_edit_modal(private_metadata: str, qualities: tuple[str, ...]) -> dict[str, Any]:
    """The modal the "Edit with imagebot" message shortcut opens: what to change, and an optional quality.

    `private_metadata` carries the message being edited (channel and ts) back to the submission handler.
    """
    blocks = [
        _input(INSTRUCTION_BLOCK, "What should change?",
               _text_input(INSTRUCTION_ACTION, "", "Make the sky purple and add a crescent moon", focus=True)),
        _input(QUALITY_BLOCK, "Quality", _select(QUALITY_ACTION, _quality_choices(qualities), None,
                                                 "Default quality"),
               optional=True, hint="Leave empty to keep the usual quality."),
    ]
    return _modal(EDIT_MODAL, "Edit with imagebot", "Edit", blocks, private_metadata)


def parse_edit_modal(state_values: dict[str, Any], qualities: tuple[str, ...]) -> tuple[str, str | None]:
    """Read a submitted edit modal into (instruction, quality or None). Raises InvalidOption."""
    instruction = _prompt(_text(state_values, INSTRUCTION_BLOCK, INSTRUCTION_ACTION), "instruction",
                          "Say what should change in the image.")
    quality = _selected(state_values, QUALITY_BLOCK, QUALITY_ACTION)
    if quality is not None and quality not in qualities:
        raise InvalidOption("Choose a quality, or leave it empty.", option="quality")
    return instruction, quality


# Helpers ---------------------------------------------------------------------------------------------------


def _state(values: dict[str, Any], block_id: str, action_id: str) -> dict[str, Any]:
    return (values.get(block_id) or {}).get(action_id) or {}


def _text(values: dict[str, Any], block_id: str, action_id: str) -> str:
    return _state(values, block_id, action_id).get("value") or ""


def _selected(values: dict[str, Any], block_id: str, action_id: str) -> str | None:
    option = _state(values, block_id, action_id).get("selected_option") or {}
    value = option.get("value")
    return value if isinstance(value, str) else None


def _prompt(text: str, option: str, missing: str) -> str:
    text = text.strip()
    if not text:
        raise InvalidOption(missing, option=option)
    if len(text) > MODAL_INPUT_LIMIT:
        raise InvalidOption(f"This is {len(text):,} characters; the limit is {MODAL_INPUT_LIMIT:,}.", option=option)
    return text
