"""Plain request and result objects passed between the Slack edge, the core and the image API clients."""

from __future__ import annotations

from dataclasses import dataclass

from bot.money.pricing import SvgUsage, Usage


@dataclass(frozen=True)
class ImageOptions:
    model: str
    size: str = "1024x1024"
    quality: str = "medium"
    n: int = 1
    transparent: bool = False
    output_format: str = "png"
    partial_images: int = 0  # 0–3 previews streamed before the final image (the API reference); 0 = no streaming
    input_fidelity: str | None = None  # edits: "high" matches faces and logos of the inputs more closely
    complexity: str | None = None  # low | medium | high: planning depth, on models that have it (not billed)
    moderation: str | None = None  # low | auto, generations on models that have it
    frames: int | None = None  # GIF: frame_count (2-16)
    frame_ms: int | None = None  # GIF: frame_duration_ms
    svg_model: str | None = None  # SVG: the model that writes the SVG (svg.model); None: the API's choice

    @property
    def background(self) -> str | None:
        return "transparent" if self.transparent else None


@dataclass(frozen=True)
class GenerateRequest:
    prompt: str
    options: ImageOptions
    user: str | None = None  # a stable, anonymous end-user id for the API's abuse monitoring


@dataclass(frozen=True)
class InputImage:
    data: bytes
    format: str  # "png" | "jpeg" | "webp"
    width: int
    height: int
    name: str = "image.png"


@dataclass(frozen=True)
class EditRequest:
    prompt: str
    options: ImageOptions
    images: tuple[InputImage, ...]  # the base image first, then references (1..16)
    mask: bytes | None = None
    markup: bytes | None = None  # a transparent PNG of marks drawn over the base image; never with a mask
    user: str | None = None


@dataclass(frozen=True)
class OutputImage:
    data: bytes  # exactly as the API returned them (C2PA provenance is in these bytes)
    format: str  # png | jpeg | webp | gif (animated) | svg


@dataclass(frozen=True)
class PartialImage:
    """A preview streamed before the final image (ImageOptions.partial_images > 0). Each one is billed."""

    index: int  # the API's partial_image_index, 0-based
    data: bytes
    format: str  # "png" | "jpeg" | "webp"


@dataclass(frozen=True)
class LostAnswer:
    """An attempt whose successful answer (a 2xx status) broke off before it was whole, and which the image client
    then tried again: the provider may bill it, so it gets a ledger row of its own (bot/usecases/image_service.py)."""

    attempt: int  # 1-based, among the request's attempts
    reason: str  # what went wrong, for the ledger's error_message
    request_id: str | None = None


@dataclass(frozen=True)
class ImageResult:
    images: tuple[OutputImage, ...]
    usage: Usage | None  # None when the API reported none: cost is then unknown, never guessed
    model: str
    size: str
    quality: str
    output_format: str
    background: str | None
    provider: str  # "openai" | "azure" | "offline"
    request_id: str | None = None
    # Previews received while streaming. Their tokens (100 image output tokens each, per the image-generation guide)
    # are already in `usage`: this count only explains them ("incl. N previews") and must never be priced again.
    partials: int = 0
    svg_usage: SvgUsage | None = None  # the SVG author model's tokens, billed apart from `usage`
