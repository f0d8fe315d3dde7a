"""What travels on the bus: jobs to probes and reports back. Versioned pydantic models."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

SCHEMA_VERSION = 1


class Job(BaseModel):
    """A self-contained snapshot of a check at the moment it is due."""

    v: int = SCHEMA_VERSION
    job_id: str
    check_id: str
    account_id: str
    type: str
    target: str = ""
    threshold: int = 5
    sens: int = 2
    interval: float = 15
    params: dict[str, Any] = Field(default_factory=dict)
    scheduled: int
    """When the run was due, ms since the epoch."""
    queue: str = ""
    state: int | None = None
    """The last confirmed state (1 up, 0 down, None never run)."""
    dep_state: int | None = None
    """The current state of the ``dep`` check, if any."""
    member_states: dict[str, int | None] = Field(default_factory=dict)
    runlocations: Any = None
    homeloc: Any = None
    mute: bool | int | None = None


class Report(BaseModel):
    """A finalised result: the final run, after sens rechecks, with every attempt in ``locations``."""

    v: int = SCHEMA_VERSION
    job: Job
    probe: str
    start: int
    end: int
    rt: float
    success: bool
    status: str
    code: str
    message: str
    locations: dict[str, str]
    fieldtracking: dict[str, Any] | None = None
    details: dict[str, Any] | None = None
    config_error: bool = False
    dep_down: bool = False
