"""The whole loop: scheduler -> in-process bus -> probe (real PORT checks) -> pipeline -> store -> API."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from typing import Any


async def run_due_checks(api: Any, advance_seconds: float, expected_results: int, check_id: str) -> None:
    """Advance the fake clock, dispatch what is due and wait until the consumer stored the results."""
    api.clock.advance(advance_seconds)
    await api.services.scheduler.dispatch_due()
    for _ in range(200):
        if len(await api.services.store.results(check_id)) >= expected_results:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"no result {expected_results} for {check_id}")


async def start_listener(port: int = 0) -> asyncio.Server:
    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    return await asyncio.start_server(accept, "127.0.0.1", port)


async def test_failing_target_turns_state_down_with_firstdown_and_event_and_back(live_api: Any) -> None:
    api = live_api
    listener = await start_listener()
    port = listener.sockets[0].getsockname()[1]
    check = await api.create(type="PORT", target="127.0.0.1", port=port, interval=1, sens=1, enabled=True)
    check_id = check["_id"]

    await run_due_checks(api, 61, 1, check_id)
    view = await api.call("GET", f"checks/{check_id}", params={"lastresult": "true"})
    assert view["state"] == 1 and view["firstdown"] is False
    last = view["lastresult"]
    assert last["su"] is True and last["sc"] == "Connected"
    assert len(last["l"]) == 2  # a new check is confirmed by a recheck (sens 1: first to 2 passes)

    listener.close()
    await listener.wait_closed()
    await run_due_checks(api, 60, 2, check_id)
    view = await api.call("GET", f"checks/{check_id}")
    assert view["state"] == 0
    results = await api.call("GET", f"results/{check_id}", params={"clean": "true"})
    down = results[0]
    assert down["su"] is False and "Connection refused" in down["m"]
    assert view["firstdown"] == down["s"]
    assert len(down["l"]) == 2  # the change was confirmed by one recheck (sens 1)
    events = await api.call("GET", f"results/events/{check_id}")
    assert events[0]["type"] == "down" and events[0]["open"] is True and events[0]["start"] == down["s"]
    current = await api.call("GET", "results/current")
    assert [event["checkid"] for event in current.values()] == [check_id]
    assert api.services.consumer.notifications[-1] == (check_id, "down")

    listener = await start_listener(port)
    try:
        await run_due_checks(api, 60, 3, check_id)
    finally:
        listener.close()
    view = await api.call("GET", f"checks/{check_id}")
    assert view["state"] == 1 and view["firstdown"] is False
    events = await api.call("GET", f"results/events/{check_id}")
    up = (await api.call("GET", f"results/{check_id}", params={"limit": 1}))[0]
    assert events[0]["open"] is False and events[0]["end"] == up["s"]
    assert await api.call("GET", "results/current") == {}
    assert api.services.consumer.notifications[-1] == (check_id, "up")


async def test_dependency_down_mutes_the_notification_but_records_the_event(live_api: Any) -> None:
    api = live_api
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead_port = closed.getsockname()[1]
    router = await api.create(type="PORT", target="127.0.0.1", port=dead_port, sens=0, enabled=True)
    await run_due_checks(api, 61, 1, router["_id"])
    assert (await api.call("GET", f"checks/{router['_id']}"))["state"] == 0
    service = await api.create(type="PORT", target="127.0.0.1", port=dead_port, sens=0, enabled=True,
                               dep=router["_id"])  # fmt: skip
    before = list(api.services.consumer.notifications)
    await run_due_checks(api, 61, 1, service["_id"])
    assert (await api.call("GET", f"checks/{service['_id']}"))["state"] == 0
    stored = await api.services.store.events(service["_id"])
    assert stored[0]["type"] == "down" and stored[0]["muted"] is True
    assert (service["_id"], "down") not in api.services.consumer.notifications[len(before) :]


async def test_not_yet_runnable_type_records_a_clear_error_result(live_api: Any) -> None:
    api = live_api
    # A type whose plugin has no run() yet (as a third-party plugin might ship it).
    api.services.registry.add(dataclasses.replace(api.services.registry.get("RDP"), run=None))
    check = await api.create(type="RDP", target="127.0.0.1", enabled=True)
    await run_due_checks(api, 61, 1, check["_id"])
    result = (await api.call("GET", f"results/{check['_id']}", params={"limit": 1}))[0]
    assert result["su"] is False
    assert result["m"] == "RDP checks are accepted but not yet runnable"
    assert len(result["l"]) == 1  # configuration errors are never rechecked


async def test_disabled_checks_do_not_run(live_api: Any) -> None:
    api = live_api
    check = await api.create(type="PORT", target="127.0.0.1", port=9, enabled=False)
    api.clock.advance(3600)
    assert await api.services.scheduler.dispatch_due() == 0
    assert await api.services.store.results(check["_id"]) == []
