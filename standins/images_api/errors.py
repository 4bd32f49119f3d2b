"""The error answers: OpenAI's ErrorResponse ({"error": {message, type, param, code}}) and Azure's front door's
({"error": {code, message}}), raised as Reject inside a handler."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any


class Reject(Exception):
    """Raised inside a handler to answer with an error body."""

    def __init__(self, status: int, body: dict[str, Any] | str, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def api_error(
    status: int, message: str, *, type: str | None = "invalid_request_error", param: str | None = None,
    code: str | None = None, **extra: Any,
) -> Reject:
    """OpenAI's ErrorResponse: {"error": {message, type, param, code}}."""
    return Reject(status, {"error": {"message": message, "type": type, "param": param, "code": code, **extra}})


def azure_error(status: int, code: str, message: str) -> Reject:
    """Azure's own front-door errors (auth, routing, throttling) carry only code and message."""
    return Reject(status, {"error": {"code": code, "message": message}})


def invalid_value(param: str, value: Any, allowed: Iterable[str]) -> Reject:
    return api_error(400, f"Invalid value: {quote(value)}. Supported values are: {_english(allowed)}.",
                     param=param, code="invalid_value")


def invalid_type(param: str, expected: str, value: Any) -> Reject:
    return api_error(400, f"Invalid type for '{param}': expected {expected}, but got {_json_type(value)} instead.",
                     param=param, code="invalid_type")


def unknown_parameter(name: str) -> Reject:
    return api_error(400, f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter")


def unsupported(param: str, message: str) -> Reject:
    return api_error(400, message, param=param, code="unsupported_parameter")


def model_shut_down(model: str) -> Reject:
    """What OpenAI has answered for every model it shut down so far (e.g. text-davinci-003 in 2024)."""
    return api_error(404, f"The model `{model}` has been deprecated, learn more here: "
                          "https://platform.openai.com/docs/deprecations", param="model", code="model_not_found")


def model_unknown(model: str) -> Reject:
    """What the image endpoints answer for an ID nobody serves (seen for image models in June 2026, openai/codex)."""
    return api_error(400, f"The model '{model}' does not exist.", param="model", code="invalid_value")


def quote(value: Any) -> str:
    return f"'{value}'" if isinstance(value, str) else json.dumps(value)


def _english(values: Iterable[str]) -> str:
    quoted = [f"'{v}'" for v in values]
    if len(quoted) <= 2:
        return " and ".join(quoted)
    return ", ".join(quoted[:-1]) + ", and " + quoted[-1]


TYPE_WORDS = {"string": "a string", "integer": "an integer", "number": "a number", "boolean": "a boolean",
               "object": "an object", "array": "an array", "null": "null"}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _mask_key(key: str) -> str:
    """OpenAI echoes a wrong key with its middle starred out: 'sk-abcd***...wxyz'."""
    if len(key) <= 12:
        return key
    return key[:8] + "*" * (len(key) - 12) + key[-4:]


def status_error(status: int, request_id: str) -> Reject:
    """The body OpenAI gives with `status` when the stand-in is told to fail a call."""
    if status >= 500:
        return api_error(
            status,
            "The server had an error while processing your request. Sorry about that! You can retry your request, "
            f"or contact us through our help center at help.openai.com if the error persists. (Please include the "
            f"request ID {request_id} in your message.)",
            type="server_error",
        )
    if status == 429:
        return api_error(429, "Rate limit reached for requests. Please try again in 1s.", type="requests",
                         code="rate_limit_exceeded")
    return api_error(status, f"The stand-in was told to answer {status} here.")


def azure_401() -> Reject:
    return azure_error(
        401, "401",
        "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key "
        "for an active subscription and use a correct regional API endpoint for your resource.",
    )


def openai_wrong_key(key: str) -> Reject:
    return api_error(
        401,
        f"Incorrect API key provided: {_mask_key(key)}. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        code="invalid_api_key",
    )
