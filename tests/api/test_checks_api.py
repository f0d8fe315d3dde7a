"""``/api/1/checks``: shapes, token places, tenancy, read-only tokens, updates, disableall, delete."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

NODEPINGPY_KEYS = {
    "_id",
    "autodiag",
    "created",
    "customer_id",
    "dep",
    "enable",
    "firstdown",
    "homeloc",
    "interval",
    "label",
    "modified",
    "mute",
    "notifications",
    "parameters",
    "public",
    "queue",
    "runlocations",
    "status",
    "suspacct",
    "tags",
    "type",
    "uuid",
    "_rev",
}


async def test_create_returns_the_nodeping_check_object(api: Any) -> None:
    check = await api.create(
        type="http", target="http://127.0.0.1:9/", interval=1, label="web", enabled="true"
    )
    assert NODEPINGPY_KEYS <= set(check)
    assert check["type"] == "HTTP"
    assert check["status"] == "assigned"
    assert check["enable"] == "active"
    assert check["interval"] == 1
    assert check["parameters"] == {
        "target": "http://127.0.0.1:9/",
        "threshold": 5,
        "sens": 2,
        "ipv6": False,
        "follow": False,
    }
    assert check["_id"].startswith(check["customer_id"] + "-")
    assert check["_rev"].startswith("1-")
    assert "state" not in check  # never run yet
    assert check["firstdown"] is False and check["dep"] is False and check["runlocations"] is False


async def test_label_defaults_to_target_and_disabled_by_default(api: Any) -> None:
    check = await api.create(type="PING", target="127.0.0.1", label="", enabled=False)
    assert check["label"] == "127.0.0.1"
    assert check["enable"] == "inactive"
    assert check["interval"] == 15


async def test_list_one_many_and_unknown(api: Any) -> None:
    a = await api.create(type="PORT", target="127.0.0.1", port=80)
    b = await api.create(type="PORT", target="127.0.0.1", port=81)
    listing = await api.call("GET", "checks", expect=200)
    assert set(listing) == {a["_id"], b["_id"]}
    one = await api.call("GET", f"checks/{a['_id']}", expect=200)
    assert one["_id"] == a["_id"]
    by_param = await api.call("GET", "checks", params={"id": b["_id"]}, expect=200)
    assert by_param["_id"] == b["_id"]
    comma = await api.call("GET", "checks", params={"id": f"{a['_id']},{b['_id']}"}, expect=200)
    assert set(comma) == {a["_id"], b["_id"]}
    array = await api.call("GET", "checks", params={"id": json.dumps([a["_id"]])}, expect=200)
    assert set(array) == {a["_id"]}
    missing = await api.call("GET", "checks/NOPE-12345678", expect=404)
    assert missing == {"error": "Unable to find that check"}


async def test_empty_account_lists_an_empty_object(api: Any) -> None:
    assert await api.call("GET", "checks", expect=200) == {}


async def test_token_places(api: Any) -> None:
    await api.create(type="PORT", target="127.0.0.1", port=80)
    client = api.client
    # JSON body on GET (nodepingpy)
    response = await client.get("/api/1/checks", json={"token": api.token})
    assert response.status == 200 and len(await response.json()) == 1
    # form json= (docs' curl -d 'json={...}')
    response = await client.post(
        "/api/1/checks",
        data={"json": json.dumps({"token": api.token, "type": "PORT", "target": "127.0.0.1", "port": 22})},
    )
    assert response.status == 200, await response.text()
    # query json= (PHP client) plus Basic-auth username
    auth = base64.b64encode(f"{api.token}:".encode()).decode()
    response = await client.get(
        "/api/1/checks",
        params={"json": json.dumps({"lastresult": True})},
        headers={"Authorization": f"Basic {auth}"},
    )
    assert response.status == 200 and len(await response.json()) == 2
    for bad in ({}, {"token": "WRONG"}):
        response = await client.get("/api/1/checks", params=bad)
        assert response.status == 403
        assert await response.json() == {"error": "Invalid token"}


async def test_python_style_booleans_and_numeric_strings(api: Any) -> None:
    check = await api.create(
        type="HTTP",
        target="https://127.0.0.1/",
        enabled="True",
        public="False",
        follow="True",
        threshold="7",
        sens="1",
        interval="0.5",
    )
    assert check["enable"] == "active" and check["public"] is False
    assert check["parameters"]["follow"] is True
    assert check["parameters"]["threshold"] == 7 and check["parameters"]["sens"] == 1
    assert check["interval"] == 0.5


async def test_read_only_token_reads_but_never_writes_or_sees_secrets(api: Any) -> None:
    check = await api.create(type="FTP", target="127.0.0.1", username="u", password="s3cret")
    assert check["parameters"]["password"] == "s3cret"  # the read-write owner sees it
    ro = await api.call("GET", f"checks/{check['_id']}", token=api.ro_token, expect=200)
    assert ro["parameters"]["password"] == "********"
    assert "s3cret" not in json.dumps(await api.call("GET", "checks", token=api.ro_token))
    redis = await api.create(type="REDIS", target="redis://:hunter2@127.0.0.1:6379/0")
    ro_redis = await api.call("GET", f"checks/{redis['_id']}", token=api.ro_token, expect=200)
    assert "hunter2" not in json.dumps(ro_redis)
    before = await api.count()
    for method, path in (
        ("POST", "checks"),
        ("PUT", f"checks/{check['_id']}"),
        ("DELETE", f"checks/{check['_id']}"),
    ):
        body = await api.call(
            method, path, token=api.ro_token, json={"type": "PORT", "target": "x", "port": 1}, expect=403
        )
        assert body == {"error": "Insufficient permissions"}
    assert await api.count() == before


async def test_tenancy_subaccounts_and_isolation(api: Any) -> None:
    sub = await api.call("POST", "accounts", json={"name": "Customer B", "location": "eur"}, expect=200)
    sub_id = sub["_id"]
    mine = await api.create(type="PORT", target="127.0.0.1", port=1)
    theirs = await api.call(
        "POST",
        "checks",
        params={"customerid": sub_id},
        json={"type": "PORT", "target": "127.0.0.1", "port": 2},
        expect=200,
    )
    assert theirs["customer_id"] == sub_id
    assert set(await api.call("GET", "checks")) == {
        mine["_id"]
    }  # the parent never sees sub checks by default
    assert set(await api.call("GET", "checks", params={"customerid": sub_id})) == {theirs["_id"]}
    # a token of the subaccount itself sees only its own checks
    sub_token = await api.services.store.create_token(sub_id, "rw", "", 0)
    assert set(await api.call("GET", "checks", token=sub_token)) == {theirs["_id"]}
    body = await api.call("GET", f"checks/{mine['_id']}", token=sub_token, expect=404)
    assert body["error"] == "Unable to find that check"
    # the subaccount cannot reach its parent through customerid, nor can a stranger reach the sub
    body = await api.call(
        "GET", "checks", token=sub_token, params={"customerid": mine["customer_id"]}, expect=403
    )
    assert body == {"error": "Invalid customerid"}
    await api.services.store.create_account(
        {
            "id": "OTHER",
            "parent_id": None,
            "name": "x",
            "status": "Active",
            "timezone": "0",
            "default_locations": [],
            "settings": {},
            "created": 0,
        }
    )
    stranger = await api.services.store.create_token("OTHER", "rw", "", 0)
    await api.call("GET", "checks", token=stranger, params={"customerid": sub_id}, expect=403)
    await api.call("DELETE", f"checks/{theirs['_id']}", token=stranger, expect=404)
    assert await api.call("GET", "checks", token=stranger) == {}


async def test_update_is_a_partial_merge(api: Any) -> None:
    check = await api.create(
        type="HTTPADV",
        target="http://127.0.0.1/",
        sendheaders={"A": "1", "B": "2"},
        contentstring="ok",
        label="x",
    )
    updated = await api.call(
        "PUT",
        f"checks/{check['_id']}",
        json={"type": "HTTPADV", "sendheaders": {"B": None, "C": "3"}, "threshold": 9},
        expect=200,
    )
    assert updated["status"] == "modified"
    assert updated["label"] == "x"
    assert updated["parameters"]["contentstring"] == "ok"
    assert updated["parameters"]["sendheaders"] == {"A": "1", "C": "3"}
    assert updated["parameters"]["threshold"] == 9
    assert updated["_rev"].startswith("2-")
    body = await api.call("PUT", f"checks/{check['_id']}", json={"type": "HTTP"}, expect=400)
    assert body == {"error": "Check type cannot be changed"}
    body = await api.call("PUT", "checks/NOPE-1", json={"label": "y"}, expect=404)
    assert body == {"error": "Unable to find that check"}
    # id may come from the body (PHP client)
    renamed = await api.call("PUT", "checks", json={"id": check["_id"], "label": "renamed"}, expect=200)
    assert renamed["label"] == "renamed"


async def test_failed_update_changes_nothing(api: Any) -> None:
    check = await api.create(type="PORT", target="127.0.0.1", port=80, label="keep")
    body = await api.call("PUT", f"checks/{check['_id']}", json={"label": "changed", "port": 0}, expect=400)
    assert body["error"].startswith("port:")
    again = await api.call("GET", f"checks/{check['_id']}")
    assert again["label"] == "keep" and again["parameters"]["port"] == 80 and again["_rev"] == check["_rev"]


async def test_notifications_shapes(api: Any) -> None:
    check = await api.create(type="PING", target="127.0.0.1", notifications={"Y59XV": "All"})
    assert check["notifications"] == [{"Y59XV": {"delay": 0, "schedule": "All"}}]
    updated = await api.call(
        "PUT",
        f"checks/{check['_id']}",
        json={"notifications": [{"Y59XV": "None"}, {"K5SP9CQP": {"delay": 5, "schedule": "Days"}}]},
    )
    assert updated["notifications"] == [{"K5SP9CQP": {"delay": 5, "schedule": "Days"}}]
    replaced = await api.call(
        "PUT", f"checks/{check['_id']}", json={"notifications": [{"ABC": {"delay": 1, "schedule": "All"}}]}
    )
    assert replaced["notifications"] == [{"ABC": {"delay": 1, "schedule": "All"}}]
    unchanged = await api.call("PUT", f"checks/{check['_id']}", json={"notifications": ""})
    assert unchanged["notifications"] == replaced["notifications"]


async def test_dep_must_be_a_check_of_the_same_account(api: Any) -> None:
    router = await api.create(type="PING", target="127.0.0.1")
    web = await api.create(type="HTTP", target="http://127.0.0.1/", dep=router["_id"])
    assert web["dep"] == router["_id"]
    cleared = await api.call("PUT", f"checks/{web['_id']}", json={"dep": False})
    assert cleared["dep"] is False
    await api.call("PUT", f"checks/{web['_id']}", json={"dep": web["_id"]}, expect=400)
    await api.call("DELETE", f"checks/{router['_id']}", expect=200)


async def test_mute_forms(api: Any) -> None:
    check = await api.create(type="PING", target="127.0.0.1", mute=True)
    assert check["mute"] is True
    until = await api.call("PUT", f"checks/{check['_id']}", json={"mute": 1900000000000, "type": "PING"})
    assert until["mute"] == 1900000000000
    off = await api.call("PUT", f"checks/{check['_id']}", json={"mute": False})
    assert off["mute"] is False


async def test_disableall_filters_and_reenable(api: Any) -> None:
    web1 = await api.create(type="HTTP", target="http://a.example/", label="web-a", enabled=True)
    web2 = await api.create(type="HTTP", target="http://b.example/", label="web-b", enabled=True)
    ping = await api.create(type="PING", target="127.0.0.1", label="router", enabled=True)
    off = await api.create(type="HTTP", target="http://c.example/", label="web-off", enabled=False)
    body = await api.call(
        "PUT", "checks", params={"disableall": "true", "type": "HTTP", "label": "web-[ab]"}, expect=200
    )
    assert body == {"disableall": 2, "disabled": 1, "enabled": 1}
    listing = await api.call("GET", "checks")
    assert listing[web1["_id"]]["enable"] == "inactive" and listing[web1["_id"]]["acctdisable"] is True
    assert listing[ping["_id"]]["enable"] == "active"
    # the disabled event shows in current events
    current = await api.call("GET", "results/current")
    assert {event["checkid"] for event in current.values()} == {web1["_id"], web2["_id"], off["_id"]}
    body = await api.call(
        "PUT", "checks", params={"disableall": "False", "target": "b\\.example"}, expect=200
    )
    assert body == {"disableall": 1, "disabled": 1, "enabled": 2}
    body = await api.call("PUT", "checks", params={"disableall": "false"}, expect=200)
    assert body["disableall"] == 1 and body["enabled"] == 3
    assert (await api.call("GET", f"checks/{off['_id']}"))["enable"] == "inactive"  # enabled=false stays off
    body = await api.call("PUT", "checks", params={"disableall": "true", "label": "("}, expect=400)
    assert "label" in body["error"]


async def test_delete(api: Any) -> None:
    check = await api.create(type="PING", target="127.0.0.1")
    assert await api.call("DELETE", f"checks/{check['_id']}", expect=200) == {"ok": True, "id": check["_id"]}
    assert await api.call("DELETE", f"checks/{check['_id']}", expect=404) == {
        "error": "Unable to find that check"
    }
    assert await api.call("GET", "checks") == {}


async def test_errors_are_json_everywhere(api: Any) -> None:
    response = await api.client.get("/api/1/nothing-here", params={"token": api.token})
    assert response.status == 404 and await response.json() == {"error": "Unknown resource"}
    response = await api.client.post(
        "/api/1/checks",
        params={"token": api.token},
        data=b"[1, 2]",
        headers={"Content-Type": "application/json"},
    )
    assert response.status == 400 and await response.json() == {"error": "Invalid JSON"}
    response = await api.client.get("/api/1/checks/", params={"token": api.token})
    assert response.status == 200  # trailing slash tolerated


@pytest.mark.parametrize("flag", ["lastresult", "current", "uptime"])
async def test_list_flags_present_without_results(api: Any, flag: str) -> None:
    check = await api.create(type="PING", target="127.0.0.1", enabled=True)
    listing = await api.call("GET", "checks", params={flag: "true"}, expect=200)
    assert check["_id"] in listing
    if flag == "uptime":
        assert "total" in listing[check["_id"]]["uptime"]
