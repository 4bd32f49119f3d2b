"""How a Workflow Builder step's job ends in Slack: functions.completeSuccess with the image's outputs, or
functions.completeError with why not (https://docs.slack.dev/reference/methods/functions.completeSuccess).

Delivery calls `finish` after the job's work, and `fail` wherever a job can end without it (its card could not be
posted, the database could not record its start, a restart cut it short): so no run of the step is left pending.
A run Slack says is already over (`execution_not_in_running_state`: completed before a restart, say) is left as
it is. The calls use the workspace's bot token (the run's own token would not outlive a restart); a Slack that
cannot be reached is tried again a few times, then logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.models import ImageOptions
from bot.runtime.jobs import Outcome
from handlers.delivery.uploads import Slack
from handlers.ui.errors import plain
from storage.records import JobRecord

log = logging.getLogger(__name__)
TRIES, FIRST_WAIT = 3, 2.0  # Slack unreachable: three tries, 2 s then 4 s apart
OVER = "execution_not_in_running_state"  # completed already, or timed out on Slack's side
NO_IMAGE = "imagebot made no image."


def step_payload(prompt: str, options: ImageOptions, *, execution_id: str) -> dict[str, Any]:
    """A step's job: a generation with a card, and the run to complete."""
    return {"prompt": prompt, "options": dict(vars(options)), "card": True, "step": {"execution_id": execution_id}}


def is_step(job: JobRecord) -> bool:
    return job.kind == "workflow"


def outputs(result: dict[str, Any], permalink: str) -> dict[str, Any]:
    """The step's outputs (handlers/manifest.py `_STEP_OUTPUTS`) from a delivered job's result; no cost when no
    price is known (a model the catalogue does not price), rather than a made-up one."""
    made = {"file_id": result["files"][0], "permalink": permalink, "version": (result.get("versions") or [""])[0]}
    cost = result.get("cost_micro")
    return made if cost is None else {**made, "cost_usd": round(cost / 1_000_000, 6)}


class Steps:
    def __init__(self, slack: Slack, *, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.slack = slack  # `await slack(team_id)`: a Web API client with that workspace's bot token
        self.sleep = sleep

    async def run(self, job: JobRecord, work: Callable[[JobRecord], Awaitable[Outcome]]) -> Outcome:
        """The job's work, then the run completed or failed: also when the work raised (a bug, logged by the queue)."""
        try:
            outcome = await work(job)
        except Exception:
            await self.fail(job, "imagebot hit an internal error; the error is logged.")
            raise
        await self.finish(job, outcome)
        return outcome

    async def finish(self, job: JobRecord, outcome: Outcome) -> None:
        """After the job's work: its outputs when it delivered an image, else why not."""
        result = outcome.result or {}
        if outcome.status == "done" and result.get("files"):
            permalink = await self._permalink(job.team_id, result["files"][0])
            refused = await self._complete(job, "completeSuccess", outputs=outputs(result, permalink))
            if refused:  # the outputs were not taken: the run must still end
                await self.fail(job, f"imagebot made the image but Slack refused its outputs ({refused}).")
        else:
            await self.fail(job, outcome.error_message or NO_IMAGE)

    async def fail(self, job: JobRecord, reason: str) -> None:
        await self._complete(job, "completeError", error=plain(reason) or NO_IMAGE)

    async def _permalink(self, team_id: str, file_id: str) -> str:
        """The file's permalink (files_upload_v2's answer has only id and title); "" when Slack will not say."""
        try:
            info = await (await self.slack(team_id)).files_info(file=file_id)
            return str(info["file"].get("permalink") or "")
        except (SlackApiError, SlackClientError, aiohttp.ClientError, OSError, KeyError) as error:
            log.warning("no permalink for %s: %s", file_id, error)
            return ""

    async def _complete(self, job: JobRecord, how: str, **fields: Any) -> str | None:
        """Slack's error code when it refused (not for a run already over), else None."""
        execution = job.payload.get("step", {}).get("execution_id")
        if not execution:
            return None
        wait = FIRST_WAIT
        for attempt in range(1, TRIES + 1):
            try:
                client = await self.slack(job.team_id)
                method = client.functions_completeSuccess if how == "completeSuccess" else \
                    client.functions_completeError
                await method(function_execution_id=execution, **fields)
                return None
            except SlackApiError as error:
                code = str(error.response.get("error"))
                if code == OVER:
                    return None
                log.warning("job %s: functions.%s refused: %s %s", job.id, how, code, error.response.get("errors"))
                return code
            except (SlackClientError, aiohttp.ClientError, OSError) as error:
                log.warning("job %s: functions.%s failed (try %d of %d): %s", job.id, how, attempt, TRIES, error)
                if attempt < TRIES:
                    await self.sleep(wait)
                    wait *= 2
        return None  # not reached Slack: logged; the run times out on Slack's side
