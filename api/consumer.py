"""The result consumer: takes finalised reports off the bus in batches, runs each through the pipeline
and stores results, state and events in one transaction per batch."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

from api.clock import Clock
from api.pipeline import CheckStatus, CloseEvent, Finalised, OpenEvent, Transition, apply_result
from api.storage.store import Row, Store
from prober.bus import Bus
from prober.messages import Report

log = logging.getLogger(__name__)

MAX_BATCH = 500


def result_row(report: Report) -> Row:
    job = report.job
    return {
        "check_id": job.check_id,
        "account_id": job.account_id,
        "type": job.type,
        "target": job.target,
        "threshold": job.threshold,
        "interval": job.interval,
        "scheduled": job.scheduled,
        "queue": job.queue,
        "start": report.start,
        "end": report.end,
        "rt": report.rt,
        "success": report.success,
        "code": report.code[:200],
        "message": report.message,
        "locations": report.locations,
        "fieldtracking": report.fieldtracking,
        "diag": report.details,
    }


def event_rows(check_id: str, account_id: str, transition: Transition) -> list[Row]:
    rows: list[Row] = []
    for change in transition.events:
        if isinstance(change, OpenEvent):
            rows.append(
                {
                    "check_id": check_id,
                    "account_id": account_id,
                    "type": change.type,
                    "start": change.start,
                    "end": None,
                    "code": change.code[:200],
                    "message": change.message,
                    "muted": change.muted,
                }
            )
        elif isinstance(change, CloseEvent):
            rows.append({"check_id": check_id, "type": change.type, "end": change.end, "close": True})
    return rows


class ResultConsumer:
    def __init__(
        self,
        bus: Bus,
        store: Store,
        clock: Clock,
        on_state: Callable[[str, int | None], None] = lambda _id, _state: None,
    ) -> None:
        self.bus = bus
        self.store = store
        self.clock = clock
        self.on_state = on_state
        self._status: dict[str, CheckStatus] = {}
        self._task: asyncio.Task[None] | None = None
        self._inflight: asyncio.Future[None] | None = None
        self.stored = 0
        self.notifications: list[tuple[str, str]] = []
        """(check id, "down"/"up") intents; the notifier (another component) delivers them."""

    def load(self, checks: Sequence[Row]) -> None:
        for check in checks:
            self.track(check)

    def track(self, check: Row) -> None:
        """Know a new check's state without a database read when its first result arrives."""
        self._status.setdefault(check["id"], CheckStatus(check.get("state"), check.get("firstdown")))

    def forget(self, check_id: str) -> None:
        self._status.pop(check_id, None)

    async def process(self, reports: Sequence[Report]) -> None:
        outcomes: list[dict[str, Any]] = []
        now = self.clock.now_ms()
        for report in reports:
            check_id = report.job.check_id
            status = self._status.get(check_id)
            if status is None:
                found = await self.store.get_check(check_id)
                if found is None:
                    continue  # deleted while it ran
                status = CheckStatus(found.get("state"), found.get("firstdown"))
            finalised = Finalised(report.start, report.success, report.code, report.message, report.dep_down)
            transition = apply_result(status, finalised, now, mute=report.job.mute)
            self._status[check_id] = transition.status
            outcomes.append(
                {
                    "result": result_row(report),
                    "state": {
                        "state": transition.status.state,
                        "firstdown": transition.status.firstdown,
                        "last_run": report.start,
                    },
                    "events": event_rows(check_id, report.job.account_id, transition),
                }
            )
            if transition.notify:
                self.notifications.append((check_id, transition.notify))
                log.info("check %s is %s", check_id, transition.notify)
        await self.store.record_outcomes(outcomes)
        for outcome in outcomes:
            self.on_state(outcome["result"]["check_id"], outcome["state"]["state"])
        self.stored += len(outcomes)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="result-consumer")

    async def _run(self) -> None:
        while True:
            batch = await self.bus.next_reports(MAX_BATCH)
            # Shielded: stopping the consumer never abandons a batch half-written.
            self._inflight = asyncio.ensure_future(self._process_or_requeue(batch))
            await asyncio.shield(self._inflight)

    async def _process_or_requeue(self, batch: Sequence[Report]) -> None:
        try:
            await self.process(batch)
        except Exception:
            log.exception("could not store %d results; will retry", len(batch))
            for report in batch:
                await self.bus.publish_report(report)
            await asyncio.sleep(1)

    async def stop(self) -> None:
        """Stop after storing every report already on the bus."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._inflight is not None:
            await self._inflight
        while self.bus.pending_reports():
            await self.process(await self.bus.next_reports(MAX_BATCH))
