"""What goes under a request's results, built by pure functions that return plain dicts: one actions message for
all the images one request made (Use a / Use b / Use c, then Retry, Undo, Make it high quality, Variations), the
cost confirmation asked before an expensive request, and the words posted with the grid.

Slack limits kept here (https://docs.slack.dev/reference/block-kit): `block_id` and `action_id` ≤ 255, a button's
text ≤ 75 and value ≤ 2000, an actions block ≤ 25 elements.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from typing import Any

from bot.money.pricing import format_usd
from handlers.ui.blocks import clip, escape, section

ID_LIMIT = 255
BUTTON_TEXT_LIMIT = 75
BUTTON_VALUE_LIMIT = 2000

# Buttons under a result, and on a cost confirmation.
RETRY = "imagebot_retry"
UNDO = "imagebot_undo"
USE = "imagebot_use"  # "Use this one"; "Use b" is imagebot_use_b (`use_action`): Slack wants action ids distinct
HIGH_QUALITY = "imagebot_high_quality"
VARIATIONS = "imagebot_variations"
CONFIRM = "imagebot_confirm"
CANCEL = "imagebot_cancel"
RESULT_BLOCK_PREFIX = "imagebot_result:"
CONFIRMATION_BLOCK = "imagebot_confirmation"

# "Make it high quality" asks for quality high: under a result made at high or above it would change nothing (or
# lower it), so it is not offered there.
HIGH_OR_ABOVE = frozenset({"high", "xhigh", "max"})

_OUTPUT_LETTER = re.compile(r"v\d+([a-j])")  # v3b: the second image of the request that made v3 (bot/rules/replies)


# Buttons under a result -------------------------------------------------------------------------------------


def build_result_actions(outputs: Sequence[tuple[str, str]], *, can_undo: bool,
                         quality: str | None = None) -> dict[str, Any]:
    """The one actions block under all the images one request made, `outputs` being (image id, version label)
    in order. Several images: "Use a", "Use b"… (the letters `use b` takes in the thread), one per image; one
    image: "Use this one" (after Retry and Undo). Retry, Undo (when the images were made from an earlier version),
    "Make it high quality" (unless `quality` is high already) and Variations act on the request, named by its
    first image.

    Each button's value is `{"image": image_id, "v": version}` (`result_value`); the block_id names the versions.
    """
    if not outputs:
        raise ValueError("a result has at least one image")
    first = result_value(*outputs[0])
    undo = [_button("Undo", UNDO, first)] if can_undo else []
    high = [_button("Make it high quality", HIGH_QUALITY, first)] if quality not in HIGH_OR_ABOVE else []
    if len(outputs) == 1:  # the order it always had
        buttons = [_button("Retry", RETRY, first), *undo, _button("Use this one", USE, first), *high,
                   _button("Variations", VARIATIONS, first)]
    else:
        uses = [_button(f"Use {_letter(label)}", use_action(_letter(label)), result_value(image_id, label))
                for image_id, label in outputs]
        buttons = [*uses, _button("Retry", RETRY, first), *undo, *high, _button("Variations", VARIATIONS, first)]
    return {"type": "actions", "block_id": result_block_id(outputs), "elements": buttons}


def result_block_id(outputs: Sequence[tuple[str, str]]) -> str:
    """The block_id of the buttons under one request's results (`outputs`: (image id, label)), built from what the
    buttons' values name, so a press whose block_id and value disagree can be told apart (`names_version`): one
    image's is `imagebot_result:v3:<image id>`, several images' `imagebot_result:v3a,v3b,v3c`. Block ids differ
    between versions, which lets Slack redraw a message whose buttons changed. (A label is a few characters; an id
    that would pass Slack's 255 is digested, and a press on it names no version.)"""
    if len(outputs) == 1:
        [(image_id, label)] = outputs
        return _bounded_id(RESULT_BLOCK_PREFIX, f"{label}:{image_id}")
    return _bounded_id(RESULT_BLOCK_PREFIX, ",".join(label for _, label in outputs))


def names_version(block_id: str, image_id: str, label: str) -> bool:
    """True when `block_id` is that of result buttons for `label` showing `image_id` (`result_block_id`): the one
    image's label and id, or one of several images' labels (which image each shows, the thread's versions say)."""
    if not block_id.startswith(RESULT_BLOCK_PREFIX):
        return False
    labels, _, image = block_id[len(RESULT_BLOCK_PREFIX):].partition(":")
    return (labels, image) == (label, image_id) if image else label in labels.split(",")


def result_value(image_id: str, version: str) -> str:
    value = json.dumps({"image": image_id, "v": version}, separators=(",", ":"), ensure_ascii=False)
    if len(value) > BUTTON_VALUE_LIMIT:
        raise ValueError(f"a button value is {len(value)} characters; Slack allows {BUTTON_VALUE_LIMIT}")
    return value


def read_result_value(value: str) -> tuple[str, str]:
    """(image_id, version) from a result button's value; ValueError when it is not one of ours."""
    data = json.loads(value)
    if not isinstance(data, dict) or not isinstance(data.get("image"), str) or not isinstance(data.get("v"), str):
        raise ValueError("not an imagebot result button value")
    return data["image"], data["v"]


def use_action(letter: str) -> str:
    """The action id of "Use b": distinct per button, as Slack wants within a block."""
    return f"{USE}_{letter}"


USE_OUTPUTS = tuple(use_action(letter) for letter in "abcdefghij")  # every output letter a label can have


def _letter(label: str) -> str:
    match = _OUTPUT_LETTER.fullmatch(label)
    if match is None:
        raise ValueError(f"{label!r} is not the label of one of several outputs (v3b)")
    return match.group(1)


# Cost confirmation -----------------------------------------------------------------------------------------


def build_confirmation(estimate_micro: int, summary: str, token: str, *, caveats: tuple[str, ...] = ()
                       ) -> list[dict[str, Any]]:
    """Ask before an expensive request: the estimate, what it is for, and Generate / Cancel. `caveats` say where
    the estimate is a stated upper bound rather than a published figure (xhigh, max, GIF) or leaves a part out.

    Both buttons carry `token`, which names the pending request; nothing is spent until Generate.
    """
    text = f":moneybag: This will cost about *{format_usd(estimate_micro)}*: {escape(summary)}"
    for caveat in caveats:
        text += f"\n_{escape(caveat)}_"
    return [
        section(text),
        {"type": "actions", "block_id": CONFIRMATION_BLOCK, "elements": [
            {**_button("Generate", CONFIRM, token), "style": "primary"},
            _button("Cancel", CANCEL, token),
        ]},
    ]


# The grid -------------------------------------------------------------------------------------------------


def build_grid_message(version: str) -> str:
    """The words posted with the labelled grid over `version`: how to edit one part of the image."""
    label = escape(version)
    return (
        f":straight_ruler: The grid over *{label}*: columns are letters from the left, rows are numbers from the "
        "top. Reply in this thread to change one part of the image:\n"
        "• `C2: add a lit window` changes cell C2\n"
        "• `C2-D3: make it night` changes the rectangle with corners C2 and D3\n"
        "• `--region top-left add a crescent moon` changes a named area: top, bottom, left, right, center "
        "or a corner (top-left, top-right, bottom-left, bottom-right)\n"
        f"The lines are only a guide: the edit is made on {label} itself, without them."
    )


# Helpers ---------------------------------------------------------------------------------------------------


def _button(text: str, action_id: str, value: str) -> dict[str, Any]:
    if len(value) > BUTTON_VALUE_LIMIT:
        raise ValueError(f"a button value is {len(value)} characters; Slack allows {BUTTON_VALUE_LIMIT}")
    return {"type": "button", "text": {"type": "plain_text", "text": clip(text, BUTTON_TEXT_LIMIT), "emoji": True},
            "action_id": action_id, "value": value}


def _bounded_id(prefix: str, rest: str) -> str:
    """`prefix + rest`, or `prefix` + a digest of `rest` when that would pass Slack's 255-character limit."""
    whole = prefix + rest
    return whole if len(whole) <= ID_LIMIT else prefix + hashlib.sha256(rest.encode()).hexdigest()
