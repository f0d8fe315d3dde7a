"""DNS helpers shared by DNS, DOHDOT and RBL: queries, server addresses, record matching, messages.

Matching rules (check-types.md §4 DNS), written down once so DNS and DOHDOT agree:

- ``contentstring`` equals a record's *value*: its owner name, an A/AAAA address, the SOA primary (MNAME),
  the TXT data, the MX exchange, the CNAME/NS/PTR/DNAME target, or an SRV record as
  ``"<priority> <weight> <port> <target>"`` (with or without the trailing dot) or its target alone. Other
  record types (seen with ``ANY``) match their presentation text.
- Domain names compare as DNS names: case-insensitive, with or without the trailing dot. Addresses compare as
  addresses (``2001:db8::1`` equals ``2001:0db8:0:0::1``). TXT data compares exactly, as the concatenation
  of its strings or as any one of them. Everything else compares exactly.
- In the answer section only records of the queried type count (any type for ``ANY``); the authority and
  additional sections are searched whole (a referral's NS records are not of the queried type).
- ``edns_options``: each EDNS option of the reply matches as its data in hex, as ``<code>:<hex>``, or as
  text when the data is printable (an NSID such as ``ns1.example``).
- "Domain found" needs a record of the queried type owned by ``dnstoresolve`` or by a CNAME target
  reached from it in the answer section (so a name that resolves through a CNAME is found).
- Messages: a match (or a found name) passes with ``sc = "Success"``, ``m = "Domain found"``; the searched
  section empty fails "Failed"/"No Resolution"; no match fails "Failure"/"DNS does not match"; a name without
  a record of its type fails "Fail"/"Domain not found".
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Iterable, Iterator
from typing import Literal

import dns.asyncquery
import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rdata
import dns.rdatatype
import dns.rdtypes.ANY.SOA
import dns.rdtypes.IN.A
import dns.rdtypes.IN.AAAA
import dns.rdtypes.IN.SRV
import dns.rdtypes.mxbase
import dns.rdtypes.nsbase
import dns.rdtypes.txtbase
import dns.rrset

from checktypes._net import os_reason
from prober.base import CheckResult, ConfigError

Section = Literal["answer", "authority", "additional", "edns_options"]

EDNS_PAYLOAD = 1232
"""The EDNS(0) UDP payload size advertised (the 2020 DNS flag day value): large answers rarely truncate."""

MAX_CNAME_HOPS = 16

SERVER_RESPONDED = "Server Responded"
DOMAIN_FOUND = "Domain found"
DOMAIN_NOT_FOUND = "Domain not found"
NO_MATCH = "DNS does not match"
NO_RESOLUTION = "No Resolution"


# --- names, addresses, queries --------------------------------------------------------------------


def query_name(dnstoresolve: str | None) -> dns.name.Name | None:
    """The name to query, or None when none is configured (a "server responds" check)."""
    text = (dnstoresolve or "").strip()
    if not text:
        return None
    try:
        return dns.name.from_text(text)
    except (dns.exception.DNSException, ValueError) as exc:
        raise ConfigError(f"Invalid dnstoresolve {text!r}: {exc}") from None


def make_query(
    qname: dns.name.Name | None,
    rdtype: str,
    *,
    recursion_desired: bool = True,
    options: Iterable[dns.edns.Option] = (),
    dnssec: bool = False,
    query_id: int | None = None,
) -> dns.message.QueryMessage:
    """One EDNS(0) query. Without a name it asks for the root's NS set (any reply proves the server works).

    With ``dnssec`` the DO bit asks for signatures and the AD bit asks the resolver to report validation
    (RFC 6840 §5.7), as ``dig +dnssec`` does.
    """
    flags = dns.flags.RD if recursion_desired else 0
    if dnssec:
        flags |= dns.flags.AD
    return dns.message.make_query(
        qname if qname is not None else dns.name.root,
        rdtype if qname is not None else "NS",
        use_edns=0,
        payload=EDNS_PAYLOAD,
        want_dnssec=dnssec,
        options=list(options),
        id=query_id,
        flags=flags,
    )


def split_host_port(value: str, default_port: int) -> tuple[str, int]:
    """``host``, ``host:port``, ``[v6]:port`` or a bare IPv6 literal; raises ConfigError on a bad port."""
    text = value.strip()
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ConfigError(f"Invalid address {value!r}")
        port_text = rest[1:]
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:
        host, port_text = text, ""  # a host name or a bare IPv6 literal
    if not host:
        raise ConfigError(f"Invalid address {value!r}: missing host")
    if not port_text:
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) <= 65535:
        raise ConfigError(f"Invalid port in {value!r}")
    return host, int(port_text)


async def resolve_address(host: str, *, ipv6: bool = False) -> str:
    """An IP literal as is; otherwise A first, then AAAA; only AAAA with ``ipv6`` (check-types.md §2.1).

    Raises ``socket.gaierror`` when the name has no usable address.
    """
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    families = (socket.AF_INET6,) if ipv6 else (socket.AF_INET, socket.AF_INET6)
    error = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    for family in families:
        try:
            infos = await loop.getaddrinfo(host, None, family=family, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            error = exc
            continue
        except UnicodeError:  # not a valid host name (an empty or over-long label)
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
        if infos:
            return str(infos[0][4][0])
    raise error


async def exchange(
    query: dns.message.Message, where: str, port: int, *, tcp: bool, budget: float | None = None
) -> dns.message.Message:
    """One query over TCP, or over UDP with the standard switch to TCP when the reply is truncated.

    ``budget`` is a time limit in seconds; None leaves the deadline to the runner.
    """
    if tcp:
        return await dns.asyncquery.tcp(query, where, timeout=budget, port=port)
    response, _ = await dns.asyncquery.udp_with_fallback(query, where, timeout=budget, port=port)
    return response


def describe_error(exc: BaseException) -> str:
    """A short reason: "Connection refused", "TLS certificate verify failed: ...", dnspython's text."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate verify failed: {exc.verify_message or exc.reason}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc}"
    if isinstance(exc, OSError):
        return os_reason(exc)
    return str(exc) or type(exc).__name__


# --- evaluating a reply ---------------------------------------------------------------------------


def evaluate(
    response: dns.message.Message,
    qname: dns.name.Name | None,
    rdtype: str,
    contentstring: str | None,
    section: Section = "answer",
) -> CheckResult:
    """The DNS pass/fail rules (check-types.md §4 DNS) applied to one reply."""
    if qname is None:
        return CheckResult.up("Success", SERVER_RESPONDED)
    if contentstring:
        if section == "edns_options":
            values = [value for option in response.options for value in option_values(option)]
            if not values:
                return CheckResult.down("Failed", NO_RESOLUTION)
            matched = contentstring in values
        else:
            rrsets = _section(response, section)
            if not rrsets:
                return CheckResult.down("Failed", NO_RESOLUTION)
            wanted = dns.rdatatype.from_text(rdtype) if section == "answer" else dns.rdatatype.ANY
            matched = any(
                rrset_matches(rrset, contentstring)
                for rrset in rrsets
                if wanted == dns.rdatatype.ANY or rrset.rdtype == wanted
            )
        if matched:
            return CheckResult.up("Success", DOMAIN_FOUND)
        return CheckResult.down("Failure", NO_MATCH)
    if not response.answer:
        return CheckResult.down("Failed", NO_RESOLUTION)
    if name_found(response.answer, qname, dns.rdatatype.from_text(rdtype)):
        return CheckResult.up("Success", DOMAIN_FOUND)
    return CheckResult.down("Fail", DOMAIN_NOT_FOUND)


def _section(response: dns.message.Message, section: str) -> list[dns.rrset.RRset]:
    if section == "authority":
        return list(response.authority)
    if section == "additional":
        return list(response.additional)
    return list(response.answer)


def name_found(
    answer: Iterable[dns.rrset.RRset], qname: dns.name.Name, rdtype: dns.rdatatype.RdataType
) -> bool:
    rrsets = list(answer)
    owners = {qname}
    for _ in range(MAX_CNAME_HOPS):
        targets = {
            rdata.target
            for rrset in rrsets
            if rrset.rdtype == dns.rdatatype.CNAME and rrset.name in owners
            for rdata in rrset
        }
        if targets <= owners:
            break
        owners |= targets
    return any(
        rrset.name in owners and (rdtype == dns.rdatatype.ANY or rrset.rdtype == rdtype) for rrset in rrsets
    )


def rrset_matches(rrset: dns.rrset.RRset, content: str) -> bool:
    content_name = _as_name(content)
    if content_name is not None and rrset.name == content_name:
        return True
    content_ip = _as_address(content)
    return any(_rdata_matches(rdata, content, content_name, content_ip) for rdata in rrset)


def _rdata_matches(
    rdata: dns.rdata.Rdata,
    content: str,
    content_name: dns.name.Name | None,
    content_ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None,
) -> bool:
    if isinstance(rdata, dns.rdtypes.IN.A.A | dns.rdtypes.IN.AAAA.AAAA):
        return content_ip is not None and _as_address(rdata.address) == content_ip
    if isinstance(rdata, dns.rdtypes.txtbase.TXTBase):
        return content in _txt_values(rdata.strings)
    if isinstance(rdata, dns.rdtypes.ANY.SOA.SOA):
        return content_name is not None and rdata.mname == content_name
    if isinstance(rdata, dns.rdtypes.mxbase.MXBase):
        return content_name is not None and rdata.exchange == content_name
    if isinstance(rdata, dns.rdtypes.nsbase.NSBase):  # CNAME, NS, PTR, DNAME
        return content_name is not None and rdata.target == content_name
    if isinstance(rdata, dns.rdtypes.IN.SRV.SRV):
        if content_name is not None and rdata.target == content_name:
            return True
        prefix = f"{rdata.priority} {rdata.weight} {rdata.port} "
        target = rdata.target.to_text().lower()
        return content.strip().lower() in (prefix + target, prefix + target.rstrip("."))
    return content == rdata.to_text()


def _txt_values(strings: Iterable[bytes]) -> set[str]:
    parts = [part.decode("utf-8", "replace") for part in strings]
    return {"".join(parts), *parts}


def _as_name(text: str) -> dns.name.Name | None:
    try:
        return dns.name.from_text(text.strip())
    except (dns.exception.DNSException, ValueError):
        return None


def _as_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def option_values(option: dns.edns.Option) -> Iterator[str]:
    data = option.to_wire() or b""
    code = int(option.otype)
    yield data.hex()
    yield f"{code}:{data.hex()}"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return
    if text and text.isprintable():
        yield text


def edns_options(options: dict[str, str] | None) -> list[dns.edns.Option]:
    """``{"<code>": "<hex>"}`` as EDNS options. An odd number of hex digits gets a leading zero."""
    result: list[dns.edns.Option] = []
    for code, value in (options or {}).items():
        digits = value.strip()
        if len(digits) % 2:
            digits = "0" + digits
        result.append(dns.edns.GenericOption(dns.edns.OptionType.make(int(code)), bytes.fromhex(digits)))
    return result
