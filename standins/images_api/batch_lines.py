"""A batch as the stand-in keeps it (`BatchState`, answered as openai-python's `types/batch.py` Batch), the checks of
POST /v1/batches and of the input file's lines, and the lines of the output and error files.

The lines of the input file are OpenAI's request input objects ({custom_id, method, url, body}); the output and error
files hold request output objects ({id, custom_id, response: {status_code, request_id, body}, error}): a request the
API answered (200 or an error status) has a `response`; one that never ran (the batch expired or was cancelled first)
has `response: null` and an `error` {code, message} (https://platform.openai.com/docs/guides/batch).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from standins.images_api.bodies import Body
from standins.images_api.errors import api_error, invalid_value, unknown_parameter
from standins.images_api.files import new_id

GENERATIONS = "/v1/images/generations"
#: The endpoints POST /v1/batches takes (openai-python `batch_create_params.py`); the stand-in runs the first.
BATCH_ENDPOINTS = (GENERATIONS, "/v1/images/edits", "/v1/responses", "/v1/chat/completions", "/v1/embeddings",
                   "/v1/completions", "/v1/moderations", "/v1/videos")
WINDOW_SECONDS = {"24h": 24 * 3600}
CREATE_FIELDS = ("input_file_id", "endpoint", "completion_window", "metadata", "output_expires_after")
TERMINAL = ("completed", "failed", "expired", "cancelled")
MAX_REQUESTS = 50_000  # per input file (openai-python batch_create_params.py)
#: What a request that never ran says in the error file.
UNFINISHED = {
    "expired": ("batch_expired", "This request could not be executed before the completion window expired."),
    "cancelled": ("batch_cancelled", "This request was not executed because the batch was cancelled."),
}


@dataclass
class InputLine:
    number: int  # 1-based, as the batch's errors count lines
    custom_id: str
    body: dict[str, Any]


@dataclass
class LineResult:
    """One request's outcome: the status and body the synchronous endpoint would have answered."""

    line: InputLine
    status: int
    body: dict[str, Any]
    request_id: str

    def output(self) -> dict[str, Any]:
        return {"id": new_id("batch_req_"), "custom_id": self.line.custom_id,
                "response": {"status_code": self.status, "request_id": self.request_id, "body": self.body},
                "error": None}


@dataclass
class BatchState:
    """A batch and where it is; the stand-in moves it along its clock (batches.py)."""

    id: str
    input_file_id: str
    endpoint: str
    completion_window: str
    metadata: dict[str, str] | None
    created_at: float
    expires_at: float
    status: str = "validating"
    model: str | None = None
    lines: list[InputLine] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    results: dict[int, LineResult] = field(default_factory=dict)  # line index -> outcome, as lines finish
    unfinished: int = 0  # lines written to the error file as expired or cancelled
    forced_failure: dict[str, Any] | None = None  # fail_batch(): fail at the next look
    output_file_id: str | None = None
    error_file_id: str | None = None
    times: dict[str, float] = field(default_factory=dict)  # "in_progress" -> when, "completed" -> when, ...

    def object(self) -> dict[str, Any]:
        """OpenAI's Batch object."""
        stamps = {f"{name}_at": int(self.times[name]) if name in self.times else None
                  for name in ("in_progress", "finalizing", "completed", "failed", "expired", "cancelling",
                               "cancelled")}
        done = self.results.values()
        ok = [r for r in done if r.status == 200]
        tokens = {key: sum(int(r.body.get("usage", {}).get(key, 0)) for r in ok)
                  for key in ("input_tokens", "output_tokens", "total_tokens")}
        return {
            "id": self.id, "object": "batch", "endpoint": self.endpoint, "model": self.model,
            "errors": {"object": "list", "data": list(self.errors)} if self.errors else None,
            "input_file_id": self.input_file_id, "completion_window": self.completion_window,
            "status": self.status, "output_file_id": self.output_file_id, "error_file_id": self.error_file_id,
            "created_at": int(self.created_at), "expires_at": int(self.expires_at), **stamps,
            "request_counts": {"total": len(self.lines), "completed": len(ok),
                               "failed": len(done) - len(ok) + self.unfinished},
            "usage": {"input_tokens": tokens["input_tokens"], "input_tokens_details": {"cached_tokens": 0},
                      "output_tokens": tokens["output_tokens"], "output_tokens_details": {"reasoning_tokens": 0},
                      "total_tokens": tokens["total_tokens"]},
            "metadata": self.metadata,
        }


def create_params(body: Body) -> tuple[str, str, str, dict[str, str] | None]:
    """POST /v1/batches checked: (input_file_id, endpoint, completion_window, metadata); raises Reject."""
    if body.problem is not None:
        raise body.problem
    params = body.json or {}
    for name in params:
        if name not in CREATE_FIELDS:
            raise unknown_parameter(name)
    for name in ("input_file_id", "endpoint", "completion_window"):
        if not isinstance(params.get(name), str):
            raise api_error(400, f"Missing required parameter: '{name}'.", param=name,
                            code="missing_required_parameter")
    endpoint, window = params["endpoint"], params["completion_window"]
    if endpoint not in BATCH_ENDPOINTS:
        raise invalid_value("endpoint", endpoint, BATCH_ENDPOINTS)
    if endpoint != GENERATIONS:  # the stand-in's limit, not OpenAI's
        raise api_error(400, f"The stand-in runs batches for {GENERATIONS} only, not {endpoint}.", param="endpoint",
                        code="unsupported_value")
    if window not in WINDOW_SECONDS:
        raise invalid_value("completion_window", window, WINDOW_SECONDS)
    return params["input_file_id"], endpoint, window, _metadata(params.get("metadata"))


def _metadata(value: Any) -> dict[str, str] | None:
    """Metadata: up to 16 pairs, keys up to 64 characters, string values up to 512 (the SDK's Metadata)."""
    if value is None:
        return None
    if not isinstance(value, dict) or len(value) > 16 or not all(
            isinstance(k, str) and len(k) <= 64 and isinstance(v, str) and len(v) <= 512 for k, v in value.items()):
        raise api_error(400, "Invalid 'metadata': up to 16 pairs of strings, keys up to 64 characters and values up "
                             "to 512.", param="metadata", code="invalid_value")
    return dict(value)


def read_input(data: bytes, endpoint: str, refuses_batch: Callable[[str], bool]) -> tuple[list[InputLine],
                                                                                         list[dict[str, Any]]]:
    """The input file's requests, or the errors that fail the batch as a whole (each {code, message, param, line}):
    a line that is not a JSON object, a custom_id missing or repeated, a method other than POST, a url other than
    the batch's endpoint, a body that is not an object, or a model the Batch API does not take (`refuses_batch`).
    A body the endpoint would refuse is not an error here: that request fails on its own, in the error file."""
    lines: list[InputLine] = []
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()

    def fail(number: int, code: str, message: str, param: str | None = None) -> None:
        errors.append({"code": code, "message": message, "param": param, "line": number})

    for number, raw in enumerate(data.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            item = json.loads(raw)
        except ValueError:  # UnicodeDecodeError included
            item = None
        if not isinstance(item, dict):
            fail(number, "invalid_json_line", "This line is not parseable as valid JSON.")
            continue
        custom_id, body = item.get("custom_id"), item.get("body")
        if not isinstance(custom_id, str) or not custom_id:
            fail(number, "missing_required_parameter", "Missing required parameter: 'custom_id'.", "custom_id")
        elif custom_id in seen:
            fail(number, "duplicate_custom_id", "The custom_id for this request is a duplicate of another request. "
                 "The custom_id parameter must be unique for each request in a batch.", "custom_id")
        elif item.get("method") != "POST":
            fail(number, "invalid_method", "The method for this request must be POST.", "method")
        elif item.get("url") != endpoint:
            fail(number, "invalid_url", "The URL provided for this request does not prefix-match the batch "
                 "endpoint.", "url")
        elif not isinstance(body, dict):
            fail(number, "missing_required_parameter", "Missing required parameter: 'body'.", "body")
        elif isinstance(body.get("model"), str) and refuses_batch(body["model"]):
            fail(number, "model_not_found", f"The provided model '{body['model']}' is not supported by the Batch "
                 "API.", "body.model")
        else:
            seen.add(custom_id)
            lines.append(InputLine(number, custom_id, body))
    if not lines and not errors:
        errors.append({"code": "empty_file", "message": "The batch input file is empty.", "param": None,
                       "line": None})
    elif len(lines) > MAX_REQUESTS:
        errors.append({"code": "too_many_requests", "message": f"The batch input file has more than "
                       f"{MAX_REQUESTS:,} requests.", "param": None, "line": None})
    return lines, errors


def unfinished_line(line: InputLine, state: str) -> dict[str, Any]:
    """The error-file line of a request that never ran because the batch `state` ("expired" or "cancelled")."""
    code, message = UNFINISHED[state]
    return {"id": new_id("batch_req_"), "custom_id": line.custom_id, "response": None,
            "error": {"code": code, "message": message}}


def jsonl(items: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(item, separators=(",", ":")) + "\n" for item in items).encode()
