"""Property test through the real app: whatever follows /image, the user gets a job or a clear private answer.

Never a stack trace, never a 500, never silence: each command is acked 200, and either a job row appears and
ends in an image or a message in its thread, or the ack itself carries a specific message.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from standins.slack import SlackStandIn
from tests.conftest import WorkspaceFactory

pytestmark = pytest.mark.anyio
CHANNEL = "C0GENERAL"

option_tokens = st.sampled_from([
    "--size", "--size=portrait", "--quality", "high", "--n", "2", "--n=9", "--transparent", "--format", "jpeg",
    "--model", "gpt-image-2", "--", "--bogus", "square", "1536x1024", "4000x100", "help",
])
slack_markup = st.sampled_from([
    "<@U0ALICE>", "<@U0BOB|bob>", "<#C0GENERAL|general>", "<!channel>", "<https://example.com|a link>",
    "&lt;b&gt;", "&amp;", "\"unbalanced", "'", "שלום", "مرحبا", "🦊🌅", "\u200f", "\t", "\n",
])
command_text = st.one_of(
    st.text(max_size=60),
    st.lists(st.one_of(option_tokens, slack_markup, st.text(min_size=1, max_size=8)), max_size=8).map(" ".join),
    st.just("x" * 40_000),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=command_text)
async def test_any_command_text_gets_a_job_or_a_clear_answer(slack: SlackStandIn, workspace_factory: WorkspaceFactory,
                                                              text: str) -> None:
    workspace = await _workspace(workspace_factory)
    store = workspace.services.images.store
    jobs_before = store.db["jobs"].count

    delivery = await slack.send_command("U0ALICE", CHANNEL, text)
    await workspace.settle()

    assert delivery.status == 200, delivery.response_text
    new_jobs = list(store.db.query("SELECT * FROM jobs WHERE id > ? ORDER BY id", [jobs_before]))
    answer = delivery.response_text.strip()
    if not text.strip():  # no text: the form opens instead
        assert not answer and not new_jobs and slack.views and slack.views[-1]["callback_id"] == "imagebot_image_modal"
        return
    if answer:  # help, a mistake or a refusal: specific, private, and no job
        assert not new_jobs and "Traceback" not in answer and len(answer) > 20
        return
    [job] = new_jobs
    assert job["status"] in ("done", "failed")
    thread = slack.thread(CHANNEL, job["thread_ts"])
    replies = [m for m in thread[1:] if m.get("bot_id")]
    assert replies and (replies[-1].get("files") or replies[-1].get("text"))


_started: dict[int, object] = {}


async def _workspace(factory: WorkspaceFactory):  # type: ignore[no-untyped-def]
    """One offline workspace for all examples of a test run (hypothesis calls the test many times)."""
    key = id(factory)
    if key not in _started:
        _started.clear()
        _started[key] = await factory("offline", user_requests_per_minute=100_000, max_queue=100_000)
    return _started[key]
