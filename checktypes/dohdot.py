"""DOHDOT: a DNS query over HTTPS (RFC 8484) or TLS (RFC 7858); status, RCODE and answer match."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, field_validator

from checktypes._common import DnsType, Headers, StatusCode, is_hex, lower_enum, upper_enum
from prober.base import BoolIsh, CheckParams, StrIsh

NAME = "DOHDOT"


class Params(CheckParams):
    dohdot: Annotated[Literal["doh", "dot"], BeforeValidator(lower_enum)] = "doh"
    dnstoresolve: StrIsh | None = None
    """The name queried (``nodeping-api`` always sends one; NodePing documents it as optional)."""
    dnstype: DnsType = "A"
    contentstring: StrIsh | None = None
    """Expected answer value (exact match, as for DNS)."""
    method: Annotated[Literal["GET", "POST"], BeforeValidator(upper_enum)] = "GET"
    statuscode: StatusCode = 200
    """Expected HTTP status of the DoH reply."""
    sendheaders: Headers | None = None
    edns: dict[str, StrIsh] | None = None
    """EDNS(0) options ``{"<option code>": "<hex value>"}``."""
    verify: BoolIsh = False
    """Require a valid TLS certificate."""
    ipv6: BoolIsh = False
    clientcert: StrIsh | None = None
    """Id of a stored client certificate/key for mutual TLS."""

    @field_validator("edns")
    @classmethod
    def _edns_options(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for code, data in (value or {}).items():
            if not code.strip().isdigit() or not 0 < int(code) <= 65535:
                raise ValueError(f"option code {code!r} must be an integer between 1 and 65535")
            if not is_hex(data):
                raise ValueError(f"option {code} value must be hexadecimal")
        return value


run = None
