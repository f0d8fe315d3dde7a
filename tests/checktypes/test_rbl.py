"""RBL against a real rbldnsd (tests/servers/rbldnsd.py) and, for lists that never answer, the in-process
zone server (tests/servers/dnszone.py). The probe's blocklists and resolver come from VEDETTE_RBL_LISTS and
VEDETTE_RBL_RESOLVER, pointed at those servers on 127.0.0.1."""

from __future__ import annotations

import importlib
import time
from typing import Any

import pytest
from pydantic import ValidationError
from servers.checkrun import outcome
from servers.dnszone import ZoneServer
from servers.rbldnsd import RbldnsdServer

from prober.base import CheckContext, CheckResult
from prober.registry import CheckType, load_registry
from prober.runner import run_check, validation_message

rbl_module = importlib.import_module("checktypes.rbl")

NOT_LISTED = ("up", "Not listed", "Not found in any RBLs")


@pytest.fixture(scope="module")
def rbl() -> CheckType:
    return load_registry(autoload=False, builtins=["checktypes.rbl"]).get("RBL")


@pytest.fixture
def rbldnsd_lists(rbldnsd_server: RbldnsdServer, monkeypatch: pytest.MonkeyPatch) -> RbldnsdServer:
    monkeypatch.setenv("VEDETTE_RBL_RESOLVER", rbldnsd_server.address)
    monkeypatch.setenv("VEDETTE_RBL_LISTS", "bl.test, bl2.test,clean.test")
    return rbldnsd_server


async def check(check_type: CheckType, target: str, run_timeout: float = 3.0, **params: Any) -> CheckResult:
    return await run_check(check_type, params, CheckContext(target=target, threshold=5, timeout=run_timeout))


# --- params -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, {"ignore": None, "ipv6": False}),
        ({"ignore": "bl.test, spamhaus", "ipv6": "true"}, {"ignore": "bl.test, spamhaus", "ipv6": True}),
    ],
)
def test_valid_params(rbl: CheckType, params: dict[str, Any], expected: dict[str, Any]) -> None:
    assert rbl.params.model_validate(params).model_dump() == expected


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"ipv6": "sometimes"}, "ipv6: Input should be a valid boolean, unable to interpret input"),
        ({"lists": "bl.test"}, "lists: Extra inputs are not permitted"),
    ],
)
def test_invalid_params(rbl: CheckType, params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as info:
        rbl.params.model_validate(params)
    assert validation_message(info.value) == message


def test_default_lists_and_ignore(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VEDETTE_RBL_LISTS", raising=False)
    assert list(rbl_module.blocklists(None)) == list(rbl_module.DEFAULT_LISTS)
    assert len(rbl_module.DEFAULT_LISTS) == 16
    lists = list(rbl_module.blocklists("Spamhaus DBL, BL.SPAMCOP.NET., nonsense"))
    assert "zen.spamhaus.org" not in lists and "bl.spamcop.net" not in lists
    assert len(lists) == 14


def test_lists_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VEDETTE_RBL_LISTS", " one.test, two.test ,one.test,, zen.spamhaus.org ")
    assert list(rbl_module.blocklists("")) == ["one.test", "two.test", "zen.spamhaus.org"]
    assert list(rbl_module.blocklists("my-spamhaus-key")) == ["one.test", "two.test"]


async def test_ignoring_every_list_is_a_config_error(rbl: CheckType, rbldnsd_lists: RbldnsdServer) -> None:
    result = await check(rbl, "127.0.0.2", ignore="bl.test,bl2.test,clean.test")
    assert result.config_error and result.message == "No blocklists left to query: ignore removes all of them"


async def test_missing_target_is_a_config_error(rbl: CheckType) -> None:
    result = await check(rbl, "")
    assert result.config_error and result.message == "Missing target"


# --- against rbldnsd ----------------------------------------------------------------------------------


async def test_unlisted_address_passes(rbl: CheckType, rbldnsd_lists: RbldnsdServer) -> None:
    result = await check(rbl, "198.51.100.1")
    assert outcome(result) == NOT_LISTED
    assert result.value == 0


async def test_listed_address_fails_with_every_listing(rbl: CheckType, rbldnsd_lists: RbldnsdServer) -> None:
    result = await check(rbl, "127.0.0.2")
    assert outcome(result) == ("down", "Listed", "Found in RBLs: bl.test:127.0.0.2, bl2.test:127.0.0.10")
    assert result.value == 2


async def test_listing_answers_are_reported(rbl: CheckType, rbldnsd_lists: RbldnsdServer) -> None:
    result = await check(rbl, "203.0.113.7")
    assert outcome(result) == ("down", "Listed", "Found in RBLs: bl.test:127.0.0.4")
    assert result.value == 1


async def test_ignore_skips_a_list(rbl: CheckType, rbldnsd_lists: RbldnsdServer) -> None:
    result = await check(rbl, "127.0.0.2", ignore=" BL2.test ")
    assert outcome(result) == ("down", "Listed", "Found in RBLs: bl.test:127.0.0.2")
    result = await check(rbl, "127.0.0.2", ignore="bl.test,bl2.test")
    assert outcome(result) == NOT_LISTED


async def test_host_name_is_resolved_first(rbl: CheckType, rbldnsd_lists: RbldnsdServer) -> None:
    # localhost is 127.0.0.1, listed in bl2.test only.
    result = await check(rbl, "localhost")
    assert outcome(result) == ("down", "Listed", "Found in RBLs: bl2.test:127.0.0.10")


async def test_ipv6_address_is_reversed_by_nibbles(rbl: CheckType, rbldnsd_lists: RbldnsdServer) -> None:
    result = await check(rbl, "2001:db8:1::25", ipv6=True)
    assert outcome(result) == ("down", "Listed", "Found in RBLs: bl.test:127.0.0.3")
    assert outcome(await check(rbl, "2001:db8:2::25", ipv6=True)) == NOT_LISTED


async def test_unresolvable_target(rbl: CheckType, rbldnsd_lists: RbldnsdServer) -> None:
    result = await check(rbl, "nonexistent.invalid")
    assert outcome(result) == ("down", "error", "No DNS resolution for nonexistent.invalid")


async def test_list_the_server_does_not_serve_counts_as_not_listed(
    rbl: CheckType, rbldnsd_server: RbldnsdServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # rbldnsd answers REFUSED for other zones: an error, so not a listing.
    monkeypatch.setenv("VEDETTE_RBL_RESOLVER", rbldnsd_server.address)
    monkeypatch.setenv("VEDETTE_RBL_LISTS", "elsewhere.test,bl.test")
    result = await check(rbl, "127.0.0.2")
    assert outcome(result) == ("down", "Listed", "Found in RBLs: bl.test:127.0.0.2")


# --- lists that never answer --------------------------------------------------------------------------


async def test_list_that_never_answers_counts_as_not_listed(
    rbl: CheckType, dns_zone_server: ZoneServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The zone server lists 127.0.0.2 in black.example.test and never answers for drop.example.test.
    monkeypatch.setenv("VEDETTE_RBL_RESOLVER", f"127.0.0.1:{dns_zone_server.port}")
    monkeypatch.setenv("VEDETTE_RBL_LISTS", "drop.example.test,black.example.test,www.example.test")
    started = time.monotonic()
    result = await check(rbl, "127.0.0.2", run_timeout=1.0)
    elapsed = time.monotonic() - started
    assert outcome(result) == ("down", "Listed", "Found in RBLs: black.example.test:127.0.0.2")
    # The lists are asked at once: the silent one costs its own query timeout (0.8 s here), not the run's.
    assert 0.7 < elapsed < 1.0


async def test_resolver_that_never_answers_passes(
    rbl: CheckType, dns_zone_server: ZoneServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VEDETTE_RBL_RESOLVER", f"127.0.0.1:{dns_zone_server.silent_port}")
    monkeypatch.setenv("VEDETTE_RBL_LISTS", "bl.test,bl2.test")
    result = await check(rbl, "127.0.0.2", run_timeout=0.5)
    assert outcome(result) == NOT_LISTED


async def test_error_answers_are_not_listings(
    rbl: CheckType, dns_zone_server: ZoneServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # refused.example.test answers 127.255.255.254 ("query refused" in Spamhaus' codes), not a listing.
    monkeypatch.setenv("VEDETTE_RBL_RESOLVER", f"127.0.0.1:{dns_zone_server.port}")
    monkeypatch.setenv("VEDETTE_RBL_LISTS", "refused.example.test,black.example.test")
    result = await check(rbl, "127.0.0.2")
    assert outcome(result) == ("down", "Listed", "Found in RBLs: black.example.test:127.0.0.2")
    monkeypatch.setenv("VEDETTE_RBL_LISTS", "refused.example.test")
    assert outcome(await check(rbl, "127.0.0.2")) == NOT_LISTED
