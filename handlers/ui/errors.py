"""The one place that turns imagebot's errors into words for Slack users."""

from __future__ import annotations

import math
import re

from bot import errors
from bot.logs import redact
from bot.money.pricing import format_usd
from handlers.ui.blocks import escape

_ACCOUNT_ICONS = {errors.QuotaExhausted: ":credit_card:", errors.AuthenticationFailed: ":key:",
                  errors.OrganizationNotVerified: ":identification_card:", errors.PermissionDenied: ":lock:"}


def explain(error: errors.ImagebotError, *, model: str | None = None) -> str:
    """One clear message: what happened, and who can do what about it."""
    text = _explain(error, model)
    request_id = getattr(error, "request_id", None)
    if request_id:
        text += f" (request id `{request_id}`)"
    return text


def _explain(error: errors.ImagebotError, model: str | None) -> str:
    # Error texts can carry what a user typed or a file name: escaped, they cannot ping a channel or hide a link;
    # and an API's error text can quote part of a key: redacted.
    detail = escape(redact(str(error)))
    if isinstance(error, errors.BudgetExceeded):
        return budget_refusal(error)
    if isinstance(error, errors.PolicyRefused):
        return f":no_entry_sign: {detail}"
    if isinstance(error, errors.NotInstalled):  # only ever logged: without a token nothing reaches the workspace
        return ":electric_plug: imagebot is no longer installed in this workspace. An admin can add it again."
    if isinstance(error, errors.ModerationBlocked):
        what = "the result" if error.stage == "output" else "this request"
        categories = f" (flagged: {', '.join(error.categories)})" if error.categories else ""
        return (f":no_entry: The image API's safety system blocked {what}{categories}. "
                "Try rephrasing the prompt, leaving out what might be read as unsafe.")
    if isinstance(error, errors.RateLimited):
        seconds = math.ceil(error.retry_after) if error.retry_after else 0
        wait = f"in about {seconds} second{'s' if seconds != 1 else ''}" if seconds else "in a minute"
        return f":hourglass: The image API is busy with too many requests. Try again {wait}."
    if isinstance(error, errors.ImageAPIError):
        advice = errors.account_advice(error, model=f"`{model}`" if model else None)
        if advice is not None:
            seen = f": {detail}" if isinstance(error, errors.PermissionDenied) else ""
            return f"{_ACCOUNT_ICONS[type(error)]} {advice.problem}{seen}. An admin must {advice.fix}."
    if isinstance(error, errors.ModelUnavailable):
        gone = error.model or model
        named = f"`{gone}`" if gone else "this model"
        return (f":no_entry: The image API no longer serves {named} (it is shut down or unknown to this account), so "
                "nothing was made and nothing was charged. Admins have been told.")
    if isinstance(error, errors.InvalidRequest):
        field = f" `{error.param}`" if error.param else ""
        return f":warning: The image API rejected the request{field}: {detail}"
    if isinstance(error, errors.ServerError):
        detail = detail.rstrip()
        if detail and detail[-1] not in ".!?":
            detail += "."
        return f":warning: The image API failed: {detail} Nothing was delivered; try again in a moment."
    if isinstance(error, errors.AttachmentError):
        return f":frame_with_picture: {detail}"
    if isinstance(error, errors.InvalidOption) and len(error.problems) > 1:  # every mistake, to fix in one go
        return "\n".join([f"{len(error.problems)} things to fix:",
                          *(f"• {escape(redact(str(problem)))}" for problem in error.problems)])
    if isinstance(error, errors.UserInputError):
        return detail
    if isinstance(error, errors.StorageUnavailable):
        return f":floppy_disk: {detail}"
    return f":warning: {detail}"



def refusal(status: str, *, retry_in: int | None = None, limit: int | None = None) -> str | None:
    """Why a request was not taken (bot/runtime/jobs.py Admission status), or None if it was."""
    if status == "queue_full":
        return ":hourglass: imagebot has too many requests waiting right now. Please try again in a few minutes."
    if status == "rate_limited":
        per_minute = f" ({limit} a minute)" if limit else ""
        return (f":hourglass: You have made as many requests as you can for now{per_minute}. "
                f"Try again in {retry_in} seconds.")
    if status == "shutting_down":
        return ":hourglass: imagebot is restarting; try again in a minute."
    if status == "unavailable":  # the database is full, failing or locked: no job was recorded, nothing sent
        return explain(errors.StorageUnavailable())
    return None


def invite_hint(code: str) -> str:
    """What to do when Slack refused a post because imagebot is not in the channel ("" for other refusals)."""
    return " Invite me with `/invite @imagebot` and try again." if code in ("not_in_channel", "channel_not_found") \
        else ""


CHANNEL_REFUSED = ":no_entry_sign: imagebot is not enabled in this channel. Ask a workspace admin if you need it here."


def budget_owner(scope: str, target: str) -> str:
    return {"user": f"<@{target}>'s", "channel": f"<#{target}>'s", "workspace": "the workspace's"}[scope]


def budget_refusal(error: errors.BudgetExceeded) -> str:
    """Which budget, how much is left, when it resets; nothing was spent."""
    if error.estimate_micro is None:
        return (f":no_entry: A budget is in force and no price is known for `{error.model}`, so I cannot tell "
                "what this would cost and did not make it. An admin can add the model's price (IMAGEBOT_PRICES).")
    return (f":money_with_wings: Not made: this would cross {budget_owner(error.scope, error.target)} {error.period} "
            f"budget of {format_usd(error.limit_micro)}. {format_usd(error.remaining_micro)} is left and this "
            f"request would cost about {format_usd(error.estimate_micro)}. The budget resets {error.resets_at}. "
            "Nothing was spent.")


_EMOJI = re.compile(r":[a-z0-9_+-]+:\s*")
_LINK = re.compile(r"<([@#!])?([^|>]+)(?:\|([^>]+))?>")


def plain(text: str) -> str:
    """A Slack message's words as plain text, for where mrkdwn is not drawn (a workflow step's error, which
    Workflow Builder shows its author as it is): no emoji codes, no `code` or *bold* marks, links as their text."""
    def link(match: re.Match[str]) -> str:
        sigil, target, label = match.groups()
        return label or (f"{sigil}{target}" if sigil in ("@", "#") else target)

    text = _LINK.sub(link, _EMOJI.sub("", text))
    return " ".join(text.replace("`", "").replace("*", "").split())
