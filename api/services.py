"""The controller's long-lived services, held in one object on the aiohttp app."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from api.checks import CheckValidator
from api.clock import Clock, SystemClock
from api.consumer import ResultConsumer
from api.probes import ProbeMap
from api.scheduler import Scheduler
from api.storage.store import Row, Store
from prober.bus import InProcessBus
from prober.registry import Registry
from prober.worker import ProbeWorker


@dataclass
class Settings:
    database_url: str = "sqlite+aiosqlite:///vedette.db"
    host: str = "127.0.0.1"
    port: int = 8080
    run_probe: bool = True
    probe_concurrency: int = 500
    recheck_delay: float = 2.0
    retention_days: float = 31.0
    shutdown_grace: float = 30.0
    probes_file: str | None = None


@dataclass
class Services:
    settings: Settings
    store: Store
    registry: Registry
    probes: ProbeMap
    clock: Clock = field(default_factory=SystemClock)
    bus: InProcessBus = field(default_factory=InProcessBus)
    scheduler: Scheduler = field(init=False)
    consumer: ResultConsumer = field(init=False)
    worker: ProbeWorker | None = None
    validator: CheckValidator = field(init=False)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.scheduler = Scheduler(self.bus, self.registry, self.clock)
        self.consumer = ResultConsumer(self.bus, self.store, self.clock, on_state=self.scheduler.note_state)
        self.validator = CheckValidator(self.registry, self.probes)

    def check_changed(self, row: Row, *, created: bool = False) -> None:
        """Keep the schedule (and the consumer's state cache) in step with the stored checks."""
        self.scheduler.upsert(row, created=created)
        self.consumer.track(row)

    def check_deleted(self, check_id: str) -> None:
        self.scheduler.forget(check_id)
        self.consumer.forget(check_id)


SERVICES = web.AppKey("services", Services)
