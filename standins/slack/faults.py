"""Faults a test queues for a Web API method, an upload, a download or a response_url: Slack's rate limit (429 with
Retry-After), any error, or no answer until stop()."""

from __future__ import annotations

from aiohttp import web

from standins.slack.state import SlackState


class Faults(SlackState):
    """fail_next() and hang_next(), and the queue they fill."""

    def fail_next(self, method: str, *, status: int = 429, error: str = "ratelimited",
                  retry_after: int | None = 1, times: int = 1) -> None:
        """Make the next `times` requests to `method` fail. Methods: Web API names, "upload", "download",
        "response_url". A 429 carries `Retry-After: retry_after` like Slack's rate limiter."""
        fault = {"status": status, "error": error, "retry_after": retry_after}
        self._faults.setdefault(method, []).extend(dict(fault) for _ in range(times))

    def hang_next(self, method: str, *, times: int = 1) -> None:
        """Never answer the next `times` requests to `method` until stop() (then 503): the caller's own timeout
        has to fire."""
        self._faults.setdefault(method, []).extend({"hang": True} for _ in range(times))

    def delay_file_processing(self, times: int = 1) -> None:
        """Files uploaded from now on are still "being processed" for their first `times` uses in an image block:
        chat.postMessage and chat.update answer invalid_blocks ("invalid slack file") for them, as Slack does for a
        file uploaded a moment ago. 0 turns it off for later uploads."""
        self._processing_delay = times

    async def _take_fault(self, method: str) -> web.Response | None:
        queue = self._faults.get(method)
        if not queue:
            return None
        fault = queue.pop(0)
        if fault.get("hang"):
            await self._released.wait()
            return web.json_response({"ok": False, "error": "standin_stopped"}, status=503)
        headers = {"Retry-After": str(fault["retry_after"])} if fault["retry_after"] is not None else {}
        return web.json_response({"ok": False, "error": fault["error"]}, status=fault["status"], headers=headers)
