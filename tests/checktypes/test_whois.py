"""WHOIS against real in-process WHOIS servers (asyncio TCP listeners speaking RFC 3912) on 127.0.0.1/::1.

There is no network here, so referral following is tested with a local root server named by
``VEDETTE_WHOIS_ROOT`` instead of whois.iana.org.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from pydantic import ValidationError
from servers.ports import StartServer

from prober.base import CheckContext, CheckResult
from prober.registry import CheckType, load_registry
from prober.runner import run_check, validation_message

NEVER = object()
"""A reply that never comes: the server reads the query and keeps the connection open."""


def iso(days: int) -> str:
    return f"{datetime.now(UTC) + timedelta(days=days):%Y-%m-%dT%H:%M:%SZ}"


def day(days: int) -> str:
    return f"{datetime.now(UTC) + timedelta(days=days):%Y-%m-%d}"


def registry_reply(expiry_line: str) -> str:
    return (
        "   Domain Name: EXAMPLE.TEST\r\n"
        "   Registrar: Example Registrar, Inc.\r\n"
        "   Updated Date: 2024-08-14T07:01:34Z\r\n"
        "   Creation Date: 1995-08-14T04:00:00Z\r\n"
        f"{expiry_line}\r\n"
        "   Domain Status: clientTransferProhibited https://icann.org/epp#clientTransferProhibited\r\n"
        ">>> Last update of whois database: 2025-01-01T00:00:00Z <<<\r\n"
    )


ACTIVE = registry_reply(f"   Registry Expiry Date: {iso(400)}")


@pytest.fixture(scope="module")
def whois() -> CheckType:
    return load_registry(autoload=False, builtins=["checktypes.whois"]).get("WHOIS")


Replies = dict[str, Any]
Start = Callable[..., Awaitable[int]]


@pytest_asyncio.fixture(loop_scope="function")
async def whois_server(tcp_servers: StartServer) -> AsyncIterator[Start]:
    """``await whois_server({"domain": "reply text" | b"bytes" | NEVER}, host=...)`` -> port.

    Unknown domains get "No match for ...". Every query line is recorded in ``queries``.
    """
    hanging: list[asyncio.StreamWriter] = []

    async def start(replies: Replies, host: str = "127.0.0.1", queries: list[bytes] | None = None) -> int:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            line = await reader.readline()
            if queries is not None:
                queries.append(line)
            domain = line.decode().strip().lower()
            reply = replies.get(domain, f'No match for "{domain.upper()}".\r\n')
            if reply is NEVER:
                hanging.append(writer)
                return
            writer.write(reply if isinstance(reply, bytes) else reply.encode())
            await writer.drain()
            writer.close()

        return await tcp_servers(handle, host)

    yield start
    for writer in hanging:
        writer.close()


async def check(
    whois: CheckType, target: str = "example.test", seconds: float = 3.0, **params: Any
) -> CheckResult:
    ctx = CheckContext(target=target, threshold=max(int(seconds), 1), timeout=seconds)
    return await run_check(whois, params, ctx)


# --- replies --------------------------------------------------------------------------------------


async def test_reply_received(whois: CheckType, whois_server: Start) -> None:
    queries: list[bytes] = []
    port = await whois_server({"example.test": ACTIVE}, queries=queries)
    result = await check(whois, whoisserver=f"127.0.0.1:{port}")
    assert (result.status, result.code, result.message) == ("up", "Response received", "WHOIS reply received")
    assert queries == [b"example.test\r\n"]
    assert result.details == {"servers": [f"127.0.0.1:{port}"]}


async def test_trailing_dot_and_idn(whois: CheckType, whois_server: Start) -> None:
    queries: list[bytes] = []
    port = await whois_server({"xn--bcher-kva.test": ACTIVE}, queries=queries)
    result = await check(whois, target="bücher.test.", whoisserver=f"127.0.0.1:{port}")
    assert (result.status, result.code) == ("up", "Response received")
    assert queries == [b"xn--bcher-kva.test\r\n"]


async def test_empty_reply(whois: CheckType, whois_server: Start) -> None:
    port = await whois_server({"example.test": "\r\n"})
    result = await check(whois, whoisserver=f"127.0.0.1:{port}")
    assert (result.status, result.code, result.message) == ("down", "Empty", "Empty WHOIS reply received")


async def test_empty_reply_fails_even_inverted(whois: CheckType, whois_server: Start) -> None:
    port = await whois_server({"example.test": b""})
    result = await check(whois, whoisserver=f"127.0.0.1:{port}", contentstring="x", invert=True)
    assert (result.status, result.message) == ("down", "Empty WHOIS reply received")


@pytest.mark.parametrize(
    ("contentstring", "invert", "status", "code", "message"),
    [
        ("clientTransferProhibited", False, "up", "Found", "WHOIS response matched"),
        ("clientHold", False, "down", "Not found", "Search term was not found in the WHOIS response"),
        ("clientTransferProhibited", True, "down", "Found", "WHOIS response matched"),
        ("clientHold", True, "up", "Not found", "Search term was not found in the WHOIS response"),
        (
            "clienttransferprohibited",
            False,
            "down",
            "Not found",
            "Search term was not found in the WHOIS response",
        ),
    ],
)
async def test_contentstring(
    whois: CheckType,
    whois_server: Start,
    contentstring: str,
    invert: bool,
    status: str,
    code: str,
    message: str,
) -> None:
    port = await whois_server({"example.test": ACTIVE})
    result = await check(whois, whoisserver=f"127.0.0.1:{port}", contentstring=contentstring, invert=invert)
    assert (result.status, result.code, result.message) == (status, code, message)


async def test_wrong_answer_no_match(whois: CheckType, whois_server: Start) -> None:
    port = await whois_server({})
    result = await check(whois, whoisserver=f"127.0.0.1:{port}", contentstring="Domain Name: EXAMPLE.TEST")
    assert (result.status, result.message) == ("down", "Search term was not found in the WHOIS response")
    no_date = await check(whois, whoisserver=f"127.0.0.1:{port}", warningdays=30)
    assert (no_date.status, no_date.code, no_date.message) == (
        "down",
        "Unknown",
        "We were unable to find an expiration date from the WHOIS response...",
    )


# --- warningdays ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expiry_line", "status", "code", "message"),
    [
        (f"Registry Expiry Date: {iso(400)}", "up", "Active", "Domain Active"),
        (f"Registry Expiry Date: {iso(10)}", "down", "Expiration", f"Domain set to expire on {day(10)}"),
        (f"Registry Expiry Date: {iso(-3)}", "down", "Expired", f"Domain expired on {day(-3)}"),
        (
            f"Registrar Registration Expiration Date: {iso(20)}",
            "down",
            "Expiration",
            f"Domain set to expire on {day(20)}",
        ),
        (f"Renewal date: {day(5)}", "down", "Expiration", f"Domain set to expire on {day(5)}"),
        (f"expires: {day(400).replace('-', '.')}", "up", "Active", "Domain Active"),
        (f"[Expires on]   {day(-1).replace('-', '/')}", "down", "Expired", f"Domain expired on {day(-1)}"),
        (
            f"    Expiry date:  {datetime.now(UTC) + timedelta(days=15):%d-%b-%Y}",
            "down",
            "Expiration",
            f"Domain set to expire on {day(15)}",
        ),
        (
            f"Expiration Date: {datetime.now(UTC) + timedelta(days=8):%d.%m.%Y}",
            "down",
            "Expiration",
            f"Domain set to expire on {day(8)}",
        ),
        (
            f"Expiration Time: {datetime.now(UTC) + timedelta(days=900):%B %d, %Y}",
            "up",
            "Active",
            "Domain Active",
        ),
        (
            f"paid-till: {iso(3)}",
            "down",
            "Unknown",
            "We were unable to find an expiration date from the WHOIS response...",
        ),
        (
            f"Registry Expiry Date:\r\n   Updated Date: {iso(400)}",
            "down",
            "Unknown",
            "We were unable to find an expiration date from the WHOIS response...",
        ),
        (
            "Registry Expiry Date: soon",
            "down",
            "Unknown",
            "We were unable to find an expiration date from the WHOIS response...",
        ),
    ],
    ids=[
        "active",
        "within-warningdays",
        "expired",
        "registrar-field",
        "renew-field",
        "dotted",
        "bracketed-jp",
        "dd-mon-yyyy",
        "dd.mm.yyyy",
        "month-name",
        "no-expir-field",
        "empty-field",
        "unparseable",
    ],
)
async def test_warningdays(
    whois: CheckType, whois_server: Start, expiry_line: str, status: str, code: str, message: str
) -> None:
    port = await whois_server({"example.test": registry_reply(expiry_line)})
    result = await check(whois, whoisserver=f"127.0.0.1:{port}", warningdays=30)
    assert (result.status, result.code, result.message) == (status, code, message)


async def test_warningdays_after_a_content_match(whois: CheckType, whois_server: Start) -> None:
    port = await whois_server({"example.test": registry_reply(f"Registry Expiry Date: {iso(10)}")})
    server = f"127.0.0.1:{port}"
    both = await check(whois, whoisserver=server, contentstring="EXAMPLE.TEST", warningdays="30")
    assert (both.status, both.code) == ("down", "Expiration")
    assert both.details is not None and both.details["expires"].startswith(day(10))
    missing = await check(whois, whoisserver=server, contentstring="nothing like it", warningdays=30)
    assert (missing.status, missing.code) == ("down", "Not found")
    zero = await check(whois, whoisserver=server, warningdays=0)
    assert (zero.status, zero.code) == ("up", "Response received")


# --- referrals (root server from VEDETTE_WHOIS_ROOT) -----------------------------------------------


async def test_follows_referral_from_the_root(
    whois: CheckType, whois_server: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = await whois_server({"example.test": ACTIVE})
    root_queries: list[bytes] = []
    root = await whois_server(
        {
            "example.test": f"% IANA WHOIS server\r\n\r\nrefer:        127.0.0.1:{registry}\r\n\r\ndomain: TEST\r\n"
        },
        queries=root_queries,
    )
    monkeypatch.setenv("VEDETTE_WHOIS_ROOT", f"127.0.0.1:{root}")
    result = await check(whois, contentstring="clientTransferProhibited")
    assert (result.status, result.message) == ("up", "WHOIS response matched")
    assert result.details == {"servers": [f"127.0.0.1:{root}", f"127.0.0.1:{registry}"]}
    assert root_queries == [b"example.test\r\n"]


async def test_no_referral_evaluates_the_root_reply(
    whois: CheckType, whois_server: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = await whois_server({"example.test": "domain: TEST\r\nstatus: ACTIVE\r\n"})
    monkeypatch.setenv("VEDETTE_WHOIS_ROOT", f"127.0.0.1:{root}")
    result = await check(whois, contentstring="status: ACTIVE")
    assert (result.status, result.code) == ("up", "Found")
    assert result.details == {"servers": [f"127.0.0.1:{root}"]}


async def test_referral_loop_stops(
    whois: CheckType, whois_server: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = 0
    replies: Replies = {}
    port = await whois_server(replies)
    replies["example.test"] = f"refer: 127.0.0.1:{port}\r\n"  # refers to itself
    monkeypatch.setenv("VEDETTE_WHOIS_ROOT", f"127.0.0.1:{port}")
    result = await check(whois)
    assert (result.status, result.code) == ("up", "Response received")
    assert result.details == {"servers": [f"127.0.0.1:{port}"]}


async def test_unreachable_referral(
    whois: CheckType, whois_server: Start, monkeypatch: pytest.MonkeyPatch, closed_port: int
) -> None:
    root = await whois_server({"example.test": f"refer: 127.0.0.1:{closed_port}\r\n"})
    monkeypatch.setenv("VEDETTE_WHOIS_ROOT", f"127.0.0.1:{root}")
    result = await check(whois)
    assert (result.status, result.code, result.message) == (
        "down",
        "error",
        f"Error: Connection refused (127.0.0.1:{closed_port})",
    )


async def test_bad_root_setting_is_a_config_error(whois: CheckType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VEDETTE_WHOIS_ROOT", "127.0.0.1:http")
    result = await check(whois)
    assert (result.status, result.config_error) == ("down", True)
    assert result.message == "VEDETTE_WHOIS_ROOT: Invalid port 'http' in '127.0.0.1:http'"


# --- connection failures ----------------------------------------------------------------------------


async def test_refused(whois: CheckType, closed_port: int) -> None:
    result = await check(whois, whoisserver=f"127.0.0.1:{closed_port}")
    assert (result.status, result.code, result.message) == (
        "down",
        "error",
        f"Error: Connection refused (127.0.0.1:{closed_port})",
    )


async def test_no_answer_times_out(whois: CheckType, whois_server: Start) -> None:
    port = await whois_server({"example.test": NEVER})
    result = await check(whois, whoisserver=f"127.0.0.1:{port}", seconds=0.5)
    assert (result.status, result.code, result.message) == ("down", "Timeout", "Timeout")


async def test_unresolvable_server(whois: CheckType) -> None:
    result = await check(whois, whoisserver="no-such-whois.invalid")
    assert (result.status, result.code) == ("down", "error")
    assert "no-such-whois.invalid" in result.message


async def test_missing_target_is_a_config_error(whois: CheckType) -> None:
    result = await check(whois, target=" ", whoisserver="127.0.0.1")
    assert (result.status, result.message, result.config_error) == ("down", "Missing target", True)


async def test_ipv6_server(whois: CheckType, whois_server: Start) -> None:
    try:
        port = await whois_server({"example.test": ACTIVE}, host="::1")
    except OSError:
        pytest.skip("::1 is not bindable here")
    result = await check(whois, whoisserver=f"[::1]:{port}", ipv6=True)
    assert (result.status, result.code) == ("up", "Response received")
    assert result.details == {"servers": [f"[::1]:{port}"]}
    # ipv6 uses AAAA only: an IPv4 literal has none.
    v4 = await check(whois, whoisserver=f"127.0.0.1:{port}", ipv6=True)
    assert (v4.status, v4.message) == ("down", "No addresses found for 127.0.0.1")


# --- parameters -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            {},
            {"whoisserver": None, "ipv6": False, "contentstring": None, "invert": False, "warningdays": None},
        ),
        ({"whoisserver": ""}, {"whoisserver": None}),
        ({"whoisserver": " whois.example.test:4343 "}, {"whoisserver": "whois.example.test:4343"}),
        (
            {"whoisserver": "[2001:db8::43]:43", "ipv6": "true"},
            {"whoisserver": "[2001:db8::43]:43", "ipv6": True},
        ),
        ({"whoisserver": "2001:db8::43"}, {"whoisserver": "2001:db8::43"}),
        (
            {"warningdays": "30", "contentstring": 42, "invert": 1},
            {"warningdays": 30, "contentstring": "42", "invert": True},
        ),
    ],
)
def test_valid_params(whois: CheckType, params: dict[str, Any], expected: dict[str, Any]) -> None:
    dumped = whois.params.model_validate(params).model_dump()
    assert {key: dumped[key] for key in expected} == expected


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"whoisserver": "whois.example.test:0"},
            "whoisserver: Value error, Invalid port '0' in 'whois.example.test:0'",
        ),
        (
            {"whoisserver": "whois.example.test:whois"},
            "whoisserver: Value error, Invalid port 'whois' in 'whois.example.test:whois'",
        ),
        ({"whoisserver": ":43"}, "whoisserver: Value error, Invalid address ':43': missing host"),
        ({"whoisserver": "[::1"}, "whoisserver: Value error, Invalid address '[::1': missing ']'"),
        ({"warningdays": -1}, "warningdays: Input should be greater than or equal to 0"),
        ({"ipv6": "both"}, "ipv6: Input should be a valid boolean, unable to interpret input"),
        ({"port": 43}, "port: Extra inputs are not permitted"),
    ],
)
def test_invalid_params(whois: CheckType, params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        whois.params.model_validate(params)
    assert validation_message(excinfo.value) == message
