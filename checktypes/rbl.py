"""RBL: looks the target's IP up in DNS blocklists; any listing fails.

The target (a host name is resolved first: A, then AAAA; only AAAA with ``ipv6``) is reversed (octets for
IPv4, nibbles for IPv6) and ``<reversed>.<list>`` is asked for an A record on every blocklist at once. A
query that times out (2 s, or less when the whole run has less) or fails counts as "not listed", and so do
answers in 127.255.255.0/24, which blocklists such as Spamhaus use for "query refused" errors, not listings.

Configuration of the probe:

- ``VEDETTE_RBL_LISTS``: comma-separated blocklist zones that replace the default list below.
- ``VEDETTE_RBL_RESOLVER``: ``host``, ``host:port`` or ``[v6]:port`` of the resolver to ask; unset, the
  probe's system resolver (/etc/resolv.conf) is used. Many blocklists refuse queries from large public
  resolvers, so a probe should use its own recursive resolver.

``ignore`` removes lists by name (case-insensitive); any entry containing ``spamhaus`` removes
``zen.spamhaus.org``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os

import dns.asyncresolver
import dns.exception
import dns.name
import dns.rdatatype
import dns.reversename

from checktypes._dns import resolve_address, split_host_port
from checktypes._net import resolution_message
from prober.base import BoolIsh, CheckContext, CheckParams, CheckResult, ConfigError, StrIsh

NAME = "RBL"

LISTS_ENV = "VEDETTE_RBL_LISTS"
RESOLVER_ENV = "VEDETTE_RBL_RESOLVER"

DEFAULT_LISTS: tuple[str, ...] = (
    "zen.spamhaus.org",
    "b.barracudacentral.org",
    "spamsources.fabel.dk",
    "bl.spamcop.net",
    "dnsrbl.swinog.ch",
    "uribl.swinog.ch",
    "bogons.cymru.com",
    "dnsbl.kempt.net",
    "ubl.unsubscore.com",
    "psbl.surriel.com",
    "backscatter.spameatingmonkey.net",
    "bl.spameatingmonkey.net",
    "truncate.gbudb.net",
    "blacklist.woody.ch",
    "dnsbl-3.uceprotect.net",
    "ips.backscatterer.org",
)
"""NodePing's 2025 AGENT list (check-types.md §4 RBL)."""

SPAMHAUS = "zen.spamhaus.org"
QUERY_TIMEOUT = 2.0
ERROR_ANSWERS = ipaddress.ip_network("127.255.255.0/24")


class Params(CheckParams):
    ignore: StrIsh | None = None
    """Comma-separated blocklist names to skip (an entry containing ``spamhaus`` skips zen.spamhaus.org)."""
    ipv6: BoolIsh = False


async def run(params: Params, ctx: CheckContext) -> CheckResult:
    host = ctx.target.strip().strip("[]")
    if not host:
        raise ConfigError("Missing target")
    lists = blocklists(params.ignore)
    resolver = await _resolver()
    try:
        address = ipaddress.ip_address(await resolve_address(host, ipv6=params.ipv6))
    except OSError as exc:
        return CheckResult.down("error", resolution_message(host, exc))
    reverse_domain = (
        dns.reversename.ipv4_reverse_domain if address.version == 4 else dns.reversename.ipv6_reverse_domain
    )
    reversed_ip = dns.reversename.from_address(str(address)).relativize(reverse_domain)
    timeout = min(QUERY_TIMEOUT, ctx.timeout * 0.8)
    answers = await asyncio.gather(
        *(_listing(resolver, reversed_ip.concatenate(zone), timeout) for zone in lists.values())
    )
    listings = [f"{name}:{answer}" for name, answer in zip(lists, answers, strict=True) if answer]
    if not listings:
        return CheckResult.up("Not listed", "Not found in any RBLs", value=0)
    return CheckResult.down("Listed", f"Found in RBLs: {', '.join(listings)}", value=len(listings))


def blocklists(ignore: str | None) -> dict[str, dns.name.Name]:
    """The lists to ask, in order, by name: ``VEDETTE_RBL_LISTS`` or the default, less ``ignore``."""
    configured = os.environ.get(LISTS_ENV, "")
    names = [_list_name(entry) for entry in configured.split(",")] if configured.strip() else DEFAULT_LISTS
    ignored = {_list_name(entry) for entry in (ignore or "").split(",")}
    if any("spamhaus" in entry for entry in ignored):
        ignored.add(SPAMHAUS)
    lists: dict[str, dns.name.Name] = {}
    for name in names:
        if not name or name in ignored or name in lists:
            continue
        try:
            lists[name] = dns.name.from_text(name)
        except (dns.exception.DNSException, ValueError) as exc:
            raise ConfigError(f"Invalid blocklist {name!r} in {LISTS_ENV}: {exc}") from None
    if not lists:
        raise ConfigError("No blocklists left to query: ignore removes all of them")
    return lists


def _list_name(entry: str) -> str:
    return entry.strip().lower().rstrip(".")


async def _resolver() -> dns.asyncresolver.Resolver:
    configured = os.environ.get(RESOLVER_ENV, "").strip()
    if not configured:
        try:
            # Reading /etc/resolv.conf is file I/O: keep it off the event loop.
            return await asyncio.to_thread(dns.asyncresolver.Resolver)
        except dns.exception.DNSException as exc:
            raise ConfigError(f"No system resolver ({exc}); set {RESOLVER_ENV}") from None
    host, port = split_host_port(configured, 53)
    try:
        address = await resolve_address(host)
    except OSError as exc:
        raise ConfigError(f"{RESOLVER_ENV}: {resolution_message(host, exc)}") from None
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers = [address]
    resolver.port = port
    return resolver


async def _listing(resolver: dns.asyncresolver.Resolver, qname: dns.name.Name, lifetime: float) -> str | None:
    """The first A answer for ``qname``, or None when the list does not list it (or did not answer)."""
    try:
        # dnspython may overrun ``lifetime`` by a retry back-off: bound the wait itself too.
        async with asyncio.timeout(lifetime):
            answer = await resolver.resolve(
                qname, dns.rdatatype.A, lifetime=lifetime, search=False, raise_on_no_answer=False
            )
    except (TimeoutError, dns.exception.DNSException, OSError):
        return None
    for rdata in answer.rrset or ():
        if ipaddress.ip_address(rdata.address) not in ERROR_ANSWERS:
            return str(rdata.address)
    return None
