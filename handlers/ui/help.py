"""What `/image help` says: everything a person can do with imagebot, as Block Kit for a private (ephemeral) answer.

Headed parts, in the order a newcomer meets them: making an image, its options, the models, replies in the image's
thread, the buttons under a result, and the rest (`/image usage`, the form, the message shortcut, DMs, App Home).
What the options take and what each model can do are the catalogue's, seen through `Choices`
(bot/rules/options.py): no model name or model quality is written here, so the help names only what is on offer.

Slack's limits (https://docs.slack.dev/reference/block-kit/blocks): a section's text ≤ 3000 characters, a header's
≤ 150 (plain text), a message ≤ 50 blocks; the parts are packed to fit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.images.masks import MASK_RULES
from bot.images.regions import NAMED_REGIONS
from bot.money.catalogue_records import Capabilities, SizeRule
from bot.rules.options import COMPLEXITIES, FIDELITIES, MAX_N, MODERATIONS, SIZE_ALIASES, Choices
from handlers.ui.blocks import SECTION_LIMIT, section

HEADER_LIMIT = 150
MAX_BLOCKS = 50
#: The message shortcut's name, as manifest.yml gives it (tests/handlers/ui/test_help.py holds them together).
SHORTCUT_NAME = "Edit with imagebot"

#: The models on offer: each one's role (a few words from the catalogue) and capabilities.
Offered = dict[str, tuple[str | None, Capabilities]]


def build_help(command: str, choices: Choices, default_model: str) -> tuple[str, list[dict[str, Any]]]:
    """`/image help`: (the notification text, the blocks)."""
    offered = offered_models(choices)
    parts = [
        ("Make an image", making_lines(command)),
        ("Options", option_lines(offered, default_model)),
        ("Models", model_lines(offered, default_model)),
        ("Reply in the image's thread", reply_lines(offered)),
        ("Buttons under a result", button_lines()),
        ("More", more_lines(command)),
    ]
    blocks: list[dict[str, Any]] = []
    for title, lines in parts:
        blocks.append(header(title))
        blocks.extend(sections(lines))
    if len(blocks) > MAX_BLOCKS:
        raise ValueError(f"the help has {len(blocks)} blocks; Slack allows {MAX_BLOCKS} in a message")
    text = f"imagebot help: {command} <prompt> [options] makes an image; reply in its thread to edit it."
    return text, blocks


def offered_models(choices: Choices) -> Offered:
    """The models a request may name here, each with its role and capabilities, in catalogue order; a dated
    snapshot is left out when its alias is offered too (they take the same)."""
    offered: Offered = {}
    for model in choices.models:
        entry, caps = choices.catalogue.get(model), choices.caps(model)
        if entry is None or caps is None or (entry.snapshot_of and entry.snapshot_of in choices.models):
            continue
        offered[model] = (entry.role or None, caps)
    return offered


def header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": text[:HEADER_LIMIT], "emoji": True}}


def sections(lines: list[str]) -> list[dict[str, Any]]:
    """`lines` as few mrkdwn sections as Slack's section limit allows, never splitting a line."""
    packed: list[str] = []
    for line in lines:
        if packed and len(packed[-1]) + 1 + len(line) <= SECTION_LIMIT:
            packed[-1] += "\n" + line
        else:
            packed.append(line)
    return [section(text) for text in packed]


# The parts -------------------------------------------------------------------------------------------------


def making_lines(command: str) -> list[str]:
    return [
        f"`{command} <prompt> [options]` makes an image: a card in the channel, and the image in its thread with "
        "what it cost.",
        f"Example: `{command} a lighthouse at dusk --size landscape --quality high`",
        f"`{command}` alone opens a form with the prompt and the options as menus.",
    ]


def option_lines(offered: Offered, default_model: str) -> list[str]:
    """Each option with its values; a value or option only some models take names them."""
    every = [caps for _, caps in offered.values()]
    gif = next((caps.gif for caps in every if caps.gif and "gif" in caps.formats), None)  # Azure: none
    fewest = min((caps.max_n for caps in every), default=MAX_N)
    aliases = ", ".join(f"{alias} {size}" for alias, size in SIZE_ALIASES.items())
    lines = [
        f"• `--size {'|'.join(SIZE_ALIASES)}|WIDTHxHEIGHT|auto` ({aliases}; each model's sizes are below)",
        f"• `--quality {'|'.join(_common(offered, lambda c: c.qualities))}`"
        + _extra_values(offered, lambda c: c.qualities),
        f"• `--n 1-{MAX_N}`: how many images" + (f" (up to {fewest} on some models)" if fewest < MAX_N else ""),
        f"• `--format {'|'.join(_common(offered, lambda c: c.formats))}`" + _extra_values(offered, lambda c: c.formats),
    ]
    if gif is not None:
        lines.append(f"• `--frames {gif.min_frames}-{gif.max_frames}` and `--frame-ms {gif.default_frame_ms}`: "
                     "an animated GIF's frames and how long each shows (with `--format gif`)")
    if any(caps.svg and "svg" in caps.formats for caps in every):
        lines.append("• an SVG comes one image at a time (`--format svg`, `--n 1`)")
    optional: list[tuple[str, Callable[[Capabilities], bool]]] = [
        ("`--transparent`: a transparent background (png or webp)", lambda c: c.transparent),
        (f"`--complexity {'|'.join(COMPLEXITIES)}`: how much planning the model does (not billed)",
         lambda c: c.complexity),
        (f"`--moderation {'|'.join(MODERATIONS)}`: how strict the safety filter is", lambda c: c.moderation),
        (f"`--fidelity {'|'.join(FIDELITIES)}`: for edits, how closely faces and logos of the inputs are kept "
         "(high costs more input tokens)", lambda c: bool(c.input_fidelity) or c.inputs_high_fidelity),
    ]
    for text, has in optional:
        having = [model for model, (_, caps) in offered.items() if has(caps)]
        if having:
            lines.append(f"• {text}" + _for(having, offered))
    lines += [
        f"• `--model NAME` (default {default_model}): the models are below",
        "Options may stand anywhere, as `--size portrait` or `--size=portrait`; `--` ends them, so a prompt can say "
        "\"--size\". They work in thread replies too.",
    ]
    return lines


def model_lines(offered: Offered, default_model: str) -> list[str]:
    """A line per model: its sizes, qualities, formats, and what only some models do."""
    lines = []
    for model, (role, caps) in offered.items():
        extras = [name for name, has in (("complexity", caps.complexity), ("markup", caps.markup),
                                         ("transparent", caps.transparent)) if has]
        named = f"`{model}`" + (f" ({role})" if role else "") + (", the default" if model == default_model else "")
        lines.append(f"• {named}: {_sizes(caps.sizes)}; quality {'/'.join(caps.qualities)}; "
                     f"{'/'.join(caps.formats)}" + (f"; {', '.join(extras)}" if extras else ""))
    return lines or ["• no model is on offer here today; an admin can check `imagebot doctor`"]


def reply_lines(offered: Offered) -> list[str]:
    markup = [model for model, (_, caps) in offered.items() if caps.markup]
    names = list(NAMED_REGIONS)
    lines = [
        "• Say what to change (`make the sky purple`): the latest version is edited. Attach images to use them "
        "as references.",
        "• `undo`: back to the image the current one was made from",
        "• `use v2` (or `back to v2`): the next edit starts from v2",
        "• `use b` (or `use #2`): the next edit starts from another image of a request that made several",
        "• `v2: make it red`: edit v2 itself (a branch); the result is the newest version",
        "• `grid`: the current image with a grid of cells, columns A–D and rows 1–4",
        "• `C2: add a balloon` or `C2-D3: make it night`: change only that cell, or the rectangle between two cells",
        f"• `--region top-left …`: change a named area ({', '.join(names)})",
        f"• Attach a mask (a file named `mask….png`) to say exactly where: {MASK_RULES}",
    ]
    if markup:
        lines.append("• Attach markup (a file named `markup….png`: arrows, circles and notes drawn on a transparent "
                     "PNG the size of the image) to point at what to change" + _for(markup, offered))
        lines.append("• A mask (or a region) and markup go in separate replies.")
    return lines


def button_lines() -> list[str]:
    return [
        "• *Retry*: the same request again",
        "• *Undo*: as the `undo` reply",
        "• *Use this one* (*Use a*, *Use b*… when a request made several): the next edit starts from that image",
        "• *Make it high quality*: the same image again at high quality (not under one that is already)",
        "• *Variations*: more images like this one",
        "• *Generate* / *Cancel*: an expensive request asks first, and nothing is spent until you choose Generate",
    ]


def more_lines(command: str) -> list[str]:
    return [
        f"• `{command} usage`: what you have spent today and this month, and what is left of your budgets",
        f"• `{command} batch` and one prompt a line (or a .txt or .csv sent with `batch`): many images at half "
        "price, within 24 hours, after you confirm the estimate; `cancel` in its thread stops it",
        f"• The message shortcut *{SHORTCUT_NAME}* (a message's ⋮ menu): edit that message's image with an instruction",
        "• Message imagebot directly to make an image, or mention it with an image attached to start a thread "
        "that edits it",
        "• imagebot's Home tab: your spend, your budgets and your latest images",
        f"• `{command} help`: this. Only you see these answers.",
    ]


# Helpers ---------------------------------------------------------------------------------------------------


def _common(offered: Offered, values: Callable[[Capabilities], tuple[str, ...]]) -> list[str]:
    """The values every model takes, in the first model's order (all of the first's when none is common)."""
    every = [values(caps) for _, caps in offered.values()]
    if not every:
        return []
    common = [value for value in every[0] if all(value in others for others in every)]
    return common or list(every[0])


def _extra_values(offered: Offered, values: Callable[[Capabilities], tuple[str, ...]]) -> str:
    """"; `xhigh` and `max` on model-a, model-b" for values only some models take."""
    common = set(_common(offered, values))
    extra: dict[str, list[str]] = {}
    for model, (_, caps) in offered.items():
        for value in values(caps):
            if value not in common:
                extra.setdefault(value, []).append(model)
    by_models: dict[tuple[str, ...], list[str]] = {}
    for value, models in extra.items():
        by_models.setdefault(tuple(models), []).append(value)
    return "".join(f"; {_and([f'`{v}`' for v in found])}{_for(list(models), offered, '')}"
                   for models, found in by_models.items())


def _sizes(rule: SizeRule) -> str:
    if rule.free:
        return (f"any size (edges multiples of {rule.multiple}, long edge ≤ {rule.max_edge}, "
                f"ratio ≤ {rule.max_ratio:g}:1)")
    return "sizes " + "/".join((*rule.sizes, "auto"))


def _for(having: list[str], offered: Offered, separator: str = ";") -> str:
    """Which models something is for: "" when it is every model, else "; on `a` and `b`", or "; on every model but
    `c`" when that is shorter to read."""
    if len(having) == len(offered):
        return ""
    rest = [model for model in offered if model not in having]
    if len(rest) < len(having):
        return f"{separator} on every model but {_names(rest)}"
    return f"{separator} on {_names(having)}"


def _names(models: list[str]) -> str:
    return _and([f"`{model}`" for model in models])


def _and(values: list[str]) -> str:
    return values[0] if len(values) == 1 else f"{', '.join(values[:-1])} and {values[-1]}"
