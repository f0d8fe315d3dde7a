"""DNS against real servers on 127.0.0.1: the in-process dnspython zone server (tests/servers/dnszone.py) and
a real unbound validating resolver with a signed zone (tests/servers/unbound.py)."""

from __future__ import annotations

import importlib
import socket
from typing import Any

import dns.flags
import dns.rdatatype
import pytest
from pydantic import ValidationError
from servers.checkrun import outcome
from servers.dnszone import ZoneServer
from servers.unbound import UnboundResolver

from prober.base import CheckContext, CheckResult
from prober.registry import CheckType, load_registry
from prober.runner import run_check, validation_message

dns_helpers = importlib.import_module("checktypes._dns")


@pytest.fixture(scope="module")
def dns_type() -> CheckType:
    return load_registry(autoload=False, builtins=["checktypes.dns"]).get("DNS")


async def check(dns_type: CheckType, target: str, run_timeout: float = 3.0, **params: Any) -> CheckResult:
    return await run_check(dns_type, params, CheckContext(target=target, threshold=5, timeout=run_timeout))


FOUND = ("up", "Success", "Domain found")
NO_MATCH = ("down", "Failure", "DNS does not match")
NO_RESOLUTION = ("down", "Failed", "No Resolution")


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VEDETTE_DNSSEC_RESOLVER", raising=False)
    monkeypatch.delenv("VEDETTE_DNS_DEFAULT_SERVER", raising=False)


# --- params -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, {"dnstype": "A", "dnssection": "answer", "port": 53, "transport": "udp", "dnsrd": True}),
        (
            {"dnstype": "srv", "transport": "TCP", "port": "5353"},
            {"dnstype": "SRV", "transport": "tcp", "port": 5353},
        ),
        (
            {"dnsrd": 0, "verify": "true", "dnstoresolve": ""},
            {"dnsrd": False, "verify": True, "dnstoresolve": ""},
        ),
    ],
)
def test_valid_params(dns_type: CheckType, params: dict[str, Any], expected: dict[str, Any]) -> None:
    parsed = dns_type.params.model_validate(params).model_dump()
    assert {key: parsed[key] for key in expected} == expected


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"dnstype": "AXFR"},
            "dnstype: Input should be 'ANY', 'A', 'AAAA', 'CNAME', 'MX', 'NS', 'PTR', 'SOA', 'SRV' or 'TXT'",
        ),
        ({"transport": "tls"}, "transport: Input should be 'udp' or 'tcp'"),
        ({"port": 0}, "port: Input should be greater than or equal to 1"),
        (
            {"dnssection": "Answer"},
            "dnssection: Input should be 'answer', 'authority', 'additional' or 'edns_options'",
        ),
        ({"dnsrd": "maybe"}, "dnsrd: Input should be a valid boolean, unable to interpret input"),
        ({"edns": {"8": "00"}}, "edns: Extra inputs are not permitted"),
    ],
)
def test_invalid_params(dns_type: CheckType, params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as info:
        dns_type.params.model_validate(params)
    assert validation_message(info.value) == message


async def test_invalid_name_is_a_config_error(dns_type: CheckType, dns_zone_server: ZoneServer) -> None:
    result = await check(dns_type, "127.0.0.1", port=dns_zone_server.port, dnstoresolve="a" * 64 + ".test")
    assert result.config_error and result.message.startswith("Invalid dnstoresolve")


# --- up ---------------------------------------------------------------------------------------------


async def test_domain_found_over_udp_and_tcp(dns_type: CheckType, dns_zone_server: ZoneServer) -> None:
    for transport in ("udp", "tcp"):
        result = await check(
            dns_type,
            "127.0.0.1",
            port=dns_zone_server.port,
            dnstoresolve="www.example.test",
            transport=transport,
        )
        assert outcome(result) == FOUND


async def test_host_name_target_is_resolved(dns_type: CheckType, dns_zone_server: ZoneServer) -> None:
    result = await check(dns_type, "localhost", port=dns_zone_server.port, dnstoresolve="www.example.test")
    assert outcome(result) == FOUND


async def test_no_name_asks_the_root_and_any_reply_passes(
    dns_type: CheckType, dns_zone_server: ZoneServer
) -> None:
    # The zone server answers REFUSED for the root: it still responded.
    result = await check(dns_type, "127.0.0.1", port=dns_zone_server.port)
    assert outcome(result) == ("up", "Success", "Server Responded")
    question = dns_zone_server.queries[-1].question[0]
    assert (question.name.to_text(), question.rdtype) == (".", dns.rdatatype.NS)


async def test_empty_target_uses_the_default_server(
    dns_type: CheckType, dns_zone_server: ZoneServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VEDETTE_DNS_DEFAULT_SERVER", "127.0.0.1")
    result = await check(dns_type, "", port=dns_zone_server.port, dnstoresolve="www.example.test")
    assert outcome(result) == FOUND


async def test_cname_chain_counts_as_found(dns_type: CheckType, dns_zone_server: ZoneServer) -> None:
    result = await check(dns_type, "127.0.0.1", port=dns_zone_server.port, dnstoresolve="alias.example.test")
    assert outcome(result) == FOUND


async def test_recursion_desired_bit_follows_dnsrd(dns_type: CheckType, dns_zone_server: ZoneServer) -> None:
    for dnsrd, expected in ((True, True), ("false", False)):
        await check(
            dns_type, "127.0.0.1", port=dns_zone_server.port, dnstoresolve="rd.example.test", dnsrd=dnsrd
        )
        sent = dns_zone_server.queries[-1]
        assert sent.question[0].name.to_text() == "rd.example.test."
        assert bool(sent.flags & dns.flags.RD) is expected


@pytest.mark.parametrize(
    ("name", "dnstype", "contentstring"),
    [
        ("www.example.test", "A", "192.0.2.10"),
        ("www.example.test", "AAAA", "2001:0db8:0:0::10"),  # compared as an address
        ("www.example.test", "A", "www.example.test"),  # the record's name
        ("example.test", "MX", "mail.example.test"),
        ("example.test", "MX", "MAIL.example.test."),  # names: any case, trailing dot optional
        ("example.test", "NS", "ns1.example.test"),
        ("example.test", "SOA", "ns1.example.test."),  # the SOA primary
        ("txt.example.test", "TXT", "hello from test zone"),
        ("multi.example.test", "TXT", "part one, part two"),  # the strings joined
        ("multi.example.test", "TXT", "part two"),  # or one of them
        ("_sip._tcp.example.test", "SRV", "10 20 5060 sip.example.test"),
        ("_sip._tcp.example.test", "SRV", "10 20 5060 sip.example.test."),
        ("_sip._tcp.example.test", "SRV", "sip.example.test"),
        ("alias.example.test", "CNAME", "www.example.test"),
        ("10.2.0.192.in-addr.example.test", "PTR", "www.example.test"),
        ("www.example.test", "ANY", "2001:db8::10"),
    ],
)
async def test_contentstring_matches_record_values(
    dns_type: CheckType, dns_zone_server: ZoneServer, name: str, dnstype: str, contentstring: str
) -> None:
    result = await check(
        dns_type,
        "127.0.0.1",
        port=dns_zone_server.port,
        dnstoresolve=name,
        dnstype=dnstype,
        contentstring=contentstring,
    )
    assert outcome(result) == FOUND


async def test_additional_section(dns_type: CheckType, dns_zone_server: ZoneServer) -> None:
    params = {
        "port": dns_zone_server.port,
        "dnstoresolve": "example.test",
        "dnstype": "MX",
        "contentstring": "192.0.2.25",
    }
    assert outcome(await check(dns_type, "127.0.0.1", **params)) == NO_MATCH  # not in the answer section
    assert outcome(await check(dns_type, "127.0.0.1", dnssection="additional", **params)) == FOUND


async def test_authority_section_of_a_referral(dns_type: CheckType, dns_zone_server: ZoneServer) -> None:
    params = {
        "port": dns_zone_server.port,
        "dnstoresolve": "host.sub.example.test",
        "dnssection": "authority",
    }
    assert outcome(await check(dns_type, "127.0.0.1", contentstring="ns.sub.example.test", **params)) == FOUND
    assert outcome(await check(dns_type, "127.0.0.1", contentstring="ns.other.test", **params)) == NO_MATCH


async def test_edns_options_section_matches_the_nsid(
    dns_type: CheckType, dns_zone_server: ZoneServer
) -> None:
    params = {"port": dns_zone_server.port, "dnstoresolve": "www.example.test", "dnssection": "edns_options"}
    assert outcome(await check(dns_type, "127.0.0.1", contentstring="vedette-test", **params)) == FOUND
    assert any(option.otype == 3 for option in dns_zone_server.queries[-1].options)  # NSID was asked for
    assert (
        outcome(await check(dns_type, "127.0.0.1", contentstring="3:" + b"vedette-test".hex(), **params))
        == FOUND
    )
    assert outcome(await check(dns_type, "127.0.0.1", contentstring="other-ns", **params)) == NO_MATCH


async def test_real_unbound_over_tcp(dns_type: CheckType, unbound_resolver: UnboundResolver) -> None:
    result = await check(
        dns_type,
        "127.0.0.1",
        port=unbound_resolver.port,
        transport="tcp",
        dnstoresolve="example.test",
        dnstype="MX",
        contentstring="mail.example.test",
    )
    assert outcome(result) == FOUND


# --- down -------------------------------------------------------------------------------------------


async def test_nxdomain_is_no_resolution(dns_type: CheckType, dns_zone_server: ZoneServer) -> None:
    result = await check(dns_type, "127.0.0.1", port=dns_zone_server.port, dnstoresolve="nope.example.test")
    assert outcome(result) == NO_RESOLUTION


async def test_no_data_is_no_resolution(dns_type: CheckType, dns_zone_server: ZoneServer) -> None:
    result = await check(
        dns_type, "127.0.0.1", port=dns_zone_server.port, dnstoresolve="mail.example.test", dnstype="MX"
    )
    assert outcome(result) == NO_RESOLUTION


async def test_wrong_answer_does_not_match(dns_type: CheckType, dns_zone_server: ZoneServer) -> None:
    for contentstring in ("192.0.2.11", "192.0.2.1", "www.example"):
        result = await check(
            dns_type,
            "127.0.0.1",
            port=dns_zone_server.port,
            dnstoresolve="www.example.test",
            contentstring=contentstring,
        )
        assert outcome(result) == NO_MATCH, contentstring


async def test_txt_content_is_case_sensitive(dns_type: CheckType, dns_zone_server: ZoneServer) -> None:
    result = await check(
        dns_type,
        "127.0.0.1",
        port=dns_zone_server.port,
        dnstoresolve="txt.example.test",
        dnstype="TXT",
        contentstring="Hello from test zone",
    )
    assert outcome(result) == NO_MATCH


async def test_answer_without_the_queried_type_is_domain_not_found(
    dns_type: CheckType, dns_zone_server: ZoneServer
) -> None:
    # alias has a CNAME to www, which has no TXT: the answer holds only the CNAME.
    result = await check(
        dns_type, "127.0.0.1", port=dns_zone_server.port, dnstoresolve="alias.example.test", dnstype="TXT"
    )
    assert outcome(result) == ("down", "Fail", "Domain not found")


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_server_that_never_answers_times_out(
    dns_type: CheckType, dns_zone_server: ZoneServer, transport: str
) -> None:
    result = await check(
        dns_type,
        "127.0.0.1",
        run_timeout=0.5,
        port=dns_zone_server.silent_port,
        dnstoresolve="www.example.test",
        transport=transport,
    )
    assert outcome(result) == ("down", "Timeout", "Timeout")


async def test_refused_tcp_connection_is_a_dns_error(dns_type: CheckType) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = await check(dns_type, "127.0.0.1", port=port, transport="tcp", dnstoresolve="www.example.test")
    assert outcome(result) == ("down", "Error", "DNS error Connection refused")


@pytest.mark.parametrize("target", ["nonexistent.invalid", "bad..name"])
async def test_server_name_that_does_not_resolve(dns_type: CheckType, target: str) -> None:
    result = await check(dns_type, target, dnstoresolve="www.example.test")
    assert outcome(result) == ("down", "error", "DNS server did not resolve")


# --- DNSSEC (verify) --------------------------------------------------------------------------------


async def test_dnssec_authenticated_by_the_target_resolver(
    dns_type: CheckType, unbound_resolver: UnboundResolver
) -> None:
    result = await check(
        dns_type,
        "127.0.0.1",
        port=unbound_resolver.port,
        dnstoresolve="www.secure.test",
        contentstring="192.0.2.80",
        verify=True,
    )
    assert outcome(result) == ("up", "Success", "DNSSEC Authenticated Data")


async def test_dnssec_fails_for_an_unsigned_zone(
    dns_type: CheckType, unbound_resolver: UnboundResolver
) -> None:
    result = await check(
        dns_type, "127.0.0.1", port=unbound_resolver.port, dnstoresolve="www.example.test", verify=True
    )
    assert outcome(result) == ("down", "DNSSEC Failure", "DNSSEC authentication failed")


async def test_dnssec_resolver_from_the_environment(
    dns_type: CheckType,
    dns_zone_server: ZoneServer,
    unbound_resolver: UnboundResolver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The zone server is not validating; the configured resolver is asked, and example.test is unsigned.
    monkeypatch.setenv("VEDETTE_DNSSEC_RESOLVER", unbound_resolver.address)
    result = await check(
        dns_type, "127.0.0.1", port=dns_zone_server.port, dnstoresolve="www.example.test", verify=True
    )
    assert outcome(result) == ("down", "DNSSEC Failure", "DNSSEC authentication failed")
    monkeypatch.setenv("VEDETTE_DNSSEC_RESOLVER", f"127.0.0.1:{dns_zone_server.silent_port}")
    result = await check(
        dns_type,
        "127.0.0.1",
        run_timeout=1.0,
        port=dns_zone_server.port,
        dnstoresolve="www.example.test",
        verify=True,
    )
    assert outcome(result) == ("down", "Timeout", "DNSSEC Timeout")


async def test_dnssec_is_not_asked_when_the_run_already_failed(
    dns_type: CheckType, unbound_resolver: UnboundResolver
) -> None:
    result = await check(
        dns_type, "127.0.0.1", port=unbound_resolver.port, dnstoresolve="nope.secure.test", verify=True
    )
    assert outcome(result) == NO_RESOLUTION


# --- helpers ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1", ("127.0.0.1", 53)),
        ("127.0.0.1:5353", ("127.0.0.1", 5353)),
        ("dns.example", ("dns.example", 53)),
        ("[::1]:853", ("::1", 853)),
        ("::1", ("::1", 53)),
    ],
)
def test_split_host_port(value: str, expected: tuple[str, int]) -> None:
    assert dns_helpers.split_host_port(value, 53) == expected


@pytest.mark.parametrize("value", ["127.0.0.1:0", "127.0.0.1:dns", "[::1", ":53"])
def test_split_host_port_rejects(value: str) -> None:
    with pytest.raises(Exception, match="Invalid"):
        dns_helpers.split_host_port(value, 53)
