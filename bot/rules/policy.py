"""Per-channel policy set by admins: the highest quality, the largest n, the models allowed.

A request over a cap is lowered to it (and the footnote says so); a model the channel does not allow is
refused, since swapping models silently would change what the user gets.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from bot.errors import PolicyRefused
from bot.models import ImageOptions

# The order of the API's qualities; auto may resolve to high, so it is treated as high.
QUALITY_RANK = {"low": 0, "medium": 1, "high": 2, "auto": 2, "xhigh": 3, "max": 4}


@dataclass(frozen=True)
class Policy:
    max_quality: str | None = None
    max_n: int | None = None
    allowed_models: tuple[str, ...] | None = None

    @property
    def empty(self) -> bool:
        return self.max_quality is None and self.max_n is None and not self.allowed_models

    def describe(self) -> str:
        parts = []
        if self.max_quality:
            parts.append(f"quality up to {self.max_quality}")
        if self.max_n:
            parts.append(f"up to {self.max_n} image{'s' if self.max_n > 1 else ''} a request")
        if self.allowed_models:
            parts.append(f"models {', '.join(self.allowed_models)}")
        return "; ".join(parts) or "no limits"


def apply_policy(options: ImageOptions, policy: Policy | None) -> tuple[ImageOptions, tuple[str, ...]]:
    """The options the channel allows, and notes on what was lowered. Raises PolicyRefused for a model."""
    if policy is None or policy.empty:
        return options, ()
    if policy.allowed_models and options.model not in policy.allowed_models:
        raise PolicyRefused(f"This channel allows only {', '.join(policy.allowed_models)}; "
                            f"`{options.model}` is not one of them. Add `--model {policy.allowed_models[0]}`.")
    notes = []
    if policy.max_quality and QUALITY_RANK[options.quality] > QUALITY_RANK[policy.max_quality]:
        notes.append(f"quality lowered from {options.quality} to {policy.max_quality} by this channel's policy")
        options = replace(options, quality=policy.max_quality)
    if policy.max_n and options.n > policy.max_n:
        notes.append(f"{options.n} images lowered to {policy.max_n} by this channel's policy")
        options = replace(options, n=policy.max_n)
    return options, tuple(notes)
