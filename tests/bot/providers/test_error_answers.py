"""bot/providers/error_answers.py: error answers of both shapes (OpenAI's, Azure's) mapped to the error tree.

Models come from the catalogue by what they can do (tests/catalogue_helpers.py), never named here.
"""

from __future__ import annotations

import httpx
import pytest

from bot import errors
from bot.providers.error_answers import error_from_response
from tests.catalogue_helpers import shut_down

GONE = shut_down()[0]  # a model the catalogue says OpenAI has shut down
NOBODY = "no-such-image-model"  # an ID no provider serves (made up)


def _response(status: int, body: object, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers, request=httpx.Request("POST", "https://x/images"))


@pytest.mark.parametrize(("status", "body", "kind", "check"), [
    (400, {"error": {"code": "content_filter", "message": "filtered", "param": "prompt",
                     "innererror": {"code": "ResponsibleAIPolicyViolation",
                                    "content_filter_result": {"violence": {"filtered": True, "severity": "high"},
                                                              "hate": {"filtered": False}}}}},
     errors.ModerationBlocked, lambda e: e.categories == ("violence",)),
    (400, {"error": {"code": "contentFilter", "message": "Your task failed as a result of our safety system."}},
     errors.ModerationBlocked, lambda e: True),
    (400, {"error": {"type": "image_generation_user_error", "code": "moderation_blocked", "param": None,
                     "message": "Your request was rejected by the safety system. safety_violations=[sexual, hate]."}},
     errors.ModerationBlocked, lambda e: e.categories == ("sexual", "hate")),
    (400, {"error": {"type": "invalid_request_error", "code": "billing_hard_limit_reached", "param": None,
                     "message": "Billing hard limit has been reached"}}, errors.QuotaExhausted, lambda e: True),
    (400, {"error": {"type": "invalid_request_error", "code": "unknown_parameter", "param": "response_format",
                     "message": "Unknown parameter: 'response_format'."}},
     errors.InvalidRequest, lambda e: e.param == "response_format" and e.api_code == "unknown_parameter"),
    (403, {"error": {"code": "Forbidden", "message": "Your resource has been temporarily blocked"}},
     errors.PermissionDenied, lambda e: True),
    (429, {"error": {"message": "Rate limit reached. Please try again in 850ms.", "type": "requests"}},
     errors.RateLimited, lambda e: e.retry_after == 0.85),
    (503, {"error": {"message": "engine overloaded"}}, errors.ServerError, lambda e: e.status == 503),
])
def test_error_shapes_map_to_the_error_tree(status: int, body: dict, kind: type, check: object) -> None:
    error = error_from_response(_response(status, body, {"x-request-id": "req_1"}))
    assert type(error) is kind and error.request_id == "req_1"
    assert check(error)  # type: ignore[operator]



@pytest.mark.parametrize(("status", "error", "model", "code"), [
    # OpenAI's answer for a model it has shut down (the deprecations page's wording).
    (404, {"message": f"The model `{GONE}` has been deprecated, learn more here: "
                      "https://platform.openai.com/docs/deprecations", "type": "invalid_request_error",
           "param": None, "code": "model_not_found"}, GONE, "model_not_found"),
    (404, {"message": f"The model `{NOBODY}` does not exist or you do not have access to it.",
           "type": "invalid_request_error", "param": None, "code": "model_not_found"}, NOBODY, "model_not_found"),
    # ... and for an ID it has never served: a 400 on `model`.
    (400, {"message": f"The model '{NOBODY}' does not exist.", "type": "invalid_request_error", "param": "model",
           "code": "invalid_value"}, NOBODY, "invalid_value"),
    (400, {"message": f"The model '{NOBODY}' does not exist.", "type": "invalid_request_error", "param": None,
           "code": "invalid_value"}, NOBODY, "invalid_value"),
])
def test_a_model_shut_down_or_unknown_is_model_unavailable(status: int, error: dict, model: str, code: str) -> None:
    mapped = error_from_response(_response(status, {"error": error}, {"x-request-id": "req_2"}))
    assert type(mapped) is errors.ModelUnavailable and isinstance(mapped, errors.InvalidRequest)
    assert (mapped.model, mapped.api_code, mapped.status, mapped.param, mapped.request_id) == (
        model, code, status, "model", "req_2")


@pytest.mark.parametrize(("status", "error"), [
    (400, {"message": "Invalid value: '999x999'. Supported values are: 'auto' and WIDTHxHEIGHT.",
           "type": "invalid_request_error", "param": "size", "code": "invalid_value"}),
    (404, {"code": "404", "message": "Resource not found"}),
])
def test_other_refusals_are_not_taken_for_a_missing_model(status: int, error: dict) -> None:
    mapped = error_from_response(_response(status, {"error": error}))
    assert type(mapped) is errors.InvalidRequest
