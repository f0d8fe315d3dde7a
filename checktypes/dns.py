"""DNS: one query to a DNS server; optional answer match and DNSSEC validation."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator

from checktypes._common import DnsType, lower_enum
from prober.base import BoolIsh, CheckParams, Port, StrIsh

NAME = "DNS"


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


run = None
