"""The probe worker: takes jobs from the bus, runs them under the runner, confirms state changes with
sens rechecks and reports one finalised result per job.

With a single probe (the embedded default) rechecks run on this probe ``recheck_delay`` seconds apart;
multi-probe rechecks go through the bus (another transport, same tally).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from prober.base import CheckContext
from prober.bus import Bus
from prober.messages import Job, Report
from prober.registry import Registry, UnknownCheckType
from prober.runner import run_check, timeout_for
from prober.sens import SensTally

log = logging.getLogger(__name__)


class ProbeWorker:
    def __init__(
        self,
        bus: Bus,
        registry: Registry,
        *,
        probe_id: str = "local",
        concurrency: int = 500,
        recheck_delay: float = 2.0,
        user_agent: str = "Vedette",
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.bus = bus
        self.registry = registry
        self.probe_id = probe_id
        self.recheck_delay = recheck_delay
        self.user_agent = user_agent
        self._sleep = sleep
        self._slots = asyncio.Semaphore(concurrency)
        self._running: dict[asyncio.Task[None], Job] = {}
        self._loop_task: asyncio.Task[None] | None = None
        self._stopping = False
        self._stopped = asyncio.Event()
        self.completed = 0

    async def start(self) -> None:
        self._loop_task = asyncio.create_task(self._take_jobs(), name=f"probe-{self.probe_id}")

    async def stop(self, grace: float = 30.0) -> None:
        """Take no new jobs; let running ones finish (rechecks without delay) for up to ``grace`` seconds.

        Jobs still running after that are cancelled and put back on the bus, so no job is silently dropped.
        """
        self._stopping = True
        self._stopped.set()
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
        if self._running:
            _, pending = await asyncio.wait(list(self._running), timeout=grace)
            for task in pending:
                job = self._running.get(task)
                task.cancel()
                if job is not None:
                    self.bus.requeue(job)
            await asyncio.gather(*pending, return_exceptions=True)

    @property
    def busy(self) -> int:
        return len(self._running)

    async def _take_jobs(self) -> None:
        while not self._stopping:
            await self._slots.acquire()
            try:
                job = await self.bus.next_job()
            except BaseException:
                self._slots.release()
                raise
            task = asyncio.create_task(self._handle(job))
            self._running[task] = job
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.pop(task, None)
        self._slots.release()
        if not task.cancelled() and task.exception() is not None:
            log.error("job failed unexpectedly", exc_info=task.exception())

    async def _handle(self, job: Job) -> None:
        report = await self.confirm_with_rechecks(job)
        await self.bus.publish_report(report)
        self.completed += 1

    async def confirm_with_rechecks(self, job: Job) -> Report:
        """Run the job, rechecking while the sens tally says a state change is not yet confirmed."""
        try:
            check_type = self.registry.get(job.type)
        except UnknownCheckType:
            now = int(time.time() * 1000)
            return self._report(
                job,
                now,
                now,
                0.0,
                False,
                "error",
                "error",
                f"Unknown check type {job.type}",
                {str(now): self.probe_id},
                config_error=True,
            )
        ctx = CheckContext(
            target=job.target,
            threshold=job.threshold,
            timeout=timeout_for(check_type, job.threshold),
            check_id=job.check_id,
            probe_id=self.probe_id,
            member_states=job.member_states,
            user_agent=self.user_agent,
        )
        tally = SensTally(job.state, job.sens)
        attempts: dict[str, str] = {}
        while True:
            result = await run_check(check_type, job.params, ctx)
            attempt_ms = int(result.start * 1000)
            while str(attempt_ms) in attempts:  # two attempts in the same millisecond stay two entries
                attempt_ms += 1
            attempts[str(attempt_ms)] = self.probe_id
            if tally.add(result.success, config_error=result.config_error):
                break
            await self._pause_before_recheck()
        start = int(result.start * 1000)
        return self._report(
            job,
            start,
            int(result.end * 1000),
            result.value if result.value is not None else result.duration_ms,
            result.success,
            result.status,
            str(result.code),
            result.message,
            attempts,
            fieldtracking=result.fieldtracking,
            details=result.details,
            config_error=result.config_error,
        )

    async def _pause_before_recheck(self) -> None:
        """Wait ``recheck_delay`` between attempts, unless the worker is stopping (then recheck at once)."""
        if self._stopping:
            return
        pause = asyncio.ensure_future(self._sleep(self.recheck_delay))
        stop = asyncio.ensure_future(self._stopped.wait())
        try:
            await asyncio.wait({pause, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in (pause, stop):
                waiter.cancel()

    def _report(
        self,
        job: Job,
        start: int,
        end: int,
        rt: float,
        success: bool,
        status: str,
        code: str,
        message: str,
        locations: dict[str, str],
        **extra: Any,
    ) -> Report:
        return Report(
            job=job,
            probe=self.probe_id,
            start=start,
            end=end,
            rt=rt,
            success=success,
            status=status,
            code=code,
            message=message,
            locations=locations,
            dep_down=job.dep_state == 0,
            **extra,
        )
