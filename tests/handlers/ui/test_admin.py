"""handlers/ui/admin.py: /image-admin's private answers, pure."""

from __future__ import annotations

from bot.money.budgets import Budget
from bot.rules.policy import Policy
from handlers.ui.admin import (
    budget_set_text,
    budgets_text,
    policy_set_text,
    report_channel_set_text,
    report_channel_text,
)


def test_the_budgets_in_force_say_whose_they_are_and_where_they_were_set() -> None:
    text = budgets_text([Budget("user", "", "monthly", 5_000_000, "env"),
                         Budget("channel", "C1", "daily", 2_500_000, "slack"),
                         Budget("workspace", "", "monthly", 100_000_000, "env")])
    assert text.splitlines() == [
        "*Budgets in force*",
        "• Monthly, each user: $5.00 (default, from the environment)",
        "• Daily, <#C1>: $2.50 (set here)",
        "• Monthly, the workspace: $100.00 (default, from the environment)"]
    assert budgets_text([]) == "*Budgets in force*\nnone"


def test_a_change_is_confirmed_with_what_is_now_in_force() -> None:
    assert budget_set_text("user", "U1", "daily", 1_250_000) == ":white_check_mark: Daily budget for <@U1>: $1.25."
    assert budget_set_text("workspace", "", "monthly", None) == (
        ":white_check_mark: Monthly budget for the workspace: no budget.")
    assert policy_set_text("C1", None) == ":white_check_mark: <#C1>: no limits."
    policy = Policy(max_quality="medium", max_n=1, allowed_models=None)
    assert policy_set_text("C1", policy) == f":white_check_mark: <#C1>: {policy.describe()}."
    assert report_channel_text(None) == "Scheduled reports and budget alerts go to no channel."
    assert report_channel_text("C2").endswith("go to <#C2>.")
    assert report_channel_set_text("C2") == ":white_check_mark: Scheduled reports and budget alerts go to <#C2>."
    assert "the environment's default" in report_channel_set_text(None)
