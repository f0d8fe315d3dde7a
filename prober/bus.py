"""The bus between scheduler, probes and result consumer. The embedded default is in-process queues.

The scale-out transport (Redis Streams, see DESIGN.md) implements the same small interface.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from prober.messages import Job, Report


class Bus(Protocol):
    async def publish_job(self, job: Job) -> None: ...
    async def next_job(self) -> Job: ...
    async def publish_report(self, report: Report) -> None: ...
    async def next_reports(self, max_batch: int) -> list[Report]: ...
    def requeue(self, job: Job) -> None: ...
    def pending_reports(self) -> int: ...


class InProcessBus:
    """Unbounded asyncio queues: the scheduler never blocks on a slow probe, the probe never on the store."""

    def __init__(self) -> None:
        self._jobs: asyncio.Queue[Job] = asyncio.Queue()
        self._reports: asyncio.Queue[Report] = asyncio.Queue()

    async def publish_job(self, job: Job) -> None:
        self._jobs.put_nowait(job)

    async def next_job(self) -> Job:
        return await self._jobs.get()

    def requeue(self, job: Job) -> None:
        self._jobs.put_nowait(job)

    def pending_jobs(self) -> int:
        return self._jobs.qsize()

    async def publish_report(self, report: Report) -> None:
        self._reports.put_nowait(report)

    async def next_reports(self, max_batch: int) -> list[Report]:
        """Wait for one report, then take whatever else is already queued, up to ``max_batch``."""
        batch = [await self._reports.get()]
        while len(batch) < max_batch and not self._reports.empty():
            batch.append(self._reports.get_nowait())
        return batch

    def pending_reports(self) -> int:
        return self._reports.qsize()
