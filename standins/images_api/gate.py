"""The pause gate: holding successful answers until resume() (the package docstring's "The pause gate")."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from standins.images_api.records import RecordedRequest


@dataclass
class Gate:
    """One pause: the requests it holds, and the event that lets them go."""

    release: asyncio.Event = field(default_factory=asyncio.Event)
    held: list[RecordedRequest] = field(default_factory=list)


class PauseGate:
    """pause(), resume() and what they hold. A part of ImageAPIStandIn, which sets these attributes."""

    _gate: Gate | None  # set while paused
    _held_changed: asyncio.Event
    _stopped: asyncio.Event

    def pause(self) -> None:
        """Hold every following successful answer until resume() or stop(). Pausing twice is a no-op."""
        if self._gate is None:
            self._gate = Gate()

    def resume(self) -> None:
        """Release the requests held now (they are answered normally); later requests are not held."""
        gate, self._gate = self._gate, None
        if gate is not None:
            gate.release.set()
            gate.held.clear()
            self._notify_held()

    @property
    def paused(self) -> bool:
        return self._gate is not None

    @property
    def waiting(self) -> int:
        """How many requests are held by the gate right now."""
        return len(self._gate.held) if self._gate is not None else 0

    @property
    def held(self) -> list[RecordedRequest]:
        """The requests held right now, in arrival order."""
        return list(self._gate.held) if self._gate is not None else []

    async def wait_for_waiting(self, count: int = 1, *, timeout: float = 10.0) -> list[RecordedRequest]:
        """Wait until at least `count` requests are held by the gate; return the held requests."""
        async with asyncio.timeout(timeout):
            while self.waiting < count:
                self._held_changed.clear()
                await self._held_changed.wait()
        return self.held

    def _notify_held(self) -> None:
        self._held_changed.set()

    async def _hold(self, record: RecordedRequest) -> None:
        """While paused: wait for resume() or stop() (whichever comes first)."""
        gate = self._gate
        if gate is None or self._stopped.is_set():
            return
        gate.held.append(record)
        self._notify_held()
        released = asyncio.ensure_future(gate.release.wait())
        stopped = asyncio.ensure_future(self._stopped.wait())
        try:
            await asyncio.wait({released, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            released.cancel()
            stopped.cancel()
            # Still listed after stop(), or when the client went away and aiohttp cancelled the handler. By
            # identity: two identical requests are equal records.
            for index, held in enumerate(gate.held):
                if held is record:
                    del gate.held[index]
                    self._notify_held()
                    break
