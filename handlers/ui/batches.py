"""What `/image batch` shows, built by pure functions: the batch's card in the channel (its prompts, the estimate
at batch prices beside the usual price, Submit / Cancel while it is asked; then where it stands), each result's
comment in the card's thread, and the summary at the end.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.money.pricing import format_usd
from handlers.ui.blocks import clip, context, escape, section

SUBMIT = "imagebot_batch_submit"
DECLINE = "imagebot_batch_decline"
BATCH_BLOCK = "imagebot_batch"
ACTIONS_BLOCK = "imagebot_batch_actions"
SHOWN_PROMPTS = 10  # the card lists the first few; the thread has every one with its image

STATES = {
    "asked": ":moneybag: Submit to start it; nothing is spent until then.",
    "submitting": ":outbox_tray: Sending the batch to OpenAI…",
    "validating": ":hourglass: OpenAI is checking the batch.",
    "in_progress": ":hourglass_flowing_sand: OpenAI is making the images (a batch takes up to 24 hours; "
                   "usually much less). Reply `cancel` in the thread to stop it.",
    "finalizing": ":hourglass_flowing_sand: OpenAI is finishing the batch.",
    "cancelling": ":no_entry_sign: Cancelling: images already made are still posted.",
    "declined": ":x: Not submitted; nothing was spent.",
}


def build_batch_card(user_id: str, prompts: Sequence[str], model: str, estimate_micro: int | None,
                     usual_micro: int | None, status: str, batch_id: int, *,
                     ask: bool) -> tuple[str, list[dict[str, Any]]]:
    """The batch's card: who asked, how many prompts (the first few listed), the model, the estimate at batch
    prices beside the usual one, and `status`; with `ask`, the Submit and Cancel buttons (value: the batch id)."""
    count = len(prompts)
    listed = "\n".join(f"{n}. {escape(clip(p, 120))}" for n, p in enumerate(prompts[:SHOWN_PROMPTS], 1))
    more = f"\n…and {count - SHOWN_PROMPTS} more" if count > SHOWN_PROMPTS else ""
    head = f"*<@{user_id}> asked for a batch of {count} image{'s' if count != 1 else ''}* with `{model}`"
    price = (f"About *{format_usd(estimate_micro)}* at batch prices" if estimate_micro is not None
             else "No price is known for this model")
    if estimate_micro is not None and usual_micro is not None:
        price += f" (half of the usual {format_usd(usual_micro)}); results within 24 hours."
    blocks: list[dict[str, Any]] = [
        {**section(f"{head}\n{listed}{more}"), "block_id": BATCH_BLOCK},
        context(price),
        context(status),
    ]
    if ask:
        value = str(batch_id)
        blocks.append({"type": "actions", "block_id": ACTIONS_BLOCK, "elements": [
            {"type": "button", "action_id": SUBMIT, "style": "primary", "value": value,
             "text": {"type": "plain_text", "text": "Submit batch"}},
            {"type": "button", "action_id": DECLINE, "value": value,
             "text": {"type": "plain_text", "text": "Cancel"}},
        ]})
    return clip(f"<@{user_id}> asked for a batch of {count} images", 3000), blocks


def result_comment(number: int, total: int, prompt: str, cost_micro: int | None, size: str, quality: str) -> str:
    """The comment with one prompt's images in the batch's thread."""
    cost = format_usd(cost_micro) if cost_micro is not None else "price unknown"
    return f"*{number}/{total}* {escape(clip(prompt, 500))}\n_{size} · {quality} · {cost} at batch prices_"


def failed_line(number: int, total: int, prompt: str, reason: str) -> str:
    return f":warning: *{number}/{total}* {escape(clip(prompt, 300))}: no image. {escape(reason)}"


def summary_text(done: int, failed: int, total_micro: int, how: str, *, unknown_cost: int = 0) -> str:
    """The batch's last word: how it ended (`how`: completed | cancelled | expired | failed), made and failed, the
    total at batch prices."""
    ended = {"completed": ":white_check_mark: Batch done", "cancelled": ":no_entry_sign: Batch cancelled",
             "expired": ":hourglass: Batch expired (OpenAI did not finish it within 24 hours)",
             "failed": ":x: Batch failed"}.get(how, f"Batch {how}")
    text = f"{ended}: {done} made, {failed} failed; {format_usd(total_micro)} at batch prices."
    if unknown_cost:
        text += f" ({unknown_cost} with no known price.)"
    return text
