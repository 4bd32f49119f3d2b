"""The checklist: warnings do not fail it, and it says so.
"""

from __future__ import annotations

from imagebot.doctor.checklist import FAIL, INFO, OK, WARN, Check, exit_status, render


def test_warnings_do_not_fail_and_the_checklist_says_so() -> None:
    checks = [Check("A", OK, "fine"), Check("B", WARN, "hmm", "do this"), Check("C", INFO, "not checked")]
    assert exit_status(checks) == 0
    assert exit_status([*checks, Check("D", FAIL, "broken", "fix it")]) == 1
    text = render([*checks, Check("D", FAIL, "broken", "fix it")], heading="imagebot doctor")
    assert "[warn] B: hmm\n       fix: do this" in text and "[FAIL] D: broken" in text
    assert text.rstrip().endswith("Fix the failures above, then run `imagebot doctor` again.")
