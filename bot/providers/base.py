"""What an image provider is to the rest of imagebot: `ImageProvider`, which the use cases call and every provider
(the image API client in image_api.py, the offline one in offline.py) implements, and the callbacks a call takes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from bot.models import EditRequest, GenerateRequest, ImageResult, LostAnswer, PartialImage

#: Awaited for each preview of a streamed call, as it arrives.
OnPartial = Callable[[PartialImage], Awaitable[None]]
#: Awaited for each attempt whose successful answer broke off before it was tried again (it may be billed).
OnLost = Callable[[LostAnswer], Awaitable[None]]
#: Awaited once a successful answer has begun to arrive, before its body (megabytes) is read: the caller may make
#: it wait for room. Called again for a later attempt of the same call; the caller counts it once.
OnAnswer = Callable[[], Awaitable[None]]


class ImageProvider(Protocol):
    @property
    def provider(self) -> str:
        """The provider's name in the catalogue and the ledger: openai, azure or offline."""
        ...

    async def generate(self, request: GenerateRequest, on_partial: OnPartial | None = None,
                       on_lost: OnLost | None = None, on_answer: OnAnswer | None = None) -> ImageResult: ...

    async def edit(self, request: EditRequest, on_partial: OnPartial | None = None,
                   on_lost: OnLost | None = None, on_answer: OnAnswer | None = None) -> ImageResult: ...
