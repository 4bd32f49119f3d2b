"""handlers/delivery/steps.py: a workflow step's outputs from a delivered job (the run itself: test_workflow.py)."""

from __future__ import annotations

from handlers.delivery.steps import outputs
from handlers.manifest import workflow_step


def test_outputs_are_exactly_the_steps_outputs_with_the_cost_in_dollars() -> None:
    result = {"files": ["F01", "F02"], "versions": ["v3a", "v3b"], "cost_micro": 52_750}
    made = outputs(result, "https://slack.example/files/F01")
    assert set(made) == set(workflow_step()["output_parameters"]["properties"])
    assert made == {"file_id": "F01", "permalink": "https://slack.example/files/F01", "cost_usd": 0.05275,
                    "version": "v3a"}


def test_an_unknown_cost_is_left_out_not_made_up() -> None:
    made = outputs({"files": ["F01"], "versions": ["v1"], "cost_micro": None}, "")
    assert "cost_usd" not in made and made["permalink"] == ""
    assert "cost_usd" not in workflow_step()["output_parameters"]["required"]  # so Slack takes the outputs
