"""WHOIS: a WHOIS query for the domain; optional content match and expiry warning.

On the wire (RFC 3912): TCP to the WHOIS server (port 43 unless ``whoisserver`` is ``host:port``), send
``<domain>\\r\\n``, read until the server closes. Without ``whoisserver`` the query goes to the root server
(``whois.iana.org``, or ``VEDETTE_WHOIS_ROOT=host[:port]``) and follows its ``refer:`` lines (at most
``MAX_REFERRALS`` hops) to the registry's server; the last reply is evaluated.

Pass / fail (check-types.md §4 WHOIS):
- ``contentstring``: found → ``sc = "Found"``, ``m = "WHOIS response matched"``; not found →
  ``sc = "Not found"``, ``m = "Search term was not found in the WHOIS response"``. ``invert`` swaps only
  this outcome.
- ``warningdays``: the first date on a line whose field name contains "expir" or "renew" (``Registry Expiry
  Date: ...``, ``[Expires on] ...``). Past → ``sc = "Expired"``; within N days → ``sc = "Expiration"``;
  otherwise ``sc = "Active"``, ``m = "Domain Active"``. No date → ``sc = "Unknown"``. ``warningdays: 0`` means
  "no expiry check", as for the certificate types.
- With both options, a failing content match is reported first, otherwise the expiry result.
- Neither: ``sc = "Response received"``, ``m = "WHOIS reply received"``. An empty reply always fails
  (``sc = "Empty"``). Connection errors: ``sc = "error"``, ``m = "Error: <reason> (<server>)"``.
"""

from __future__ import annotations

import calendar
import os
import re
import socket
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from pydantic import field_validator

from checktypes._common import NonNegInt
from checktypes._endpoint import format_host, split_host_port
from checktypes._net import open_connection, os_reason, resolution_message
from prober.base import BoolIsh, CheckContext, CheckParams, CheckResult, ConfigError, StrIsh

NAME = "WHOIS"

WHOIS_PORT = 43
ROOT_SERVER = "whois.iana.org"
ROOT_ENV = "VEDETTE_WHOIS_ROOT"
"""Overrides the root server (``host[:port]``), e.g. for a local WHOIS proxy or for tests."""
MAX_REFERRALS = 3
MAX_REPLY_BYTES = 1 << 20


class Params(CheckParams):
    whoisserver: StrIsh | None = None
    """The WHOIS server to ask (``host`` or ``host:port``); absent = the registry's server (via referrals)."""
    ipv6: BoolIsh = False
    """Reach the WHOIS server over IPv6."""
    contentstring: StrIsh | None = None
    invert: BoolIsh = False
    warningdays: NonNegInt | None = None
    """Fail this many days before the domain expires."""

    @field_validator("whoisserver")
    @classmethod
    def _server(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        split_host_port(value, WHOIS_PORT)  # raises ValueError naming the bad part
        return value.strip()


class WhoisError(Exception):
    """A WHOIS server could not be asked; the message is the result's ``m``."""


async def run(params: Params, ctx: CheckContext) -> CheckResult:
    domain = ctx.target.strip().rstrip(".")
    if not domain:
        raise ConfigError("Missing target")
    try:
        servers, reply = await _lookup(domain, params)
    except WhoisError as exc:
        return CheckResult.down("error", str(exc))
    details: dict[str, Any] = {"servers": servers}
    if not reply.strip():
        return CheckResult.down("Empty", "Empty WHOIS reply received", details=details)

    result: CheckResult | None = None
    if params.contentstring:
        if params.contentstring in reply:
            result = CheckResult.up("Found", "WHOIS response matched", details=details)
        else:
            result = CheckResult.down(
                "Not found", "Search term was not found in the WHOIS response", details=details
            )
        result = result.inverted(params.invert)
        if not result.success:
            return result
    if params.warningdays:
        return _expiry(reply, params.warningdays, details)
    return result or CheckResult.up("Response received", "WHOIS reply received", details=details)


# --- asking servers -------------------------------------------------------------------------------


async def _lookup(domain: str, params: Params) -> tuple[list[str], str]:
    """Ask ``whoisserver``, or the root server and its referrals. Returns (servers asked, last reply)."""
    if params.whoisserver:
        server = split_host_port(params.whoisserver, WHOIS_PORT)
        return [_name(server)], await _query(server, domain, params.ipv6)
    try:
        server = split_host_port(os.environ.get(ROOT_ENV) or ROOT_SERVER, WHOIS_PORT)
    except ValueError as exc:
        raise ConfigError(f"{ROOT_ENV}: {exc}") from None
    asked: list[str] = []
    reply = ""
    for _hop in range(MAX_REFERRALS + 1):
        asked.append(_name(server))
        reply = await _query(server, domain, params.ipv6)
        referral = _referral(reply)
        if referral is None or _name(referral) in asked:
            break
        server = referral
    return asked, reply


def _name(server: tuple[str, int]) -> str:
    host, port = server
    return format_host(host) if port == WHOIS_PORT else f"{format_host(host)}:{port}"


_REFER = re.compile(r"^\s*refer:\s*(\S+)\s*$", re.IGNORECASE | re.MULTILINE)


def _referral(reply: str) -> tuple[str, int] | None:
    """The server named on an IANA-style ``refer:`` line (``whois://`` prefixes are tolerated)."""
    match = _REFER.search(reply)
    if match is None:
        return None
    value = match.group(1).removeprefix("whois://").removeprefix("rwhois://").rstrip("/")
    try:
        return split_host_port(value, WHOIS_PORT)
    except ValueError:
        return None


async def _query(server: tuple[str, int], domain: str, ipv6: bool) -> str:
    host, port = server
    try:
        reader, writer = await open_connection(host, port, ipv6=ipv6)
    except socket.gaierror as exc:
        raise WhoisError(resolution_message(host, exc)) from None
    except OSError as exc:
        raise WhoisError(f"Error: {os_reason(exc)} ({_name(server)})") from None
    try:
        writer.write(_encode(domain) + b"\r\n")
        await writer.drain()
        chunks: list[bytes] = []
        size = 0
        while size < MAX_REPLY_BYTES:
            chunk = await reader.read(65536)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise WhoisError(f"Error: {os_reason(exc)} ({_name(server)})") from None
    finally:
        writer.close()
    return b"".join(chunks).decode("utf-8", "replace")


def _encode(domain: str) -> bytes:
    try:
        return domain.encode("idna")
    except UnicodeError:
        return domain.encode("utf-8")


# --- expiry ---------------------------------------------------------------------------------------


def _expiry(
    reply: str, warningdays: int, details: dict[str, Any], now: datetime | None = None
) -> CheckResult:
    expires = find_expiry(reply)
    if expires is None:
        return CheckResult.down(
            "Unknown", "We were unable to find an expiration date from the WHOIS response...", details=details
        )
    now = now or datetime.now(UTC)
    details["expires"] = expires.isoformat()
    day = f"{expires:%Y-%m-%d}"
    if expires <= now:
        return CheckResult.down("Expired", f"Domain expired on {day}", details=details)
    if expires - now <= timedelta(days=warningdays):
        return CheckResult.down("Expiration", f"Domain set to expire on {day}", details=details)
    return CheckResult.up("Active", "Domain Active", details=details)


_FIELD = re.compile(
    r"^[ \t]*(?:\[(?P<bracketed>[^\]\n]+)\]|(?P<name>[^:\n]+?)[ \t]*:)[ \t]*(?P<value>[^\n]*?)[ \t\r]*$",
    re.MULTILINE,
)
_MONTHS = {name.lower(): number for number, name in enumerate(calendar.month_abbr) if name}
_TIME = (
    r"(?:[T ](?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.\d+)?)?)?\s*(?P<tz>Z|UTC|GMT|[+-]\d{2}:?\d{2})?"
)
_DATE_PATTERNS = [
    # 2025-08-13T04:00:00Z, 2025-08-13 04:00:00+02:00, 2025/08/13, 2025.08.13
    re.compile(r"(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})" + _TIME),
    # 13-aug-2025, 26-Jun-2025 10:00:00, 13 August 2025
    re.compile(r"(?P<d>\d{1,2})[- .](?P<mon>[A-Za-z]{3,9})[- .,]+(?P<y>\d{4})" + _TIME),
    # Aug 13 2025, August 13, 2025
    re.compile(r"(?P<mon>[A-Za-z]{3,9})\.? (?P<d>\d{1,2}),? (?P<y>\d{4})" + _TIME),
    # 13.08.2025, 13/08/2025 (day first unless that cannot be)
    re.compile(r"(?P<a>\d{1,2})[./](?P<b>\d{1,2})[./](?P<y>\d{4})" + _TIME),
    # 20250813
    re.compile(r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})\b"),
]


def find_expiry(reply: str) -> datetime | None:
    """The first parseable date of a field named like "expir"/"renew", as an aware UTC datetime."""
    for match in _FIELD.finditer(reply):
        name = (match.group("bracketed") or match.group("name") or "").lower()
        if "expir" in name or "renew" in name:
            parsed = parse_date(match.group("value"))
            if parsed is not None:
                return parsed
    return None


def parse_date(text: str) -> datetime | None:
    for pattern in _DATE_PATTERNS:
        match = pattern.search(text)
        if match is None:
            continue
        parts = match.groupdict()
        try:
            year = int(parts["y"])
            if parts.get("mon"):
                month = _MONTHS.get(parts["mon"][:3].lower(), 0)
                day = int(parts["d"])
            elif parts.get("a"):
                day, month = int(parts["a"]), int(parts["b"])
                if month > 12 >= day:
                    day, month = month, day
            else:
                month, day = int(parts["m"]), int(parts["d"])
            stamp = datetime(
                year,
                month,
                day,
                int(parts.get("H") or 0),
                int(parts.get("M") or 0),
                int(parts.get("S") or 0),
                tzinfo=_zone(parts.get("tz")),
            )
        except ValueError:
            continue
        return stamp.astimezone(UTC)
    return None


def _zone(text: str | None) -> timezone:
    if not text or text.upper() in ("Z", "UTC", "GMT"):
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:4])))
