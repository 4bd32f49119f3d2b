"""handlers/payloads.py: what the shape check says about the payloads the issue found crashing, and the
middleware that runs it inside Bolt (for Socket Mode).

(Hundreds of malformed payloads, and one of each well-formed kind, are tests/test_hostile_bodies.py's.)"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from handlers.listeners.middleware import WellFormed
from handlers.payloads import Malformed, check_shape
from handlers.ui import modals as views
from tests.test_hostile_bodies import COMMAND, FORGED, MESSAGE, PRESS, SUBMISSION

pytestmark = pytest.mark.anyio


def without(payload: dict[str, Any], *path: str) -> dict[str, Any]:
    out = copy.deepcopy(payload)
    parent = out
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    return out


def reason(payload: Any) -> str:
    with pytest.raises(Malformed) as malformed:
        check_shape(payload)
    return str(malformed.value)


def test_the_payloads_that_crashed_are_refused_with_a_reason_naming_the_field() -> None:
    assert reason(without(SUBMISSION, "view", "state")) == "view.state is missing"
    for field in ("user_id", "channel_id", "team_id"):
        assert reason(without(COMMAND, field)) == f"{field} is missing"
    values = copy.deepcopy(SUBMISSION)
    values["view"]["state"]["values"][views.PROMPT_BLOCK][views.PROMPT_ACTION]["value"] = {"an": "object"}
    assert reason(values) == f'view.state.values."{views.PROMPT_BLOCK}"."{views.PROMPT_ACTION}".value is not a string'
    assert reason([COMMAND]) == "payload is not a JSON object"
    assert reason({**PRESS, "actions": []}) == "actions is empty"
    assert reason({**MESSAGE, "event": {**MESSAGE["event"], "files": [5]}}) == "event.files[0] is not an object"


def test_a_reason_never_carries_the_payload() -> None:
    """The reason is logged: a key from the payload is shortened and quoted, a value never appears."""
    forged_block = copy.deepcopy(SUBMISSION)
    forged_block["view"]["state"]["values"] = {FORGED * 10: "not an object"}
    assert "\n" not in reason(forged_block) and len(reason(forged_block)) < 120
    assert FORGED not in reason({**COMMAND, "user_id": FORGED})


def test_unknown_types_and_fields_pass() -> None:
    check_shape({"type": "a_type_slack_adds_next_year", "anything": [{"nested": None}]})
    check_shape({**MESSAGE, "event": {**MESSAGE["event"], "type": "future_event", "new_field": {"x": 1}}})
    check_shape({**COMMAND, "new_field": "value"})
    check_shape({"ssl_check": "1", "token": "x"})


async def next_response() -> BoltResponse:
    return BoltResponse(status=200, body="next")


@pytest.mark.parametrize(("mode", "status"), [("socket_mode", 200), ("http", 400)])
async def test_the_middleware_refuses_a_malformed_payload(mode: str, status: int) -> None:
    """Socket Mode acks only a 200 (Slack redelivers what is not acked): there, a 200 with nothing done."""
    body = without(SUBMISSION, "view", "state")
    request = AsyncBoltRequest(body=body, mode="socket_mode")
    request.mode = mode
    response = await WellFormed().async_process(req=request, resp=BoltResponse(status=200), next=next_response)
    assert (response.status, response.body) == (status, "")
    passed = await WellFormed().async_process(req=AsyncBoltRequest(body=SUBMISSION, mode="socket_mode"),
                                              resp=BoltResponse(status=200), next=next_response)
    assert passed.body == "next"
