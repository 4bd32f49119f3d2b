"""What the stand-in records of each request, for tests to look at."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from standins.images_api.bodies import form_object
from standins.images_api.facts import INT_RE
from standins.images_api.schema import schema_properties, types_of

# The integer fields of the multipart schema: params() parses them, as the API does.
INTEGER_PARAMS = frozenset(name for name, node in schema_properties("CreateImageEditRequest").items()
                           if "integer" in types_of(node))


def _sent_field(name: str) -> Any:
    """A read-only RecordedRequest attribute: the request's field `name` as sent, or None."""
    return property(lambda self: self._sent(name), doc=f"The ``{name}`` field as sent, or None.")


@dataclass
class RecordedRequest:
    """One request the stand-in received, as it arrived, and the status it was answered with.

    `headers` keys are lower-cased. `status` is 0 while the request is still being answered (a hang).
    """

    flavor: str  # "openai" | "azure"
    operation: str  # "generations" | "edits" | "models" (GET /v1/models and /v1/models/{model}) | "files" | "batches"
    path: str
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = ""  # "application/json" or "multipart/form-data" (no parameters)
    json: dict[str, Any] | None = None
    fields: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, list[tuple[str, str, bytes]]] = field(default_factory=dict)
    status: int = 0
    #: Body bytes the stand-in managed to write for a break_off() or huge_answer() fault (a client that stops
    #: reading early leaves this below the body's size).
    answer_bytes: int = 0

    def params(self) -> dict[str, Any]:
        """The JSON body, or the multipart text fields flattened as sent: single values unwrapped, repeated
        fields as lists, and the schema's integer fields (n, output_compression, partial_images, frame_count,
        frame_duration_ms) parsed. Bracketed names stay as sent (``svg[model]``); `body()` nests them."""
        if self.json is not None:
            return dict(self.json)
        flat: dict[str, Any] = {}
        for name, values in self.fields.items():
            parsed = [_maybe_int(v) if name in INTEGER_PARAMS else v for v in values]
            flat[name] = parsed[0] if len(parsed) == 1 else parsed
        return flat

    def body(self) -> dict[str, Any]:
        """The request as the schema sees it: the JSON body, or the multipart form as its equivalent object (nested
        ``svg``, booleans and integers coerced, files as ``"<binary>"``). Validate it against `request_schema`."""
        if self.json is not None:
            return dict(self.json)
        return form_object(self.fields, self.files)

    def _sent(self, name: str) -> Any:
        return self.body().get(name)

    @property
    def svg(self) -> dict[str, Any] | None:
        """The ``svg`` options sent (``{"model": ..., "reasoning": {"effort": ...}}``), multipart brackets nested."""
        value = self._sent("svg")
        return value if isinstance(value, dict) else None

    @property
    def markup(self) -> bytes | None:
        """The bytes of the ``markup`` file of a multipart edit, or None."""
        parts = self.files.get("markup")
        return parts[-1][2] if parts else None

    # The fields tests most often look at, as sent (None when absent).
    safety_identifier = _sent_field("safety_identifier")
    user = _sent_field("user")
    complexity = _sent_field("complexity")
    moderation = _sent_field("moderation")
    frame_count = _sent_field("frame_count")


def _maybe_int(value: str) -> int | str:
    return int(value) if INT_RE.fullmatch(value) else value
