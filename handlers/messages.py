"""The one place that turns imagebot's errors into words for Slack users."""

from __future__ import annotations

from bot import errors
from bot.imaging import ACCEPTED_TEXT


def explain(error: errors.ImagebotError, *, model: str | None = None) -> str:
    """One clear message: what happened, and who can do what about it."""
    text = _explain(error, model)
    request_id = getattr(error, "request_id", None)
    if request_id:
        text += f" (request id `{request_id}`)"
    return text


def _explain(error: errors.ImagebotError, model: str | None) -> str:
    if isinstance(error, errors.ModerationBlocked):
        what = "the result" if error.stage == "output" else "this request"
        categories = f" (flagged: {', '.join(error.categories)})" if error.categories else ""
        return (f":no_entry: The image API's safety system blocked {what}{categories}. "
                "Try rephrasing the prompt, leaving out what might be read as unsafe.")
    if isinstance(error, errors.RateLimited):
        wait = f"in about {round(error.retry_after)} seconds" if error.retry_after else "in a minute"
        return f":hourglass: The image API is busy with too many requests. Try again {wait}."
    if isinstance(error, errors.QuotaExhausted):
        return (":credit_card: The image API account is out of quota or credit. An admin must check its plan, "
                "billing and spend limits; nothing more can be made until then.")
    if isinstance(error, errors.AuthenticationFailed):
        return (":key: The image API rejected imagebot's API key. An admin must set a valid key "
                "(OPENAI_API_KEY, or AZURE_OPENAI_API_KEY for Azure) and restart imagebot.")
    if isinstance(error, errors.OrganizationNotVerified):
        name = f" `{model}`" if model else " this model"
        return (f":identification_card: OpenAI requires the organisation to be verified to use{name}. An admin "
                "must verify it at https://platform.openai.com/settings/organization/general "
                "(it can take 15 minutes to apply).")
    if isinstance(error, errors.PermissionDenied):
        return f":lock: The image API refused access: {error}. An admin must check the account's access."
    if isinstance(error, errors.InvalidRequest):
        field = f" `{error.param}`" if error.param else ""
        return f":warning: The image API rejected the request{field}: {error}"
    if isinstance(error, errors.ServerError):
        return f":warning: The image API failed: {error} Nothing was delivered; try again in a moment."
    if isinstance(error, errors.AttachmentError):
        return f":frame_with_picture: {error}"
    if isinstance(error, errors.UserInputError):
        return str(error)
    return f":warning: {error}"


def not_an_image(name: str) -> str:
    return f":frame_with_picture: {name} is not an image I can use. Send {ACCEPTED_TEXT}."
