"""A request the stand-in has checked (a Job, with its decoded input images), and what its "auto"s turn into."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.money.catalogue_records import Capabilities
from standins.images_api.facts import closest_standard_size


@dataclass
class InputImage:
    """An input image (or mask, or markup) as decoded: its bytes and what they are."""

    data: bytes
    format: str  # "PNG" | "JPEG" | "WEBP"
    width: int
    height: int
    has_alpha: bool
    oriented: tuple[int, int] = (0, 0)  # (width, height) after the EXIF orientation


@dataclass
class Job:
    """A request the stand-in will answer: the values asked for (defaults filled in), then what they resolve to."""

    flavor: str
    operation: str
    model: str
    prompt: str
    n: int
    size: str  # as requested ("auto" when absent)
    quality: str  # as requested
    background: str  # as requested
    output_format: str
    output_compression: int
    stream: bool
    partial_images: int
    input_fidelity: str | None
    images: list[InputImage] = field(default_factory=list)
    mask: InputImage | None = None
    markup: InputImage | None = None
    resolved_size: str = ""
    resolved_quality: str = ""
    resolved_background: str = ""
    caps: Capabilities | None = None
    complexity: str | None = None
    moderation: str | None = None
    frame_count: int = 9
    frame_duration_ms: int = 200
    svg_model: str | None = None
    svg_effort: str | None = None
    safety_identifier: str | None = None  # the one in effect: safety_identifier, else the deprecated user

    @property
    def event_prefix(self) -> str:
        return "image_generation" if self.operation == "generations" else "image_edit"


def resolve(job: Job) -> None:
    """What 'auto' turns into. OpenAI: quality auto → medium; Azure's default quality is high, medium for
    gpt-image-1-mini (Azure's image docs); size auto → 1024x1024, or for edits the standard size nearest the first
    input's aspect ratio; background auto → opaque."""
    if job.quality != "auto":
        job.resolved_quality = job.quality
    elif job.flavor == "azure":
        job.resolved_quality = "medium" if job.model == "gpt-image-1-mini" else "high"
    else:
        job.resolved_quality = "medium"
    if job.size != "auto":
        job.resolved_size = job.size
    elif job.images:
        job.resolved_size = closest_standard_size(job.images[0].width, job.images[0].height)
    else:
        job.resolved_size = "1024x1024"
    job.resolved_background = "transparent" if job.background == "transparent" else "opaque"
