"""``/api/1/results``: history, uptime, events and current, fed through the real consumer and pipeline."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from prober.messages import Job, Report

MINUTE = 60_000


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


async def feed(api: Any, check: dict[str, Any], outcomes: list[tuple[int, bool]]) -> None:
    """Store one finalised result per (start ms, success), in order, through the result consumer."""
    for start, success in outcomes:
        job = Job(job_id="j", check_id=check["_id"], account_id=check["customer_id"], type=check["type"],
                  target=check["parameters"]["target"], scheduled=start - 5, queue=check["queue"])  # fmt: skip
        report = Report(job=job, probe="local", start=start, end=start + 40, rt=40.0, success=success,
                        status="up" if success else "down", code="Connected" if success else "Timeout",
                        message="ok" if success else "Timeout", locations={str(start): "local"})  # fmt: skip
        await api.services.consumer.process([report])


@pytest.fixture
async def history(api: Any) -> dict[str, Any]:
    api.clock.ms = ms("2024-03-01 00:00:00")
    check = await api.create(type="PORT", target="127.0.0.1", port=80, enabled=True)
    # created on 2024-03-01; up every 10 minutes for two days, down 02:00-03:00 on 2024-03-02
    base = ms("2024-03-01 00:00:00")
    outcomes = []
    for i in range(0, 2 * 24 * 6):
        start = base + i * 10 * MINUTE
        down = ms("2024-03-02 02:00:00") <= start < ms("2024-03-02 03:00:00")
        outcomes.append((start, not down))
    await feed(api, check, outcomes)
    api.clock.ms = ms("2024-03-03 00:00:00")
    return check


async def test_history_defaults_newest_first_limit_300_clean_or_wrapped(
    api: Any, history: dict[str, Any]
) -> None:
    check_id = history["_id"]
    wrapped = await api.call("GET", f"results/{check_id}", expect=200)
    assert isinstance(wrapped, list) and len(wrapped) == 288 and set(wrapped[0]) == {"doc"}
    clean = await api.call("GET", f"results/{check_id}", params={"clean": "True"})
    record = clean[0]
    assert record["s"] == ms("2024-03-02 23:50:00")
    assert record["_id"] == f"{check_id}-{record['s']}"
    assert {k: record[k] for k in ("ci", "t", "tg", "th", "i", "q", "su", "sc", "m", "rt")} == {
        "ci": history["customer_id"], "t": "PORT", "tg": "127.0.0.1", "th": "5", "i": "15",
        "q": history["queue"], "su": True, "sc": "Connected", "m": "ok", "rt": 40,
    }  # fmt: skip
    assert record["ra"] == str(record["s"] - 5) and record["e"] == record["s"] + 40
    assert record["l"] == {str(record["s"]): "local"}
    assert [r["s"] for r in clean] == sorted((r["s"] for r in clean), reverse=True)


async def test_history_limit_span_start_end(api: Any, history: dict[str, Any]) -> None:
    path = f"results/{history['_id']}"
    assert len(await api.call("GET", path, params={"limit": 5, "clean": "true"})) == 5
    one = await api.call("GET", path, params={"limit": 1})
    assert set(one[0]) != {"doc"}  # limit=1 implies clean
    assert len(await api.call("GET", path, params={"span": 2, "clean": 1})) == 12
    window = await api.call("GET", path, params={"start": "2024-03-02 02:00:00", "end": "2024-03-02 02:59:59",
                                                 "clean": "true"})  # fmt: skip
    assert len(window) == 6 and all(r["su"] is False for r in window)
    assert window[0]["s"] > window[-1]["s"]
    flipped = await api.call("GET", path, params={"start": ms("2024-03-02 02:59:59"), "end": ms("2024-03-02 02:00:00"),
                                                  "clean": "true"})  # fmt: skip
    assert [r["s"] for r in flipped] == sorted(r["s"] for r in window)
    body = await api.call("GET", path, params={"span": 1, "start": "2024-03-01"}, expect=400)
    assert body == {"error": "span cannot be combined with start or end"}
    body = await api.call("GET", path, params={"limit": 50000}, expect=400)
    assert body == {"error": "Invalid limit: must be between 1 and 43201"}
    body = await api.call("GET", path, params={"start": "yesterday-ish"}, expect=400)
    assert body["error"].startswith("Invalid start")
    assert await api.call("GET", "results/NOPE-1", expect=404) == {"error": "Unable to find that check"}


async def test_uptime_by_day_month_and_total(api: Any, history: dict[str, Any]) -> None:
    path = f"results/uptime/{history['_id']}"
    days = await api.call(
        "GET", path, params={"interval": "days", "start": "2024-03-01", "end": "now"}, expect=200
    )
    assert days["2024-03-01"] == {"down": 0, "enabled": 86_400_000, "uptime": 100}
    assert days["2024-03-02"] == {"down": 3_600_000, "enabled": 86_400_000, "uptime": 95.833}
    assert days["total"]["down"] == 3_600_000 and days["total"]["enabled"] == 2 * 86_400_000
    assert days["total"]["uptime"] == 97.917
    months = await api.call("GET", path, params={"interval": "months", "end": "now"})
    assert set(months) == {"2024-03", "total"}
    assert months["2024-03"] == days["total"]
    shifted = await api.call("GET", path, params={"interval": "days", "start": "2024-03-02", "offset": -3})
    assert shifted["2024-03-01"]["down"] == 3_600_000  # 02:00-03:00 UTC is the previous day at UTC-3
    body = await api.call("GET", path, params={"interval": "weeks"}, expect=400)
    assert body == {"error": "Invalid interval: must be days or months"}


async def test_uptime_counts_disabled_time_as_not_enabled(api: Any) -> None:
    api.clock.ms = ms("2024-05-01 00:00:00")
    check = await api.create(type="PORT", target="127.0.0.1", port=80, enabled=True)
    api.clock.ms = ms("2024-05-01 12:00:00")
    await api.call("PUT", f"checks/{check['_id']}", json={"enabled": False})
    api.clock.ms = ms("2024-05-01 18:00:00")
    await api.call("PUT", f"checks/{check['_id']}", json={"enabled": True})
    api.clock.ms = ms("2024-05-02 00:00:00")
    days = await api.call(
        "GET", f"results/uptime/{check['_id']}", params={"interval": "days", "start": "2024-05-01"}
    )
    assert days["2024-05-01"]["enabled"] == 18 * 3_600_000
    events = await api.call("GET", f"results/events/{check['_id']}")
    assert events[0]["type"] == "disabled" and events[0]["end"] == ms("2024-05-01 18:00:00")


async def test_events_and_current(api: Any, history: dict[str, Any]) -> None:
    events = await api.call("GET", f"results/events/{history['_id']}", expect=200)
    assert events == [{"_id": f"{history['_id']}-{ms('2024-03-02 02:00:00')}", "type": "down",
                       "start": ms("2024-03-02 02:00:00"), "end": ms("2024-03-02 03:00:00"), "open": False,
                       "code": "Timeout", "message": "Timeout"}]  # fmt: skip
    assert await api.call("GET", "results/current") == {}
    await feed(api, history, [(ms("2024-03-03 00:00:00"), False)])
    current = await api.call("GET", "results/current")
    (event,) = current.values()
    assert event["checkid"] == history["_id"] and event["open"] is True and event["end"] is None
    assert await api.call("GET", "results", params={"action": "CURRENT"}) == current
    listing = await api.call("GET", "checks", params={"current": "true"})
    assert listing[history["_id"]]["current"][0]["open"] is True
    windowed = await api.call(
        "GET", f"results/events/{history['_id']}", params={"start": ms("2024-03-02 12:00:00")}
    )
    assert [e["open"] for e in windowed] == [True]


async def test_summary_hourly(api: Any, history: dict[str, Any]) -> None:
    summary = await api.call("GET", f"results/summary/{history['_id']}", params={"span": 24})
    assert summary[0]["count"] == 6
    assert sum(hour["fail"] for hour in summary) == 6
