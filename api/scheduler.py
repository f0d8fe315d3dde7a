"""The in-process scheduler: a heap of due times; each due check becomes a job on the bus.

- Intervals are minutes (0.25 and 0.5 included); the next run is due one interval after the previous
  *due* time, so runs do not drift with probe latency.
- Checks are spread out: a check that has never run (or is overdue after a restart) starts at a stable,
  per-check offset within min(interval, 60 s), so 10,000 one-minute checks do not fire in the same second;
  a check just created through the API starts within 5 s.
- The job snapshot carries the check's confirmed state and its dependency's, which the result consumer
  keeps current through ``note_state``.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from api.clock import Clock
from api.storage.store import Row
from prober.bus import Bus
from prober.messages import Job
from prober.registry import Registry

log = logging.getLogger(__name__)

SPREAD_WINDOW_MS = 60_000
NEW_CHECK_WINDOW_MS = 5_000


def interval_ms(interval: float) -> int:
    return max(int(interval * 60_000), 1000)


def stable_offset(check_id: str, window_ms: int) -> int:
    digest = hashlib.blake2b(check_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % max(window_ms, 1)


@dataclass
class Entry:
    check: Row
    due: int
    generation: int


class Scheduler:
    def __init__(self, bus: Bus, registry: Registry, clock: Clock) -> None:
        self.bus = bus
        self.registry = registry
        self.clock = clock
        self._entries: dict[str, Entry] = {}
        self._heap: list[tuple[int, int, str]] = []
        self._states: dict[str, int | None] = {}
        self._generation = 0
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.dispatched = 0

    # --- what to run ------------------------------------------------------------------------------

    def load(self, checks: Iterable[Row]) -> None:
        for check in checks:
            self._states[check["id"]] = check.get("state")
            self.upsert(check)

    def upsert(self, check: Row, *, created: bool = False) -> None:
        """Add or replace a check. Disabled and passive checks are removed from the schedule.

        A check just ``created`` through the API runs within ``NEW_CHECK_WINDOW_MS``: its owner is waiting
        for the first result, and checks created one by one are spread by their creation times anyway.
        """
        check_id = check["id"]
        self._states.setdefault(check_id, check.get("state"))
        if not check["enabled"] or check.get("acctdisable") or self._is_passive(check["type"]):
            self.remove(check_id)
            return
        previous = self._entries.get(check_id)
        if previous is not None and previous.check["interval"] == check["interval"]:
            due = previous.due
        else:
            due = self._first_due(check, created)
        self._generation += 1
        self._entries[check_id] = Entry(check, due, self._generation)
        heapq.heappush(self._heap, (due, self._generation, check_id))
        self._wakeup.set()

    def remove(self, check_id: str) -> None:
        self._entries.pop(check_id, None)  # its heap item goes stale and is skipped

    def note_state(self, check_id: str, state: int | None) -> None:
        self._states[check_id] = state

    def forget(self, check_id: str) -> None:
        self.remove(check_id)
        self._states.pop(check_id, None)

    def _is_passive(self, type_name: str) -> bool:
        return type_name in self.registry and self.registry.get(type_name).passive

    def _first_due(self, check: Row, created: bool) -> int:
        now = self.clock.now_ms()
        every = interval_ms(check["interval"])
        last_run = check.get("last_run")
        if last_run and last_run + every > now:
            return int(last_run + every)
        window = NEW_CHECK_WINDOW_MS if created else SPREAD_WINDOW_MS
        return now + stable_offset(check["id"], min(every, window))

    def __len__(self) -> int:
        return len(self._entries)

    def next_due(self) -> int | None:
        while self._heap:
            due, generation, check_id = self._heap[0]
            entry = self._entries.get(check_id)
            if entry is not None and entry.generation == generation:
                return due
            heapq.heappop(self._heap)
        return None

    # --- dispatching ------------------------------------------------------------------------------

    async def dispatch_due(self, now: int | None = None) -> int:
        """Publish a job for every check due at ``now``; return how many."""
        now = self.clock.now_ms() if now is None else now
        count = 0
        while (due := self.next_due()) is not None and due <= now:
            _, _, check_id = heapq.heappop(self._heap)
            entry = self._entries[check_id]
            await self.bus.publish_job(self.job_for(entry.check, due))
            next_due = due + interval_ms(entry.check["interval"])
            if next_due <= now:  # far behind (suspended host): skip the missed runs, keep the phase
                missed = (now - next_due) // interval_ms(entry.check["interval"]) + 1
                next_due += missed * interval_ms(entry.check["interval"])
            self._generation += 1
            entry.due, entry.generation = next_due, self._generation
            heapq.heappush(self._heap, (next_due, self._generation, check_id))
            count += 1
        self.dispatched += count
        return count

    def job_for(self, check: Row, due: int) -> Job:
        parameters: dict[str, Any] = dict(check["parameters"])
        target = str(parameters.pop("target", "") or "")
        threshold = int(parameters.pop("threshold", 5))
        sens = int(parameters.pop("sens", 2))
        members = parameters.get("data") if check["type"] in ("CLUSTER", "SPEC10DNS", "SPEC10RDDS") else None
        return Job(
            job_id=secrets.token_hex(8),
            check_id=check["id"],
            account_id=check["account_id"],
            type=check["type"],
            target=target,
            threshold=threshold,
            sens=sens,
            interval=check["interval"],
            params=parameters,
            scheduled=due,
            queue=check.get("queue", ""),
            state=self._states.get(check["id"]),
            dep_state=self._states.get(check["dep"]) if check.get("dep") else None,
            member_states={m: self._states.get(m) for m in members} if isinstance(members, dict) else {},
            runlocations=check.get("runlocations"),
            homeloc=check.get("homeloc"),
            mute=check.get("mute"),
        )

    # --- lifetime ---------------------------------------------------------------------------------

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="scheduler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            self._wakeup.clear()
            await self.dispatch_due()
            due = self.next_due()
            delay = 3600.0 if due is None else max((due - self.clock.now_ms()) / 1000, 0.0)
            if delay > 0:
                try:
                    await asyncio.wait_for(self._wakeup.wait(), timeout=min(delay, 60.0))
                except TimeoutError:
                    pass
