"""DNS: one query to a DNS server; optional answer match and DNSSEC validation.

Target: the DNS server to ask (an IP, or a host name resolved first). With no target, the server in
``VEDETTE_DNS_DEFAULT_SERVER`` is asked, else the first name server of the probe's own resolver
configuration (/etc/resolv.conf).

``verify`` (DNSSEC): after an otherwise passing run, the same question is asked again with the DO and AD bits
through a validating resolver, which must set the AD flag. The resolver is ``VEDETTE_DNSSEC_RESOLVER``
(``host`` or ``host:port``, ``[v6]:port``) when set, otherwise the checked server itself (at ``port``), so
checking a validating resolver needs no configuration. This second query gets the rest of the run's time
budget; when that runs out the run fails with "DNSSEC Timeout".

Record matching is described in ``checktypes/_dns.py``.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Annotated, Literal

import dns.edns
import dns.exception
import dns.flags
import dns.name
import dns.rdatatype
import dns.resolver
from pydantic import BeforeValidator

from checktypes._common import DnsType, lower_enum
from checktypes._dns import (
    describe_error,
    evaluate,
    exchange,
    make_query,
    query_name,
    resolve_address,
    split_host_port,
)
from prober.base import BoolIsh, CheckContext, CheckParams, CheckResult, ConfigError, Port, StrIsh

NAME = "DNS"

DEFAULT_SERVER_ENV = "VEDETTE_DNS_DEFAULT_SERVER"
DNSSEC_RESOLVER_ENV = "VEDETTE_DNSSEC_RESOLVER"

NSID_REQUEST = dns.edns.GenericOption(dns.edns.OptionType.NSID, b"")
"""Asked for when ``dnssection`` is ``edns_options``: the server identifier is the option users match."""


class Params(CheckParams):
    TARGET_REQUIRED = False
    """The target is the DNS server to ask; the run-time default is used when it is absent."""

    dnstoresolve: StrIsh | None = None
    """The name queried; absent = a "server responds" check."""
    dnstype: DnsType = "A"
    contentstring: StrIsh | None = None
    """Expected record value (exact match) in ``dnssection``."""
    dnssection: Literal["answer", "authority", "additional", "edns_options"] = "answer"
    """Reply section searched for ``contentstring`` (case-sensitive)."""
    port: Port = 53
    transport: Annotated[Literal["udp", "tcp"], BeforeValidator(lower_enum)] = "udp"
    dnsrd: BoolIsh = True
    """The Recursion Desired bit."""
    verify: BoolIsh = False
    """Validate DNSSEC (require the AD flag from a validating resolver)."""


async def run(params: Params, ctx: CheckContext) -> CheckResult:
    clock = ctx.monotonic or time.monotonic
    started = clock()
    server_host = ctx.target.strip().strip("[]") or await _default_server()
    try:
        server = await resolve_address(server_host)
    except OSError:
        return CheckResult.down("error", "DNS server did not resolve")

    qname = query_name(params.dnstoresolve)
    options = [NSID_REQUEST] if params.dnssection == "edns_options" else []
    query = make_query(qname, params.dnstype, recursion_desired=params.dnsrd, options=options)
    tcp = params.transport == "tcp"
    try:
        response = await exchange(query, server, params.port, tcp=tcp)
    except (dns.exception.DNSException, OSError) as exc:
        return CheckResult.down("Error", f"DNS error {describe_error(exc)}")

    result = evaluate(response, qname, params.dnstype, params.contentstring, params.dnssection)
    if not result.success or not params.verify:
        return result
    remaining = ctx.timeout - (clock() - started)
    # Leave the runner a moment, so the DNSSEC deadline (not the run's) reports the timeout.
    budget = remaining - min(0.25, ctx.timeout * 0.05)
    return await _dnssec(query.question[0].name, query.question[0].rdtype, server, params, budget)


async def _default_server() -> str:
    configured = os.environ.get(DEFAULT_SERVER_ENV, "").strip()
    if configured:
        return configured
    try:
        # Reading /etc/resolv.conf is file I/O: keep it off the event loop.
        resolver = await asyncio.to_thread(dns.resolver.Resolver)
    except dns.exception.DNSException:
        resolver = None
    if resolver is None or not resolver.nameservers:
        raise ConfigError(
            f"Missing target: no DNS server given, {DEFAULT_SERVER_ENV} unset, no system resolver"
        )
    return str(resolver.nameservers[0])


async def _dnssec(
    qname: dns.name.Name, rdtype: dns.rdatatype.RdataType, server: str, params: Params, budget: float
) -> CheckResult:
    where, port = server, params.port
    configured = os.environ.get(DNSSEC_RESOLVER_ENV, "").strip()
    if configured:
        host, port = split_host_port(configured, 53)
        try:
            where = await resolve_address(host)
        except OSError:
            return CheckResult.down("DNSSEC error", f"DNSSEC resolver {host} did not resolve")
    if budget <= 0:
        return CheckResult.down("Timeout", "DNSSEC Timeout")
    query = make_query(qname, dns.rdatatype.to_text(rdtype), dnssec=True)
    try:
        async with asyncio.timeout(budget):
            response = await exchange(query, where, port, tcp=params.transport == "tcp", budget=budget)
    except (TimeoutError, dns.exception.Timeout):
        return CheckResult.down("Timeout", "DNSSEC Timeout")
    except (dns.exception.DNSException, OSError) as exc:
        return CheckResult.down("DNSSEC error", f"DNSSEC error {describe_error(exc)}")
    if response.flags & dns.flags.AD:
        return CheckResult.up("Success", "DNSSEC Authenticated Data")
    return CheckResult.down("DNSSEC Failure", "DNSSEC authentication failed")
