"""WHOIS: a WHOIS query for the domain; optional content match and expiry warning."""

from __future__ import annotations

from checktypes._common import NonNegInt
from prober.base import BoolIsh, CheckParams, StrIsh

NAME = "WHOIS"


class Params(CheckParams):
    whoisserver: StrIsh | None = None
    """The WHOIS server to ask; absent = the registry's server (following referrals)."""
    ipv6: BoolIsh = False
    """Reach the WHOIS server over IPv6."""
    contentstring: StrIsh | None = None
    invert: BoolIsh = False
    warningdays: NonNegInt | None = None
    """Fail this many days before the domain expires."""


run = None
