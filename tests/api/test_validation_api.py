"""Bad input through the API: a 400 whose error names the field, and nothing stored. One table per type,
one for the common fields."""

from __future__ import annotations

from typing import Any

import pytest

HOST = "127.0.0.1"

# (type, extra fields, exact error). Each type's required target is added unless the row sets one.
PER_TYPE_BAD_INPUT: list[tuple[str, dict[str, Any], str]] = [
    ("AGENT", {"oldresultfail": "maybe"}, "oldresultfail: Input should be a valid boolean, unable to interpret input"),
    ("AUDIO", {"target": "http://h/s", "volumemin": -100}, "volumemin: Input should be greater than or equal to -90"),
    ("AUDIO", {"target": "icy://h/s"}, "Target must begin with http:// or https://"),
    ("CLUSTER", {"data": {"X-1": "0"}}, 'data: Value error, must list at least one member check id with the value "1"'),
    ("DNS", {"dnstype": "BOGUS"},
     "dnstype: Input should be 'ANY', 'A', 'AAAA', 'CNAME', 'MX', 'NS', 'PTR', 'SOA', 'SRV' or 'TXT'"),
    ("DOHDOT", {"target": "https://h/dns-query", "dohdot": "dnscrypt"}, "dohdot: Input should be 'doh' or 'dot'"),
    ("FTP", {"port": 70000}, "port: Input should be less than or equal to 65535"),
    ("HTTP", {"target": "ftp://h/"}, "Target must begin with http:// or https://"),
    ("HTTP", {"target": "http://h/", "follow": "sometimes"},
     "follow: Input should be a valid boolean, unable to interpret input"),
    ("HTTPADV", {"target": "http://h/", "method": "PATCH"},
     "method: Input should be 'GET', 'POST', 'PUT', 'HEAD', 'TRACE', 'CONNECT' or 'DELETE'"),
    ("HTTPCONTENT", {"target": "http://h/", "regex": "perhaps"},
     "regex: Input should be a valid boolean, unable to interpret input"),
    ("HTTPPARSE", {"target": "http://h/", "sendheaders": "X-A: 1"}, "sendheaders: Input should be a valid dictionary"),
    ("IMAP4", {"secure": "maybe"}, "secure: Input should be False, 'ssl' or 'starttls'"),
    ("MONGODB", {"target": "mongodb://h/", "fields": {"a": {"min": 1}}}, "fields.a.name: Field required"),
    ("MTR", {"threshold": 101}, "Invalid threshold: must be a whole number from 1 to 100"),
    ("MYSQL", {"port": "abc"}, "port: Input should be a valid integer, unable to parse string as an integer"),
    ("NTP", {"port": 0}, "port: Input should be greater than or equal to 1"),
    ("PGSQL", {"target": "postgres://h/db", "fields": {"a": {"name": "x", "max": "lots"}}},
     "fields.a.max: Value error, must be a number"),
    ("PING", {"ipv6": "x"}, "ipv6: Input should be a valid boolean, unable to interpret input"),
    ("POP3", {"warningdays": -1}, "warningdays: Input should be greater than or equal to 0"),
    ("PORT", {}, "port: Field required"),
    ("PORT", {"port": ""}, "port: Field required"),
    ("PUSH", {"fields": {"a": {"name": ""}}}, "fields.a.name: String should have at least 1 character"),
    ("RBL", {"ipv6": "x"}, "ipv6: Input should be a valid boolean, unable to interpret input"),
    ("RDP", {"port": 3390}, "port is not valid for RDP checks"),
    ("REDIS", {"target": "redis://h", "redistype": "sentinel"},
     "sentinelname: Value error, required when redistype is sentinel"),
    ("SIP", {"transport": "sctp"}, "transport: Input should be 'udp', 'tcp', 'tls', 'ws' or 'wss'"),
    ("SMTP", {"port": 0}, "port: Input should be greater than or equal to 1"),
    ("SNMP", {"snmpv": "4"}, "snmpv: Input should be '1', '2c' or '3'"),
    ("SPEC10DNS", {}, "data: Field required"),
    ("SPEC10RDDS", {"data": "x"}, "data: Input should be a valid dictionary"),
    ("SSH", {"port": -1}, "port: Input should be greater than or equal to 1"),
    ("SSL", {"warningdays": "soon"},
     "warningdays: Input should be a valid integer, unable to parse string as an integer"),
    ("WEBSOCKET", {"target": "http://h/"}, "Target must begin with ws:// or wss://"),
    ("WHOIS", {"target": "example.org", "invert": "x"},
     "invert: Input should be a valid boolean, unable to interpret input"),
]  # fmt: skip

COMMON_BAD_INPUT: list[tuple[dict[str, Any], str]] = [
    ({"type": "NOPE", "target": HOST}, "Invalid check type"),
    ({"target": HOST}, "Invalid check type"),
    ({"type": "PING"}, "Target is required"),
    ({"type": "PING", "target": ""}, "Target is required"),
    ({"type": "PING", "target": HOST, "interval": 0.75},
     "Invalid interval: must be 0.25, 0.5 or a whole number of minutes from 1 to 1440"),
    ({"type": "PING", "target": HOST, "interval": 1441},
     "Invalid interval: must be 0.25, 0.5 or a whole number of minutes from 1 to 1440"),
    ({"type": "PING", "target": HOST, "interval": "often"}, "Invalid interval"),
    ({"type": "PING", "target": HOST, "sens": 11}, "Invalid sens: must be a whole number from 0 to 10"),
    ({"type": "PING", "target": HOST, "sens": -1}, "Invalid sens: must be a whole number from 0 to 10"),
    ({"type": "PING", "target": HOST, "threshold": 0}, "Invalid threshold: must be a whole number of at least 1"),
    ({"type": "PING", "target": HOST, "description": "x" * 1001}, "description is limited to 1000 characters"),
    ({"type": "PING", "target": HOST, "runlocations": "mars"},
     "Invalid runlocations: unknown region, probe or AGENT mars"),
    ({"type": "PING", "target": HOST, "runlocations": ["local", "zz"]}, "Invalid runlocations: unknown probe zz"),
    ({"type": "PING", "target": HOST, "homeloc": "zz"}, "Invalid homeloc: must be false, roam or a probe id, not zz"),
    ({"type": "PING", "target": HOST, "dep": "NOPE-12345678"}, "Invalid dep: no check NOPE-12345678 in this account"),
    ({"type": "PING", "target": HOST, "mute": "later"},
     "Invalid mute: must be true, false or a timestamp in milliseconds"),
    ({"type": "PING", "target": HOST, "tags": "a,b"}, "Invalid tags: must be an array of strings"),
    ({"type": "PING", "target": HOST, "notifications": [{"A": {"delay": 0}, "B": {"delay": 0}}]},
     "Invalid notifications: each entry must be {contact id: {delay, schedule}}"),
    ({"type": "PING", "target": HOST, "notifications": [{"A": {"delay": -1}}]},
     "Invalid notifications delay: must be a whole number from 0 to 10080"),
    ({"type": "PING", "target": HOST, "notifications": [{"A": {"wait": 1}}]},
     "Invalid notifications: unknown key wait for A"),
    ({"type": "PING", "target": HOST, "contentstring": "x"}, "contentstring is not valid for PING checks"),
]  # fmt: skip

TARGETS = {"AGENT": "", "CLUSTER": "", "DNS": "", "PUSH": "", "SPEC10DNS": "", "SPEC10RDDS": ""}


@pytest.mark.parametrize(("check_type", "fields", "error"), PER_TYPE_BAD_INPUT,
                         ids=[f"{t}-{e.split(':')[0]}" for t, _, e in PER_TYPE_BAD_INPUT])  # fmt: skip
async def test_bad_type_parameters_are_rejected_and_nothing_is_stored(
    api: Any, check_type: str, fields: dict[str, Any], error: str
) -> None:
    payload = {"type": check_type, "target": TARGETS.get(check_type, HOST), **fields}
    body = await api.call("POST", "checks", json=payload, expect=400)
    assert body == {"error": error}
    assert await api.count() == 0


@pytest.mark.parametrize(("payload", "error"), COMMON_BAD_INPUT, ids=[e for _, e in COMMON_BAD_INPUT])
async def test_bad_common_fields_are_rejected_and_nothing_is_stored(
    api: Any, payload: dict[str, Any], error: str
) -> None:
    body = await api.call("POST", "checks", json=payload, expect=400)
    assert body == {"error": error}
    assert await api.count() == 0


async def test_blank_fields_of_other_types_are_ignored(api: Any) -> None:
    # nodeping-api sends every optional field with a blank default, some of them belonging to other types.
    check = await api.create(type="IMAP4", target=HOST, email="", port=143, verify=True, username="",
                             password="", secure=False, warningdays="", follow=False, runlocations=None,
                             notifications="", dep="", homeloc=False, mute=False, label="")  # fmt: skip
    assert check["parameters"]["port"] == 143
    assert "email" not in check["parameters"]


async def test_unknown_parameters_are_ignored(api: Any) -> None:
    check = await api.create(type="PING", target=HOST, url="http://x/", whatever=1)
    assert "whatever" not in check["parameters"] and "url" not in check["parameters"]


async def test_push_and_agent_get_a_generated_token_that_reset_regenerates(api: Any) -> None:
    push = await api.create(type="PUSH", checktoken="reset")
    token = push["parameters"]["checktoken"]
    assert len(token) == 36 and token.count("-") == 4
    kept = await api.call("PUT", f"checks/{push['_id']}", json={"label": "x"})
    assert kept["parameters"]["checktoken"] == token
    reset = await api.call("PUT", f"checks/{push['_id']}", json={"checktoken": "reset"})
    assert reset["parameters"]["checktoken"] != token
    ro = await api.call("GET", f"checks/{push['_id']}", token=api.ro_token)
    assert ro["parameters"]["checktoken"] == "********"


async def test_runlocations_and_homeloc_accept_regions_probes_and_agents(api: Any) -> None:
    agent = await api.create(type="AGENT")
    for runlocations in ("eur", ["local"], agent["_id"]):
        check = await api.create(type="PING", target=HOST, runlocations=runlocations, homeloc="roam")
        assert check["runlocations"] == runlocations and check["homeloc"] == "roam"
    body = await api.call("POST", "checks", json={"type": "PUSH", "runlocations": agent["_id"]}, expect=400)
    assert body == {"error": "PUSH checks cannot be run on an AGENT"}


async def test_checktypes_lists_every_type_with_its_schema(api: Any) -> None:
    types = await api.call("GET", "checktypes", expect=200)
    assert len(types) == 32
    runnable = {name for name, listed in types.items() if listed["runnable"]}
    assert runnable == set(types) - {"AGENT", "PUSH"}  # the passive types wait for their push endpoint
    assert all(types[name]["status"] == "runnable" for name in runnable)
    assert types["PUSH"] == {**types["PUSH"], "runnable": False, "status": "accepted, not yet runnable"}
    assert types["PUSH"]["passive"] is True
    assert "port" in types["PORT"]["parameters"]["properties"]
    assert types["PORT"]["parameters"]["required"] == ["port"]
