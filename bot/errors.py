"""imagebot's small, named error tree.

    ImagebotError
    ├── SettingsError            a missing or contradictory setting (names the variable)
    ├── UserInputError           something the user typed or attached; the message is for them
    │   ├── InvalidOption        options or values /image does not accept (each problem, with the valid values)
    │   ├── PromptTooLong        the prompt is over the model's limit
    │   └── AttachmentError      an attachment that is not an image, too large, corrupt or unreachable
    ├── BudgetExceeded           this request would cross a budget (which, how much is left, when it resets)
    ├── PolicyRefused            a channel's policy does not allow this request
    ├── NotInstalled             no bot token for this workspace (never installed, uninstalled, revoked)
    ├── StorageUnavailable       the database cannot record this now (disk full or failing, locked)
    └── ImageAPIError            the image API said no (or never answered)
        ├── ModerationBlocked    the safety system refused the prompt or the output
        ├── RateLimited          too many requests right now (retry_after seconds, if known)
        ├── QuotaExhausted       the account is out of credit or over its spend limit
        ├── AuthenticationFailed the API key is wrong, missing or revoked
        ├── OrganizationNotVerified  OpenAI requires organisation verification for this model
        ├── PermissionDenied     any other 403 (region, resource blocked, model access)
        ├── InvalidRequest       the API rejected a field (param names it)
        │   └── ModelUnavailable the API says the model is gone or does not exist (404 model_not_found, …)
        └── ServerError          5xx, timeouts, connection failures, unreadable answers
            ├── DeadlineExceeded the whole request, every attempt and wait, ran past its one deadline
            └── AnswerLost       a successful (2xx) answer that never arrived whole: it may be billed
                └── AnswerTooLarge   imagebot stopped reading an answer over its size cap

`possibly_billed` says whether the API may have billed a failed call (its ledger row then counts the call at its
estimate until the cost is known); only an answer that had begun (a 2xx status) can be.

Each class carries what the Slack edge needs to write one clear message; turning them into
words happens in one place (handlers/ui/errors.py). The exception is the account problems (key, quota,
organisation verification, access): admins read about them both in Slack and from `imagebot doctor`, so
`account_advice` words them once, here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

VERIFY_URL = "https://platform.openai.com/settings/organization/general"


class ImagebotError(Exception):
    """Base of every error imagebot raises on purpose."""


class SettingsError(ImagebotError):
    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable
        self.problem = problem
        self.source: str | None = None  # "environment" or the .env file's path, when the variable was set


class UserInputError(ImagebotError):
    """The user can fix this; str(error) is written for them."""


class InvalidOption(UserInputError):
    """An option or value that is not accepted; `option` names it (bot/rules/options.py's names, or "prompt").

    A request with several mistakes is refused once, naming them all: `InvalidOption.joined` makes one error whose
    `problems` are each mistake (a lone error's `problems` is itself), whose `option` is the first one's and whose
    message has a line for each."""

    def __init__(self, message: str, *, option: str | None = None) -> None:
        super().__init__(message)
        self.option = option
        self.problems: tuple[InvalidOption, ...] = (self,)

    @classmethod
    def joined(cls, problems: Sequence[InvalidOption]) -> InvalidOption:
        """One error for `problems` (at least one; one alone is returned as it is), each told once."""
        seen: dict[tuple[str | None, str], InvalidOption] = {}
        for problem in (problem for error in problems for problem in error.problems):
            seen.setdefault((problem.option, str(problem)), problem)
        flat = tuple(seen.values())
        if not flat:
            raise ValueError("InvalidOption.joined needs at least one problem")
        if len(flat) == 1:
            return flat[0]
        error = cls("\n".join(str(problem) for problem in flat), option=flat[0].option)
        error.problems = flat
        return error


class PromptTooLong(UserInputError):
    def __init__(self, length: int, limit: int) -> None:
        super().__init__(f"The prompt is {length:,} characters; the limit is {limit:,}.")
        self.length = length
        self.limit = limit


class AttachmentError(UserInputError):
    def __init__(self, message: str, *, filename: str | None = None) -> None:
        super().__init__(message)
        self.filename = filename


class BudgetExceeded(ImagebotError):
    """Refused before any API call: spend so far plus this request's estimate would cross `limit_micro`."""

    def __init__(self, *, scope: str, target: str, period: str, limit_micro: int, spent_micro: int,
                 estimate_micro: int | None, resets_at: str, model: str | None = None) -> None:
        super().__init__(f"{period} {scope} budget reached")
        self.model = model  # set when the estimate is None: no price is known for this model
        self.scope, self.target, self.period = scope, target, period
        self.limit_micro, self.spent_micro, self.estimate_micro = limit_micro, spent_micro, estimate_micro
        self.resets_at = resets_at  # a human date, in the configured time zone

    @property
    def remaining_micro(self) -> int:
        return max(0, self.limit_micro - self.spent_micro)


class PolicyRefused(ImagebotError):
    """A channel's policy (set by admins) does not allow this request; str(error) says what is allowed."""


class NotInstalled(ImagebotError):
    """Multi-workspace: no bot token is stored for the workspace, so nothing can be said there."""

    def __init__(self, team_id: str) -> None:
        super().__init__(f"imagebot is not installed in workspace {team_id} (or its token was revoked)")
        self.team_id = team_id


class StorageUnavailable(ImagebotError):
    """imagebot's database cannot record this now: its disk is full or failing, or another process holds its lock
    longer than a waiting user can be kept waiting (storage/faults.py says which SQLite errors these are). Like a
    UserInputError's, str(error) is written for the user: NOT_STARTED unless the request had begun."""

    code = "storage_unavailable"
    NOT_STARTED = ("imagebot can't save right now, so it did not take this request and nothing was sent to the "
                   "image API. Try again in a few minutes.")
    NOT_FINISHED = "imagebot can't save right now, so it could not finish this request. Try again in a few minutes."

    def __init__(self, message: str = NOT_STARTED) -> None:
        super().__init__(message)


class ImageAPIError(ImagebotError):
    """The image API refused or failed. `request_id` is the API's own id, for support tickets."""

    code = "api_error"
    possibly_billed = False  # a refusal, or no answer at all (no 2xx status): taken as not billed

    def __init__(self, message: str, *, status: int | None = None, request_id: str | None = None,
                 possibly_billed: bool | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.request_id = request_id
        if possibly_billed is not None:
            self.possibly_billed = possibly_billed


class ModerationBlocked(ImageAPIError):
    code = "moderation_blocked"

    def __init__(
        self,
        message: str,
        *,
        stage: str | None = None,
        categories: tuple[str, ...] = (),
        status: int | None = 400,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, status=status, request_id=request_id)
        self.stage = stage
        self.categories = categories


class RateLimited(ImageAPIError):
    code = "rate_limited"

    def __init__(
        self, message: str, *, retry_after: float | None = None, status: int | None = 429,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, status=status, request_id=request_id)
        self.retry_after = retry_after


class QuotaExhausted(ImageAPIError):
    code = "quota_exhausted"


class AuthenticationFailed(ImageAPIError):
    code = "authentication_failed"


class OrganizationNotVerified(ImageAPIError):
    code = "organization_not_verified"


class PermissionDenied(ImageAPIError):
    code = "permission_denied"


class InvalidRequest(ImageAPIError):
    code = "invalid_request"

    def __init__(
        self, message: str, *, param: str | None = None, api_code: str | None = None,
        status: int | None = 400, request_id: str | None = None,
    ) -> None:
        super().__init__(message, status=status, request_id=request_id)
        self.param = param
        self.api_code = api_code


class ModelUnavailable(InvalidRequest):
    """The API says the model is shut down or does not exist: nothing was made, nothing is billed."""

    code = "model_unavailable"

    def __init__(self, message: str, *, model: str | None = None, **kwargs: object) -> None:
        super().__init__(message, param="model", **kwargs)  # type: ignore[arg-type]
        self.model = model


class ServerError(ImageAPIError):
    code = "server_error"


class DeadlineExceeded(ServerError):
    """IMAGEBOT_REQUEST_TIMEOUT_SECONDS (or the model's default) passed before the request finished, all attempts
    and backoff waits included. `possibly_billed` when the deadline cut a successful answer short."""

    code = "deadline_exceeded"


class AnswerLost(ServerError):
    """The API began a successful answer (a 2xx status) that never arrived whole: it broke off mid-body, could not
    be decoded, or a stream was cut after its first event. The provider may bill it."""

    code = "answer_lost"
    possibly_billed = True


class AnswerTooLarge(AnswerLost):
    """imagebot stopped reading a successful answer at its size cap (or refused one whose Content-Length was over
    it): memory stays bounded. It came with a 2xx, so it may be billed; it is never retried."""

    code = "answer_too_large"


@dataclass(frozen=True)
class Advice:
    """An account problem in words for an admin: what is wrong, and what to do (both without a final stop)."""

    problem: str
    fix: str


def account_advice(error: ImageAPIError, *, model: str | None = None,
                   key_name: str = "OPENAI_API_KEY, or AZURE_OPENAI_API_KEY for Azure") -> Advice | None:
    """What an account-level refusal means and how an admin fixes it; None for other errors."""
    if isinstance(error, QuotaExhausted):
        return Advice("The image API account is out of quota or credit",
                      "check its plan, billing and spend limits; nothing more can be made until then")
    if isinstance(error, AuthenticationFailed):
        return Advice("The image API rejected imagebot's API key", f"set a valid key ({key_name}) and restart imagebot")
    if isinstance(error, OrganizationNotVerified):
        return Advice(f"OpenAI requires the organisation to be verified to use {model or 'this model'}",
                      f"verify it at {VERIFY_URL} (it can take 15 minutes to apply)")
    if isinstance(error, PermissionDenied):
        return Advice("The image API refused access", "check the account's access")
    return None
