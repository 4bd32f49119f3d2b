"""Workflow Builder's side of an app's custom step (https://docs.slack.dev/workflows/workflow-steps/): a workflow
runs a step, Slack sends the app a `function_executed` event with the step's inputs and a token for that run, and
the run waits until the app calls functions.completeSuccess (outputs checked against the step's definition) or
functions.completeError (https://docs.slack.dev/reference/methods/functions.completeSuccess). A run is completed
once: after that both answer `execution_not_in_running_state`, and its token stops working, as Slack's does."""

from __future__ import annotations

import json
from typing import Any

from standins.slack.delivery import AppDelivery
from standins.slack.records import JSON, ApiError, Delivery

# The Slack types a step's values may have, and the Python values that carry them in inputs and outputs.
_TYPES: dict[str, tuple[type, ...]] = {"string": (str,), "integer": (int,), "number": (int, float),
                                       "boolean": (bool,), "object": (dict,), "array": (list,)}


class FunctionMethods(AppDelivery):
    """The steps an app defines (`define_function`, from its manifest's `functions`) and their runs."""

    def define_function(self, callback_id: str, definition: JSON) -> None:
        """The step as the app's manifest defines it (title, description, input_parameters, output_parameters)."""
        self.functions[callback_id] = definition

    async def run_function(self, callback_id: str, inputs: JSON, *, team_id: str | None = None,
                           event_id: str | None = None) -> tuple[str, Delivery]:
        """A workflow reaches the step: the run's id, and the function_executed event's delivery to the app."""
        definition = self.functions.get(callback_id)
        if definition is None:
            raise KeyError(f"no step {callback_id!r}: define_function it first (from the app's manifest)")
        team = team_id or self.team_id
        execution_id, token = self._new_id("Fx"), f"xwfp-{self._new_id('')}-standin"
        self.tokens[token] = team  # the run's own token, valid until the run is completed
        self.executions[execution_id] = {"callback_id": callback_id, "inputs": inputs, "state": "running",
                                         "outputs": None, "error": None, "token": token, "team_id": team}
        event = {"type": "function_executed", "function": self._function_object(callback_id, definition),
                 "inputs": inputs, "function_execution_id": execution_id,
                 "workflow_execution_id": self._new_id("Wx"), "event_ts": self._next_ts(), "bot_access_token": token}
        return execution_id, await self.deliver_event(event, event_id=event_id, team_id=team)

    async def redeliver_function(self, execution_id: str, delivery: Delivery) -> Delivery:
        """The same function_executed event again (Slack retries an event the app did not ack in time)."""
        return await self.deliver_event(delivery.payload["event"], event_id=delivery.payload["event_id"],
                                        retry_num=1, team_id=self.executions[execution_id]["team_id"])

    def execution(self, execution_id: str) -> JSON:
        return self.executions[execution_id]

    async def wait_for_execution(self, execution_id: str, timeout: float = 30.0) -> JSON:
        """The run once the app has completed it (successfully or not)."""
        await self.wait_for(lambda: self.executions[execution_id]["state"] != "running", timeout)
        return self.executions[execution_id]

    def _function_object(self, callback_id: str, definition: JSON) -> JSON:
        def params(side: str) -> list[JSON]:
            section = definition.get(side, {})
            required = set(section.get("required", []))
            return [{"name": name, "is_required": name in required, **spec}
                    for name, spec in section.get("properties", {}).items()]

        return {"id": f"Fn0{abs(hash(callback_id)) % 10**8:08d}", "callback_id": callback_id,
                "title": definition.get("title", callback_id), "description": definition.get("description", ""),
                "type": "app", "input_parameters": params("input_parameters"),
                "output_parameters": params("output_parameters"), "app_id": self.app_id, "date_created": 0,
                "date_updated": 0, "date_deleted": 0}

    def _running(self, p: JSON) -> JSON:
        execution_id = p.get("function_execution_id")
        if not execution_id:
            raise ApiError("invalid_arguments")
        run = self.executions.get(str(execution_id))
        if run is None:
            raise ApiError("function_execution_not_found")
        if run["state"] != "running":
            raise ApiError("execution_not_in_running_state")
        return run

    def _finish(self, run: JSON, state: str) -> None:
        run["state"] = state
        self.tokens.pop(run["token"], None)

    def _functions_complete_success(self, p: JSON) -> JSON:
        run = self._running(p)
        outputs = p.get("outputs")
        if isinstance(outputs, str):  # a form field: JSON text (slack_sdk sends it so)
            try:
                outputs = json.loads(outputs)
            except ValueError:
                raise ApiError("invalid_arguments") from None
        if not isinstance(outputs, dict):
            raise ApiError("invalid_arguments")
        problems = _output_problems(self.functions[run["callback_id"]], outputs)
        if problems:
            raise ApiError("parameter_validation_failed", errors=problems)
        run["outputs"] = outputs
        self._finish(run, "completed")
        return {}

    def _functions_complete_error(self, p: JSON) -> JSON:
        run = self._running(p)
        error = p.get("error")
        if not isinstance(error, str) or not error.strip():
            raise ApiError("invalid_arguments")
        run["error"] = error
        self._finish(run, "failed")
        return {}


def _output_problems(definition: JSON, outputs: dict[str, Any]) -> list[str]:
    """What Slack's check of the outputs against the step's output_parameters would name."""
    section = definition.get("output_parameters", {})
    properties: dict[str, JSON] = section.get("properties", {})
    problems = [f"missing required output: {name}" for name in section.get("required", []) if name not in outputs]
    for name, value in outputs.items():
        spec = properties.get(name)
        if spec is None:
            problems.append(f"unknown output: {name}")
            continue
        kinds = _TYPES.get(spec["type"], (str,))  # slack#/types/* ids travel as strings
        if value is not None and (not isinstance(value, kinds) or (bool not in kinds and isinstance(value, bool))):
            problems.append(f"output {name} is not of type {spec['type']}")
    return problems
