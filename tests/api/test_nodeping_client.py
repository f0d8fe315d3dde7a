"""The real, unmodified ``nodeping-api`` 1.8.0 client against a real ``vedette serve`` subprocess.

The client is blocking (urllib) and reads its base URL from a module-level ``API_URL`` frozen into every
submodule at import time, so the module fixture patches those (nodeping-api.md §18.1) for the duration of
this file. Everything here is a plain synchronous test.
"""

from __future__ import annotations

import importlib
import inspect
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from nodeping_api import (
    accounts,
    check_token,
    config,
    create_check,
    delete_checks,
    disable_check,
    get_checks,
    results,
    update_checks,
)
from servers.common import free_port, wait_until
from servers.vedette_serve import Served, TcpListener, start_serve

# nodeping-api.md §18.1: the suffix each submodule appends to config.API_URL.
_SUFFIX = {
    "accounts": "accounts",
    "check_token": "",
    "contacts": "contacts",
    "create_check": "checks",
    "delete_checks": "checks",
    "disable_check": "checks",
    "get_checks": "checks",
    "update_checks": "checks",
    "diagnostics": "diagnostics",
    "group_contacts": "contactgroups",
    "information": "",
    "maintenance": "maintenance",
    "notificationprofiles": "notificationprofiles",
    "notifications": "",
    "results": "results",
    "schedules": "schedules",
}


# --- a real `vedette serve` -----------------------------------------------------------------------


# --- fixtures --------------------------------------------------------------------------------------


@dataclass
class Server:
    served: Served
    rw: str
    ro: str
    account_id: str


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("nodeping-client")
    served = start_serve(workdir, f"sqlite+aiosqlite:///{workdir}/v.db")
    try:
        wait_until(lambda: len(served.tokens()) == 2, served.proc, timeout=10)
    except (RuntimeError, TimeoutError):
        served.stop()
        pytest.fail(f"no tokens printed on first start:\n{served.output()}")
    rw, ro = served.tokens()["read-write"], served.tokens()["read-only"]
    assert rw and ro and rw != ro
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("no_proxy", "127.0.0.1,localhost")
            patch.setenv("NO_PROXY", "127.0.0.1,localhost")
            patch.setattr(config, "API_URL", served.base)
            for name, suffix in _SUFFIX.items():
                module = importlib.import_module(f"nodeping_api.{name}")
                patch.setattr(module, "API_URL", served.base + suffix)
            listing = accounts.get_account(rw)
            assert isinstance(listing, dict) and len(listing) == 1, listing  # the primary account only
            yield Server(served, rw, ro, next(iter(listing)))
    finally:
        code = served.stop()
    assert code == 0, f"vedette serve exited {code} on SIGTERM\n{served.logs()}"


@pytest.fixture(scope="module")
def listener() -> Iterator[TcpListener]:
    with TcpListener() as tcp:
        yield tcp


@dataclass
class LiveChecks:
    up: str
    """An enabled PORT check (interval 0.25, sens 0) against the local listener: passing, with results."""
    down: str
    """The same against a refused port: failing, with a down event."""


def poll(what: str, predicate: Callable[[], Any], proc: subprocess.Popen[str], timeout: float = 30) -> None:
    try:
        wait_until(predicate, proc, timeout=timeout, interval=0.2)
    except TimeoutError:
        pytest.fail(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture(scope="module")
def live(server: Server, listener: TcpListener) -> LiveChecks:
    refused = free_port()

    def port_checks(port: int, name: str) -> list[str]:
        made = [
            create_check.port_check(
                server.rw, "127.0.0.1", port=port, interval=0.25, sens=0, enabled=True, label=f"{name}-{n}"
            )
            for n in range(3)
        ]
        assert all("_id" in check for check in made), made
        return [check["_id"] for check in made]

    # A new check's first run is spread over its interval (15 s here): of three, one reports soon.
    ups, downs = port_checks(listener.port, "live-up"), port_checks(refused, "live-down")
    found: dict[str, str] = {}

    def reported() -> bool:
        for kind, ids in (("up", ups), ("down", downs)):
            for check_id in ids if kind not in found else []:
                if results.get_results(server.rw, check_id):
                    found[kind] = check_id
                    break
        return len(found) == 2

    poll("a result of a passing and of a failing PORT check", reported, server.served.proc)
    return LiveChecks(found["up"], found["down"])


def all_checks(token: str, customerid: str | None = None) -> dict[str, Any]:
    listing = get_checks.GetChecks(token, customerid=customerid).all_checks()
    assert isinstance(listing, dict) and "error" not in listing, listing
    return listing


def new_subaccount(server: Server, name: str) -> str:
    sub = accounts.create_subaccount(server.rw, name, "Ops", "ops@example.com", "0", "nam")
    assert "_id" in sub, sub
    return str(sub["_id"])


# --- check_token -----------------------------------------------------------------------------------


def test_check_token_is_valid(server: Server) -> None:
    assert check_token.is_valid(server.rw) is True
    assert check_token.is_valid(server.ro) is True
    assert check_token.is_valid("0123456789ABCDEF0123456789ABCDEF") is False
    assert check_token.is_valid(server.rw + "X") is False
    info = check_token.info(server.rw)
    assert server.account_id in info


# --- create_check ----------------------------------------------------------------------------------


def test_http_check(server: Server) -> None:
    check = create_check.http_check(server.rw, "http://127.0.0.1:9/", label="web", runlocations="nam")
    assert check["type"] == "HTTP", check
    assert check["label"] == "web"
    assert check["parameters"]["target"] == "http://127.0.0.1:9/"
    assert check["parameters"]["follow"] is False
    assert check["parameters"]["threshold"] == 5 and check["parameters"]["sens"] == 2
    assert check["interval"] == 15
    assert check["runlocations"] == "nam"
    assert check["enable"] == "inactive"  # the client sends enabled=False by default
    assert check["notifications"] == []  # "" means none
    assert check["dep"] is False and check["mute"] is False


def test_port_check_without_port_is_rejected_and_nothing_is_created(server: Server) -> None:
    before = set(all_checks(server.rw))
    answer = create_check.port_check(server.rw, "127.0.0.1")  # sends port=''
    assert "error" in answer and "_id" not in answer, answer
    assert "port" in answer["error"].lower()
    assert set(all_checks(server.rw)) == before


def test_port_check(server: Server, listener: TcpListener) -> None:
    check = create_check.port_check(server.rw, "127.0.0.1", port=listener.port, label="port")
    assert check["type"] == "PORT", check
    assert check["parameters"]["port"] == listener.port
    assert check["parameters"]["invert"] is False


def test_ping_check_label_defaults_to_target(server: Server) -> None:
    check = create_check.ping_check(server.rw, "192.0.2.10")
    assert check["type"] == "PING", check
    assert check["label"] == "192.0.2.10"
    assert check["runlocations"] is False and check["homeloc"] is False


def test_dns_check_without_target(server: Server) -> None:
    check = create_check.dns_check(server.rw, dnstoresolve="example.com", dnstype="MX")
    assert check["type"] == "DNS", check
    assert check["parameters"]["dnstoresolve"] == "example.com"
    assert check["parameters"]["dnstype"] == "MX"
    assert check["parameters"]["port"] == 53 and check["parameters"]["transport"] == "udp"


def test_push_check_gets_a_checktoken(server: Server) -> None:
    check = create_check.push_check(server.rw, label="cron")
    assert check["type"] == "PUSH", check
    token = check["parameters"]["checktoken"]
    assert token and token != "reset"
    # read-only tokens never see it
    assert (
        get_checks.GetChecks(server.ro, checkid=check["_id"]).get_by_id()["parameters"]["checktoken"] != token
    )


def test_cluster_check_sends_the_inner_data(server: Server) -> None:
    members = [create_check.ping_check(server.rw, f"192.0.2.{n}")["_id"] for n in (21, 22)]
    check = create_check.cluster_check(server.rw, data={"data": {m: "1" for m in members}}, threshold=1)
    assert check["type"] == "CLUSTER", check
    assert check["parameters"]["data"] == {m: "1" for m in members}
    assert check["parameters"]["threshold"] == 1


def test_httpparse_check_sends_the_inner_fields(server: Server) -> None:
    fields = {"load": {"name": "system.load", "min": 0, "max": 5}}
    check = create_check.httpparse_check(
        server.rw, "https://127.0.0.1:9/stats", fields={"fields": fields}, sendheaders={"X-Probe": "1"}
    )
    assert check["type"] == "HTTPPARSE", check
    assert check["parameters"]["fields"]["load"]["name"] == "system.load"
    assert check["parameters"]["fields"]["load"]["max"] == 5


CHECK_FUNCTIONS = sorted(
    name for name, fn in inspect.getmembers(create_check, inspect.isfunction) if name.endswith("_check")
)
TYPE_NAMES = {"doh_dot": "DOHDOT", "postgresql": "PGSQL"}
TARGETS = {
    "audio": "http://127.0.0.1:9/stream.mp3",
    "doh_dot": "https://127.0.0.1:9/dns-query",
    "ftp": "127.0.0.1",
    "http": "http://127.0.0.1:9/",
    "httpadv": "http://127.0.0.1:9/api",
    "httpcontent": "http://127.0.0.1:9/",
    "httpparse": "http://127.0.0.1:9/stats",
    "imap4": "mail.example.com",
    "mongodb": "mongodb://127.0.0.1:27017/admin",
    "mtr": "192.0.2.1",
    "mysql": "127.0.0.1",
    "ntp": "pool.ntp.org",
    "ping": "192.0.2.1",
    "pop3": "mail.example.com",
    "port": "127.0.0.1",
    "postgresql": "postgres://127.0.0.1:5432/postgres",
    "rbl": "192.0.2.1",
    "rdp": "192.0.2.1",
    "redis": "redis://127.0.0.1:6379",
    "sip": "sip.example.com",
    "smtp": "mail.example.com",
    "snmp": "192.0.2.1",
    "ssh": "192.0.2.1",
    "ssl": "https://example.com",
    "websocket": "ws://127.0.0.1:9/socket",
    "whois": "example.com",
}


def test_there_are_32_create_functions() -> None:
    assert len(CHECK_FUNCTIONS) == 32, CHECK_FUNCTIONS


@pytest.mark.parametrize("function", CHECK_FUNCTIONS)
def test_every_create_function_with_its_defaults(server: Server, function: str) -> None:
    kind = function.removesuffix("_check")
    create: Callable[..., dict[str, Any]] = getattr(create_check, function)
    args: dict[str, Any] = {}
    if kind in TARGETS:
        args["target"] = TARGETS[kind]
    if kind in ("cluster", "spec10dns", "spec10rdds"):
        member = create_check.ping_check(server.rw, "192.0.2.50")["_id"]
        args["data"] = {"data": {member: "1"}}
    elif kind == "httpparse":  # the client itself crashes on its own default fields=''
        args["fields"] = {"fields": {"a": {"name": "a", "min": 0, "max": 1}}}
    elif kind == "doh_dot":
        args["dnstoresolve"] = "example.com"
    elif kind == "redis":
        args["redistype"] = "standalone"
    elif kind == "port":  # without a port it is rejected (tested above)
        args["port"] = 8080
    check = create(server.rw, **args)
    expected = TYPE_NAMES.get(kind, kind.upper())
    assert "error" not in check, (function, check)
    assert check["type"] == expected
    assert check["enable"] == "inactive"
    if "target" in args:
        assert check["parameters"]["target"] == args["target"]
    stored = get_checks.GetChecks(server.rw, checkid=check["_id"]).get_by_id()
    assert stored["_id"] == check["_id"] and stored["type"] == expected


def test_read_only_token_cannot_create(server: Server) -> None:
    before = set(all_checks(server.rw))
    answer = create_check.ping_check(server.ro, "192.0.2.1")
    assert answer == {"error": "Insufficient permissions"}
    assert set(all_checks(server.rw)) == before


# --- get_checks ------------------------------------------------------------------------------------


def test_get_checks(server: Server, live: LiveChecks) -> None:
    disabled = create_check.ping_check(server.rw, "192.0.2.77", label="disabled-one")["_id"]
    listing = all_checks(server.rw)
    assert {live.up, live.down, disabled} <= set(listing)
    assert all(check["_id"] == check_id for check_id, check in listing.items())

    one = get_checks.GetChecks(server.rw, checkid=live.up).get_by_id()
    assert one["_id"] == live.up and one["label"].startswith("live-up-")

    many = get_checks.GetChecks(server.rw, checkid=[live.up, disabled]).get_many_checks()
    assert set(many) == {live.up, disabled}

    passing = get_checks.GetChecks(server.rw).passing_checks()
    failing = get_checks.GetChecks(server.rw).failing_checks()
    inactive = get_checks.GetChecks(server.rw).disabled_checks()
    assert live.up in passing and live.up not in failing and live.up not in inactive
    assert live.down in failing and live.down not in passing and live.down not in inactive
    assert disabled in inactive and disabled not in passing

    last = get_checks.GetChecks(server.rw, checkid=live.up).last_result()
    assert last["_id"] == live.up
    assert last["lastresult"]["su"] is True and last["lastresult"]["t"] == "PORT"
    last_down = get_checks.GetChecks(server.rw, checkid=live.down).last_result()
    assert last_down["lastresult"]["su"] is False

    with_uptime = get_checks.GetChecks(server.rw, checkid=live.up, uptime=True).get_by_id()
    assert "total" in with_uptime["uptime"]


def test_get_by_id_of_an_unknown_check(server: Server) -> None:
    answer = get_checks.GetChecks(server.rw, checkid=f"{server.account_id}-NOSUCHID").get_by_id()
    assert "error" in answer


# --- update_checks ---------------------------------------------------------------------------------


def test_update_and_mute(server: Server) -> None:
    check = create_check.ping_check(server.rw, "192.0.2.30", label="before")
    updated = update_checks.update(server.rw, check["_id"], "ping", {"label": "after", "interval": 5})
    assert updated["_id"] == check["_id"], updated
    assert updated["label"] == "after" and updated["interval"] == 5
    stored = get_checks.GetChecks(server.rw, checkid=check["_id"]).get_by_id()
    assert stored["label"] == "after" and stored["interval"] == 5
    assert stored["parameters"]["target"] == "192.0.2.30"

    wrong_type = update_checks.update(server.rw, check["_id"], "HTTP", {"label": "x"})
    assert "error" in wrong_type

    now = int(time.time() * 1000)
    muted = update_checks.mute_check(server.rw, check["_id"], "PING", 600)
    assert isinstance(muted["mute"], int) and now + 590_000 <= muted["mute"] <= now + 700_000, muted
    assert get_checks.GetChecks(server.rw, checkid=check["_id"]).get_by_id()["mute"] == muted["mute"]


# --- disable_check ---------------------------------------------------------------------------------


def test_disable_by_type_label_target_and_all(server: Server, listener: TcpListener) -> None:
    sub = new_subaccount(server, "disable-tests")

    def make(maker: Callable[..., dict[str, Any]], *args: Any, **kwargs: Any) -> str:
        check = maker(server.rw, *args, customerid=sub, interval=60, **kwargs)
        assert "_id" in check, check
        return str(check["_id"])

    web = make(create_check.port_check, "127.0.0.1", port=listener.port, label="alpha web", enabled=True)
    db = make(create_check.ping_check, "192.0.2.2", label="beta db", enabled=True)
    off = make(create_check.ping_check, "192.0.2.3", label="gamma", enabled=False)

    def enable_of(check_id: str) -> str:
        return str(get_checks.GetChecks(server.rw, checkid=check_id, customerid=sub).get_by_id()["enable"])

    answer = disable_check.disable_by_type(server.rw, "PORT", disable=True, customerid=sub)
    assert answer == {"disableall": 1, "disabled": 1, "enabled": 1}
    assert [enable_of(c) for c in (web, db, off)] == ["inactive", "active", "inactive"]
    answer = disable_check.disable_by_type(server.rw, "PORT", disable=False, customerid=sub)
    assert answer == {"disableall": 1, "disabled": 1, "enabled": 2}
    assert enable_of(web) == "active"

    answer = disable_check.disable_by_label(server.rw, "beta db", disable=True, customerid=sub)
    assert answer == {"disableall": 1, "disabled": 1, "enabled": 1}
    assert enable_of(db) == "inactive"
    answer = disable_check.disable_by_label(server.rw, "beta db", disable=False, customerid=sub)
    assert answer == {"disableall": 1, "disabled": 1, "enabled": 2}

    answer = disable_check.disable_by_target(server.rw, "192.0.2.2", disable=True, customerid=sub)
    assert answer == {"disableall": 1, "disabled": 1, "enabled": 1}
    assert enable_of(db) == "inactive" and enable_of(web) == "active"
    answer = disable_check.disable_by_target(server.rw, "192.0.2.2", disable=False, customerid=sub)
    assert answer == {"disableall": 1, "disabled": 1, "enabled": 2}

    answer = disable_check.disable_all(server.rw, disable=True, customerid=sub)
    assert answer == {"disableall": 2, "disabled": 1, "enabled": 0}
    assert get_checks.GetChecks(server.rw, customerid=sub).disabled_checks().keys() == {web, db, off}
    answer = disable_check.disable_all(server.rw, disable=False, customerid=sub)
    assert answer == {"disableall": 2, "disabled": 1, "enabled": 2}
    # only what disableall disabled comes back; `enabled=false` stays off
    assert [enable_of(c) for c in (web, db, off)] == ["active", "active", "inactive"]

    events = results.get_event(server.rw, web, customerid=sub)
    assert isinstance(events, list)
    assert any(event["type"] == "disabled" and not event["open"] for event in events), events


# --- delete_checks ---------------------------------------------------------------------------------


def test_remove(server: Server) -> None:
    check_id = create_check.ping_check(server.rw, "192.0.2.40")["_id"]
    assert delete_checks.remove(server.rw, check_id) == {"ok": True, "id": check_id}
    assert check_id not in all_checks(server.rw)
    assert "error" in get_checks.GetChecks(server.rw, checkid=check_id).get_by_id()
    assert "error" in delete_checks.remove(server.rw, check_id)


def test_read_only_token_cannot_remove(server: Server) -> None:
    check_id = create_check.ping_check(server.rw, "192.0.2.41")["_id"]
    assert delete_checks.remove(server.ro, check_id) == {"error": "Insufficient permissions"}
    assert check_id in all_checks(server.rw)


# --- results ---------------------------------------------------------------------------------------


def test_results(server: Server, live: LiveChecks, listener: TcpListener) -> None:
    history = results.get_results(server.rw, live.up)
    assert isinstance(history, list) and history
    record = history[0]
    assert record["t"] == "PORT" and record["su"] is True and record["sc"] == "Connected"
    assert record["tg"] == "127.0.0.1"
    assert isinstance(record["s"], int) and isinstance(record["rt"], int | float)
    assert results.get_results(server.ro, live.up, limit=1)[0]["_id"] == record["_id"]

    failed = results.get_results(server.rw, live.down)
    assert failed and failed[0]["su"] is False

    uptime = results.get_uptime(server.rw, live.up)
    assert "total" in uptime and uptime["total"]["uptime"] == 100, uptime
    assert "total" in results.get_uptime(server.rw, live.up, interval="days")

    events = results.get_event(server.rw, live.down)
    assert isinstance(events, list)
    assert any(event["type"] == "down" for event in events), events

    current = results.get_current(server.rw)
    assert isinstance(current, dict)
    assert any(e["checkid"] == live.down and e["type"] == "down" for e in current.values()), current
    assert not any(e["checkid"] == live.up for e in current.values())


def test_results_of_an_unknown_check(server: Server) -> None:
    answer = results.get_results(server.rw, f"{server.account_id}-NOSUCHID")
    assert "error" in answer


# --- accounts --------------------------------------------------------------------------------------


def test_subaccount(server: Server) -> None:
    created = accounts.create_subaccount(
        server.rw, "Customer A", "Alice", "alice@example.com", "-5", "eur", emailme=True
    )
    sub = created["_id"]
    assert created["name"] == "Customer A" and created["parent"] == server.account_id, created
    assert sub in accounts.get_account(server.rw)
    assert check_token.is_valid(server.rw, sub) is True
    assert check_token.is_valid(server.rw, "NOSUCHACCOUNT") is False

    check = create_check.ping_check(server.rw, "192.0.2.60", customerid=sub, label="sub-check")
    assert check["customer_id"] == sub, check
    assert set(all_checks(server.rw, customerid=sub)) == {check["_id"]}
    assert check["_id"] not in all_checks(server.rw)
    # the read-only token of the parent reads the subaccount too
    assert set(all_checks(server.ro, customerid=sub)) == {check["_id"]}
    assert "error" in get_checks.GetChecks(server.rw, checkid=check["_id"]).get_by_id()
    assert delete_checks.remove(server.rw, check["_id"], customerid=sub)["ok"] is True

    denied = accounts.create_subaccount(server.ro, "Nope", "N", "n@example.com", "0", "nam")
    assert denied == {"error": "Insufficient permissions"}
