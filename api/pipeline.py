"""The result pipeline: a pure state machine from (state, finalised result, now) to (new state, events).

No awaits, no clock, no database: the result consumer reads the state, calls ``apply_result`` and
writes what it returns. Rules from check-types.md §2.3-§2.5:

- a failing result while the check is up (or new) sets ``firstdown`` and opens a down event;
- a passing result while it is down closes the event and clears ``firstdown``;
- a confirmed change notifies (down, or up after down) unless the check is muted or its dependency is
  down; a dependency-muted failure still changes state and records the event, marked ``muted``;
- disabling a check opens a "disabled" event, enabling it closes that event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Notify = Literal["down", "up"]


@dataclass(frozen=True)
class CheckStatus:
    state: int | None = None
    firstdown: int | None = None


@dataclass(frozen=True)
class Finalised:
    """A finalised result as the probe reports it (after sens rechecks)."""

    start: int
    success: bool
    code: str
    message: str
    dep_down: bool = False


@dataclass(frozen=True)
class OpenEvent:
    type: Literal["down", "disabled"]
    start: int
    code: str = ""
    message: str = ""
    muted: bool = False


@dataclass(frozen=True)
class CloseEvent:
    type: Literal["down", "disabled"]
    end: int


EventChange = OpenEvent | CloseEvent


@dataclass(frozen=True)
class Transition:
    status: CheckStatus
    events: tuple[EventChange, ...] = ()
    notify: Notify | None = None


def is_muted(mute: bool | int | None, now: int) -> bool:
    """``mute`` is true (indefinitely), false, or a ms timestamp until which the check is muted."""
    if mute is None or mute is False:
        return False
    if mute is True:
        return True
    return int(mute) > now


def apply_result(
    status: CheckStatus, result: Finalised, now: int, *, mute: bool | int | None = None
) -> Transition:
    silenced = result.dep_down or is_muted(mute, now)
    if not result.success:
        if status.state == 0 and status.firstdown is not None:
            return Transition(status)  # still down: the outage and its event go on
        down = CheckStatus(state=0, firstdown=result.start)
        opened = OpenEvent("down", result.start, result.code, result.message, muted=silenced)
        return Transition(down, (opened,), None if silenced else "down")
    if status.state == 0:
        closed = CloseEvent("down", result.start)
        return Transition(CheckStatus(state=1), (closed,), None if silenced else "up")
    return Transition(CheckStatus(state=1))


def apply_enabled(was_enabled: bool, enabled: bool, now: int) -> tuple[EventChange, ...]:
    """Events for enabling or disabling a check (by ``enabled``, ``disableall`` or maintenance)."""
    if was_enabled and not enabled:
        return (OpenEvent("disabled", now),)
    if enabled and not was_enabled:
        return (CloseEvent("disabled", now),)
    return ()
