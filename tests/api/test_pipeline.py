"""api.pipeline: the pure state machine from (state, finalised result, now) to (state, events, notify).

check-types.md §2.3 (state, firstdown, events) and §2.4 (dep and mute suppress notifications only).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from api.pipeline import (
    CheckStatus,
    CloseEvent,
    Finalised,
    Notify,
    OpenEvent,
    Transition,
    apply_enabled,
    apply_result,
    is_muted,
)

NOW = 1_700_000_000_000
T = NOW - 500  # the result's start
EARLIER = NOW - 3_600_000  # when an ongoing outage began
HOUR = 3_600_000

NEW = CheckStatus()
UP = CheckStatus(state=1)
DOWN = CheckStatus(state=0, firstdown=EARLIER)

PASS = Finalised(start=T, success=True, code="200", message="OK")
FAIL = Finalised(start=T, success=False, code="Timeout", message="Timeout")
FAIL_DEP_DOWN = Finalised(start=T, success=False, code="Timeout", message="Timeout", dep_down=True)
PASS_DEP_DOWN = Finalised(start=T, success=True, code="200", message="OK", dep_down=True)

OPENED = OpenEvent("down", T, "Timeout", "Timeout", muted=False)
OPENED_MUTED = OpenEvent("down", T, "Timeout", "Timeout", muted=True)
CLOSED = CloseEvent("down", T)


@dataclass(frozen=True)
class Case:
    status: CheckStatus
    result: Finalised
    state: int
    firstdown: int | None
    events: tuple[OpenEvent | CloseEvent, ...]
    notify: Notify | None
    mute: bool | int | None = None


CASES = {
    # --- state and events --------------------------------------------------------------------------
    "new check up: state 1, no event, no notification": Case(NEW, PASS, 1, None, (), None),
    "new check down: state 0, firstdown=start, down event, notify down": Case(
        NEW, FAIL, 0, T, (OPENED,), "down"
    ),
    "up stays up: nothing happens": Case(UP, PASS, 1, None, (), None),
    "up to down: firstdown=start, down event, notify down": Case(UP, FAIL, 0, T, (OPENED,), "down"),
    "down stays down: no new event, firstdown kept, no notification": Case(DOWN, FAIL, 0, EARLIER, (), None),
    "down to up: event closes at start, firstdown cleared, notify up": Case(
        DOWN, PASS, 1, None, (CLOSED,), "up"
    ),
    # --- dependency down: state and events as usual, the event is muted, no notification -------------
    "dep down, new check fails: muted event, no notification": Case(
        NEW, FAIL_DEP_DOWN, 0, T, (OPENED_MUTED,), None
    ),
    "dep down, up to down: muted event, no notification": Case(
        UP, FAIL_DEP_DOWN, 0, T, (OPENED_MUTED,), None
    ),
    "dep down, down to up: event closes, no notification": Case(
        DOWN, PASS_DEP_DOWN, 1, None, (CLOSED,), None
    ),
    "dep down, down stays down: nothing": Case(DOWN, FAIL_DEP_DOWN, 0, EARLIER, (), None),
    "dep down, new check up: nothing": Case(NEW, PASS_DEP_DOWN, 1, None, (), None),
    # --- mute ----------------------------------------------------------------------------------------
    "mute true, up to down: muted event, no notification": Case(
        UP, FAIL, 0, T, (OPENED_MUTED,), None, mute=True
    ),
    "mute true, down to up: event closes, no notification": Case(
        DOWN, PASS, 1, None, (CLOSED,), None, mute=True
    ),
    "mute until a future timestamp, up to down: muted, no notification": Case(
        UP, FAIL, 0, T, (OPENED_MUTED,), None, mute=NOW + HOUR
    ),
    "mute until a future timestamp, down to up: no notification": Case(
        DOWN, PASS, 1, None, (CLOSED,), None, mute=NOW + 1
    ),
    "mute timestamp in the past, up to down: notify down": Case(
        UP, FAIL, 0, T, (OPENED,), "down", mute=NOW - HOUR
    ),
    "mute timestamp in the past, down to up: notify up": Case(
        DOWN, PASS, 1, None, (CLOSED,), "up", mute=NOW - 1
    ),
    "mute timestamp equal to now has expired: notify down": Case(UP, FAIL, 0, T, (OPENED,), "down", mute=NOW),
    "mute false, up to down: notify down": Case(UP, FAIL, 0, T, (OPENED,), "down", mute=False),
    "mute true and dep down: muted event, no notification": Case(
        UP, FAIL_DEP_DOWN, 0, T, (OPENED_MUTED,), None, mute=True
    ),
}


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_apply_result(case: Case) -> None:
    transition = apply_result(case.status, case.result, NOW, mute=case.mute)
    assert transition == Transition(CheckStatus(case.state, case.firstdown), case.events, case.notify)


def test_apply_result_is_pure() -> None:
    """Same input, same output; the input status is not touched (frozen) and no clock is read."""
    first = apply_result(UP, FAIL, NOW, mute=NOW + 10)
    later = apply_result(UP, FAIL, NOW + 20, mute=NOW + 10)
    assert first == apply_result(UP, FAIL, NOW, mute=NOW + 10)
    assert first.notify is None and later.notify == "down"  # only ``now`` decides whether mute expired
    assert UP == CheckStatus(state=1)


def test_a_full_outage_opens_one_event_and_notifies_twice() -> None:
    status = NEW
    notified: list[str] = []
    events: list[OpenEvent | CloseEvent] = []
    for minute, success in enumerate([True, False, False, False, True, True]):
        start = NOW + minute * 60_000
        result = Finalised(start, success, "200" if success else "Timeout", "m")
        transition = apply_result(status, result, start)
        status = transition.status
        events.extend(transition.events)
        notified.extend([transition.notify] if transition.notify else [])
    assert notified == ["down", "up"]
    assert events == [OpenEvent("down", NOW + 60_000, "Timeout", "m"), CloseEvent("down", NOW + 240_000)]
    assert status == CheckStatus(state=1, firstdown=None)


ENABLED_CASES = {
    "disabling opens a disabled event": (True, False, (OpenEvent("disabled", NOW),)),
    "enabling closes the disabled event": (False, True, (CloseEvent("disabled", NOW),)),
    "staying enabled: no event": (True, True, ()),
    "staying disabled: no event": (False, False, ()),
}


@pytest.mark.parametrize(
    ("was", "now_enabled", "expected"), list(ENABLED_CASES.values()), ids=list(ENABLED_CASES)
)
def test_apply_enabled(was: bool, now_enabled: bool, expected: tuple[OpenEvent | CloseEvent, ...]) -> None:
    assert apply_enabled(was, now_enabled, NOW) == expected


MUTE_CASES = {
    "None is not muted": (None, False),
    "False is not muted": (False, False),
    "True is muted indefinitely": (True, True),
    "a future timestamp is muted": (NOW + HOUR, True),
    "one ms in the future is muted": (NOW + 1, True),
    "a timestamp equal to now has expired": (NOW, False),
    "a past timestamp is not muted": (NOW - HOUR, False),
    "zero is not muted": (0, False),
}


@pytest.mark.parametrize(("mute", "expected"), list(MUTE_CASES.values()), ids=list(MUTE_CASES))
def test_is_muted(mute: bool | int | None, expected: bool) -> None:
    assert is_muted(mute, NOW) is expected
