"""What a reply in an image thread means, decided in the core; the Slack edge fetches the attachments, shows the
work and posts what comes back.

    take_reply  →  UploadKept     an image with no words: the next edit starts from it (nothing billed)
                   ContextMoved   undo / use v2 / use b: the next edit starts elsewhere (nothing billed)
                   Grid           the current image with a labelled grid over it, for region edits (no API call)
                   EditPlan       an edit: prompt and options, the base image, the references, a mask or markup,
                                  notes for the footnote, and a Confirmation when its estimate is above
                                  IMAGEBOT_CONFIRM_ABOVE_USD (then nothing is spent until the user says yes)

A reply that cannot be done is refused with the error tree (bot/errors.py), before anything is spent: NoImageYet
(nothing to edit), ImagePruned (the base image's file is gone), AttachmentError (a mask and markup at once, a bad
mask or markup), InvalidOption (an unknown version, an option the model does not take).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace

from bot.errors import AttachmentError
from bot.images.masks import build_mask, check_markup, check_user_mask, is_markup_name, is_mask_name
from bot.images.regions import Region, draw_grid, parse_region_reply
from bot.models import ImageOptions, InputImage
from bot.providers.base import OnPartial
from bot.rules.options import parse_command
from bot.rules.replies import Edit, ShowGrid, Undo, UseOutput, UseVersion, parse_reply
from bot.usecases.image_service import Delivered, ImageService
from bot.usecases.thread_images import NoImageYet
from storage.records import ImageRecord, ThreadKey

DEFAULT_SIDE = 1024  # an estimate's guess at a stored image whose size is not recorded


@dataclass(frozen=True)
class Attached:
    """An attachment as the image API will take it. `name` is the one it came with: mask*.png is the user's own
    mask for the base image, markup*.png marks drawn over it; the rest are references."""

    name: str
    image: InputImage
    change: str | None = None  # what was changed to suit the API (None: sent as it came)

    @property
    def role(self) -> str:
        return "mask" if is_mask_name(self.name) else "markup" if is_markup_name(self.name) else "reference"


async def attach(images: ImageService, name: str, data: bytes) -> Attached:
    """A downloaded attachment, checked and made into something the API accepts (AttachmentError if it cannot)."""
    image, change = await images.prepare_attachment(data, name)
    return Attached(name, image, change)


@dataclass(frozen=True)
class UploadKept:
    label: str  # the version the upload became
    upload: Attached


@dataclass(frozen=True)
class ContextMoved:
    label: str  # the version the next edit uses
    undone: bool = False


@dataclass(frozen=True)
class Grid:
    png: bytes
    version: str  # the label of the image under the grid, or "the current image"


@dataclass(frozen=True)
class Confirmation:
    """Asked before a request estimated above the threshold: nothing is spent until the user says yes."""

    estimate_micro: int
    summary: str  # "1 × model size quality: “prompt”", as the request will be sent
    caveats: tuple[str, ...]  # what the estimate does not know


@dataclass(frozen=True)
class EditPlan:
    prompt: str
    options: ImageOptions
    references: tuple[Attached, ...]
    base: str | None  # the version asked for ("v2: …", a branch); None: the thread's current image
    base_image: ImageRecord | None  # the image the edit starts from; None: the first reference becomes it
    mask: bytes | None = None
    markup: bytes | None = None
    notes: tuple[str, ...] = ()  # for the footnote: what the mask or markup does, costlier options
    confirmation: Confirmation | None = None

    @property
    def inputs(self) -> tuple[tuple[int, int], ...]:
        """The input images' sizes, base first, as the estimate prices them."""
        base = self.base_image
        dims = ((base.width or DEFAULT_SIDE, base.height or DEFAULT_SIDE),) if base else ()
        return dims + tuple((a.image.width, a.image.height) for a in self.references)


ReplyPlan = UploadKept | ContextMoved | Grid | EditPlan


async def confirmation(images: ImageService, key: ThreadKey, options: ImageOptions, prompt: str,
                       inputs: tuple[tuple[int, int], ...] = (), *, threshold: int | None) -> Confirmation | None:
    """A Confirmation when the request is estimated above `threshold` micro-dollars (None: never ask)."""
    if threshold is None:
        return None
    # Priced as it will be sent: the channel's policy and a shut-down model's replacement applied first, and a
    # request that can never be made refused rather than asked about.
    options, _ = await images.prepare(key, options)
    images.check_inputs(options, len(inputs))
    estimate = images.estimate(options, prompt, inputs)
    if estimate is None or estimate <= threshold:
        return None
    summary = f"{options.n} × {options.model} {options.size} {options.quality}: “{prompt[:200]}”"
    return Confirmation(estimate, summary, images.estimate_caveats(options))


async def take_reply(images: ImageService, key: ThreadKey, text: str, attachments: Sequence[Attached], *,
                     threshold: int | None) -> ReplyPlan:
    """What a reply in the thread `key` asks for. Moving the context (an upload alone, undo, use v2) is done here,
    as it needs no API call; an edit is planned (and priced against `threshold`) but not made: `make_edit`."""
    text = text.strip()
    if not text and attachments:
        upload = attachments[-1]
        return UploadKept(await images.use_upload(key, upload.image), upload)
    command = parse_reply(text) if not attachments else Edit(text)
    if isinstance(command, Undo):
        return ContextMoved(await images.undo(key), undone=True)
    if isinstance(command, UseVersion):
        return ContextMoved(await images.use_version(key, command.label), undone=command.undo)
    if isinstance(command, UseOutput):
        return ContextMoved(await images.use_output(key, command.index))
    if isinstance(command, ShowGrid):
        return await grid(images, key)
    return await plan_edit(images, key, command, attachments, threshold=threshold)


async def grid(images: ImageService, key: ThreadKey) -> Grid:
    """The current image with a labelled 4x4 grid, drawn on a copy."""
    record = await images.base_record(key, None)
    if record is None:
        raise NoImageYet()
    png = await asyncio.to_thread(draw_grid, await images.read_image(record, key))
    return Grid(png, await images.current_version(key) or "the current image")


async def plan_edit(images: ImageService, key: ThreadKey, command: Edit, attachments: Sequence[Attached], *,
                    threshold: int | None) -> EditPlan:
    thread = await images.get_thread(key)
    has_image = thread is not None and thread.last_image_id is not None
    region, text = parse_region_reply(command.text)
    masks = [a for a in attachments if a.role == "mask"]
    markups = [a for a in attachments if a.role == "markup"]
    references = tuple(a for a in attachments if a.role == "reference")
    # With no image in the thread the first reference becomes the base: the edit takes its size.
    defaults = await images.edit_defaults(key, references[0].image if references and not has_image else None)
    parsed = parse_command(text, defaults, images.choices())
    if markups and (masks or region is not None):
        raise AttachmentError("A reply takes a mask (or a region) or markup, not both: the image API reads one "
                              "or the other. Send them in two replies.")
    notes = ["high input fidelity: the inputs cost more input image tokens"] \
        if parsed.options.input_fidelity == "high" else []
    mask = await _mask(images, key, command.base, region, masks[0].image if masks else None, notes)
    markup = await _markup(images, key, command.base, markups[0].image, notes) if markups else None
    base_image = await images.base_record(key, command.base)
    if base_image is None and not references:
        raise NoImageYet()  # nothing to edit: refused before anything is estimated or asked
    plan = EditPlan(parsed.prompt, parsed.options, references, command.base, base_image, mask, markup, tuple(notes))
    return replace(plan, confirmation=await confirmation(images, key, plan.options, plan.prompt, plan.inputs,
                                                         threshold=threshold))


async def _base(images: ImageService, key: ThreadKey, base: str | None) -> ImageRecord:
    """The image a mask or markup is drawn for; refused when there is none (or it is pruned)."""
    record = await images.base_record(key, base)
    if record is None:
        raise NoImageYet()
    return record


async def _mask(images: ImageService, key: ThreadKey, base: str | None, region: Region | None,
                attached: InputImage | None, notes: list[str]) -> bytes | None:
    """The mask to send: the user's own (transparent where to change), or one drawn for the region named."""
    if attached is None and region is None:
        return None
    record = await _base(images, key, base)
    width, height = record.width or 0, record.height or 0
    if attached is not None:
        mask = await asyncio.to_thread(check_user_mask, attached.data, width, height, attached.name)
        notes.append(f"edited where {attached.name} is transparent")
        return mask
    assert region is not None
    # A region is sent as a mask even to models that read markup: a mask bounds the change to the cells asked
    # for, where a drawn box is only guidance and could be painted into the picture.
    mask = await asyncio.to_thread(build_mask, region, width, height)
    notes.append(f"edited region {region.name}")
    return mask


async def _markup(images: ImageService, key: ThreadKey, base: str | None, attached: InputImage,
                  notes: list[str]) -> bytes:
    record = await _base(images, key, base)
    markup = await asyncio.to_thread(check_markup, attached.data, record.width or 0, record.height or 0,
                                     attached.name)
    notes.append(f"following the marks in {attached.name}")
    return markup


async def make_edit(images: ImageService, key: ThreadKey, user_id: str, plan: EditPlan, *, job_id: int | None,
                    on_partial: OnPartial | None = None) -> Delivered:
    """Make the planned edit: the image API call, its stored images and ledger row."""
    return await images.edit(key, user_id, plan.prompt, plan.options, [(a.image, a.change) for a in plan.references],
                             job_id=job_id, base=plan.base, mask=plan.mask, markup=plan.markup,
                             on_partial=on_partial)
