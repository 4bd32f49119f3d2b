"""Background work after the ack: a small registry of asyncio tasks that can be waited for and shut down.

Handlers ack first and hand the slow part (image API calls, uploads) to `JobRunner.submit`, so the HTTP
response to Slack never waits for it. Every task is tracked: `wait_idle` and `shutdown` take a timeout.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


class JobRunner:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self.accepting = True

    @property
    def running(self) -> int:
        return len(self._tasks)

    def submit(self, job: Coroutine[Any, Any, None], *, name: str) -> asyncio.Task[None]:
        if not self.accepting:
            job.close()
            raise RuntimeError("imagebot is shutting down and takes no new work")
        task = asyncio.get_running_loop().create_task(self._guard(job, name), name=name)
        self._tasks.add(task)
        self._idle.clear()
        task.add_done_callback(self._done)
        return task

    async def _guard(self, job: Coroutine[Any, Any, None], name: str) -> None:
        try:
            await job
        except asyncio.CancelledError:
            raise
        except Exception:
            # Flows turn every expected error into a message for the user; anything reaching here is a bug,
            # logged with its traceback rather than lost in an un-awaited task.
            log.exception("job %s failed unexpectedly", name)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not self._tasks:
            self._idle.set()

    async def wait_idle(self, timeout: float) -> bool:
        """Wait until no job runs (True), or `timeout` seconds (False)."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def shutdown(self, grace: float) -> int:
        """Stop taking work, let running jobs finish for `grace` seconds, cancel the rest; return how many."""
        self.accepting = False
        if await self.wait_idle(grace):
            return 0
        remaining = list(self._tasks)
        for task in remaining:
            task.cancel()
        await asyncio.gather(*remaining, return_exceptions=True)
        return len(remaining)
