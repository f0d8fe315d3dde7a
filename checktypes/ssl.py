"""SSL: TLS handshake with SNI; certificate trust, name match and expiry.

The chain is verified against the system trust store plus the CAs of ``$VEDETTE_SSL_CA_FILE`` (see
``checktypes._x509``). ``details`` carry the certificate's expiry (ISO 8601), issuer and subject.
"""

from __future__ import annotations

import socket
import ssl
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from checktypes import _x509
from checktypes._common import NonNegInt
from checktypes._net import open_connection, os_reason, resolution_message
from checktypes._tls import peer_certificate
from prober.base import CheckContext, CheckParams, CheckResult, ConfigError, StrIsh

NAME = "SSL"

DEFAULT_PORT = 443


class Params(CheckParams):
    warningdays: NonNegInt | None = None
    """Fail this many days before the certificate expires."""
    servername: StrIsh | None = None
    """The SNI name (and the name the certificate must match); absent = the target host."""

    @classmethod
    def check_target(cls, target: str) -> str:
        if "://" in target:
            if not target.lower().startswith("https://"):
                raise ValueError("Target must be a host name or begin with https://")
            try:
                host = urlsplit(target).hostname
            except ValueError:
                host = None
            if not host:
                raise ValueError("Target must include a host name")
        elif not target.strip():
            raise ValueError("Target must include a host name")
        return target


def endpoint(target: str) -> tuple[str, int]:
    """``https://host[:port]/...``, ``host``, ``host:port``, ``[v6]:port`` or a bare IPv6 address."""
    text = target.strip()
    if not text:
        raise ConfigError("Missing target")
    if "://" in text:
        if not text.lower().startswith("https://"):
            raise ConfigError("Target must be a host name or begin with https://")
        authority = urlsplit(text).netloc.rpartition("@")[2]
    else:
        authority = text.split("/", 1)[0]
    if authority.count(":") > 1 and not authority.startswith("["):
        return authority, DEFAULT_PORT  # a bare IPv6 address
    try:
        parts = urlsplit(f"//{authority}")
        host, port = parts.hostname, parts.port
    except ValueError:
        raise ConfigError(f"Invalid port in target: {target}") from None
    if not host:
        raise ConfigError("Target must include a host name")
    return host, port or DEFAULT_PORT


async def run(params: Params, ctx: CheckContext) -> CheckResult:
    host, port = endpoint(ctx.target)
    servername = params.servername or host
    context = await _x509.verifying_context()
    try:
        _, writer = await open_connection(host, port, ssl_context=context, server_hostname=servername)
    except ssl.SSLCertVerificationError as exc:
        return CheckResult.down("invalid", f"Invalid cert: {exc.verify_message or exc.reason}")
    except ssl.SSLError as exc:
        return CheckResult.down("Error", f"TLS error: {os_reason(exc)}")
    except socket.gaierror as exc:
        return CheckResult.down("Error", resolution_message(host, exc))
    except OSError as exc:
        return CheckResult.down("Error", f"Cannot connect to {host}:{port}: {os_reason(exc)}")
    try:
        certificate = peer_certificate(writer.get_extra_info("ssl_object"))
    finally:
        writer.transport.abort()  # the handshake was the point; no TLS close handshake to wait for
    if certificate is None:
        return CheckResult.down("invalid", "Invalid cert: no certificate presented")
    not_after = certificate.not_valid_after_utc
    details: dict[str, Any] = {
        "servername": servername,
        "expires": not_after.isoformat(),
        "issuer": certificate.issuer.rfc4514_string(),
        "subject": certificate.subject.rfc4514_string(),
    }
    if not _x509.matches_hostname(certificate, servername):
        return CheckResult.down("invalid", "Domain mismatch", details=details)
    remaining = (not_after - datetime.now(UTC)).total_seconds()
    if params.warningdays and remaining <= params.warningdays * 86_400:
        date = f"{not_after:%Y-%m-%d}"
        return CheckResult.down(f"expires {date}", f"Will expire {date}", details=details)
    return CheckResult.up("valid", "Valid cert", details=details)
