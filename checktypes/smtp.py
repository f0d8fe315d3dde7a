"""SMTP: banner, EHLO, optional STARTTLS/AUTH/RCPT TO.

On the wire (check-types.md §4 SMTP): the 220 banner, ``EHLO``, ``STARTTLS`` and a second ``EHLO`` when
``secure`` is ``starttls`` (implicit TLS when it is ``ssl``), ``AUTH`` with the first mechanism among PLAIN,
LOGIN, CRAM-MD5 that the server offers, and with ``email`` ``MAIL FROM:<>`` + ``RCPT TO:<email>``. Then
``RSET`` and ``QUIT``: ``DATA`` is never sent, so no message is ever delivered.
"""

from __future__ import annotations

import asyncio
import socket
import ssl

import aiosmtplib

from checktypes._common import NonNegInt, Secure
from checktypes._mail import (
    connect_reason,
    connect_socket,
    excerpt,
    is_certificate_error,
    is_plaintext_peer,
    tls_reason,
)
from checktypes._net import os_reason, resolution_message
from checktypes._tls import client_context, expiry_failure, peer_certificate
from prober.base import BoolIsh, CheckContext, CheckParams, CheckResult, ConfigError, Port, StrIsh

NAME = "SMTP"

EHLO_HOSTNAME = "vedette.invalid"
"""The name the probe gives in EHLO (a reserved name: the probe does not claim anyone's domain)."""

MECHANISMS = ("PLAIN", "LOGIN", "CRAM-MD5")
"""AUTH mechanisms in order of preference (NodePing's AGENT order)."""

_CERTIFICATE_REJECTED = 451
"""``sc`` when the server's certificate does not verify (the AGENT reports 451, "local error")."""


class Params(CheckParams):
    SECRET_FIELDS = frozenset({"password"})

    port: Port = 25
    secure: Secure = False
    """``ssl`` (also sent as ``tls``/``true``): implicit TLS; ``starttls``: plain, then STARTTLS."""
    verify: BoolIsh = True
    """Require a valid TLS certificate."""
    username: StrIsh | None = None
    password: StrIsh | None = None
    email: StrIsh | None = None
    """A recipient to test with ``RCPT TO``."""
    invert: BoolIsh = False
    """With ``email``: pass when the recipient is rejected, fail when it is accepted."""
    warningdays: NonNegInt | None = None
    """Fail this many days before the TLS certificate expires."""


async def run(params: Params, ctx: CheckContext) -> CheckResult:
    if not ctx.target:
        raise ConfigError("Missing target")
    if params.email and any(char in params.email for char in " \t\r\n\0<>"):
        raise ConfigError("email must be one address such as user@example.com")
    try:
        sock = await connect_socket(ctx.target, params.port)
    except socket.gaierror as exc:
        return CheckResult.down("error", resolution_message(ctx.target, exc))
    except OSError as exc:
        return CheckResult.down("error", connect_reason(exc))
    smtp = aiosmtplib.SMTP(
        hostname=ctx.target,
        sock=sock,
        local_hostname=EHLO_HOSTNAME,
        timeout=None,  # the runner owns the deadline
        use_tls=params.secure == "ssl",
        start_tls=False,  # done (or not) by _session, which reports it
        tls_context=client_context(params.verify),
    )
    try:
        return await _session(smtp, params, ctx.target)
    except aiosmtplib.SMTPResponseException as exc:
        return _reply_failure(exc)
    except aiosmtplib.SMTPConnectError as exc:
        return _connect_failure(exc)
    except aiosmtplib.SMTPServerDisconnected:
        return CheckResult.down("error", "Connection closed by server")
    except aiosmtplib.SMTPException as exc:
        return CheckResult.down("error", str(exc))
    except ssl.SSLError as exc:
        return _tls_failure(exc)
    except OSError as exc:
        return CheckResult.down("error", os_reason(exc))
    finally:
        _hang_up(smtp)


async def _session(smtp: aiosmtplib.SMTP, params: Params, target: str) -> CheckResult:
    await smtp.connect()  # the 220 banner (and the handshake with implicit TLS)
    expiring = _expiry(smtp, params.warningdays)
    if expiring is not None:
        return expiring
    reply = await smtp.ehlo()
    code, message = reply.code, "Connected"
    if params.secure == "starttls":
        if not smtp.supports_extension("starttls"):
            return CheckResult.down("error", "STARTTLS not supported by the server")
        try:
            await smtp.starttls(server_hostname=target)
        except aiosmtplib.SMTPResponseException as exc:
            return CheckResult.down(exc.code, f"STARTTLS failed: {excerpt(exc.message)}")
        expiring = _expiry(smtp, params.warningdays)
        if expiring is not None:
            return expiring
        reply = await smtp.ehlo()
        code, message = reply.code, "STARTTLS connected"
    if params.username:
        mechanism = next((name for name in MECHANISMS if name.lower() in smtp.server_auth_methods), None)
        if mechanism is None:
            return CheckResult.down("error", "No supported authentication found")
        authenticate = {"PLAIN": smtp.auth_plain, "LOGIN": smtp.auth_login, "CRAM-MD5": smtp.auth_crammd5}
        try:
            reply = await authenticate[mechanism](params.username, params.password or "")
        except aiosmtplib.SMTPAuthenticationError as exc:
            return CheckResult.down(exc.code, f"{mechanism} auth failure: {excerpt(exc.message)}")
        code, message = reply.code, f"{mechanism} auth success"
    if params.email:
        if not params.email.isascii() and not smtp.supports_extension("smtputf8"):
            return CheckResult.down("error", f"Server does not support SMTPUTF8 for address {params.email}")
        result = await _try_recipient(smtp, params.email)
        await _goodbye(smtp, reset=True)
        return result.inverted(params.invert)  # only the server's answer about the address is inverted
    await _goodbye(smtp, reset=False)
    return CheckResult.up(code, message)


async def _try_recipient(smtp: aiosmtplib.SMTP, email: str) -> CheckResult:
    """MAIL FROM:<> (the null sender, as in callout verification) and RCPT TO:<email>."""
    utf8 = not email.isascii()
    await smtp.mail("", options=["SMTPUTF8"] if utf8 else None)
    try:
        reply = await smtp.rcpt(email, encoding="utf-8" if utf8 else "ascii")
    except aiosmtplib.SMTPRecipientRefused as exc:
        return CheckResult.down(exc.code, f"Email for address {email} was rejected")
    return CheckResult.up(reply.code, f"Email for address {email} was accepted")


async def _goodbye(smtp: aiosmtplib.SMTP, *, reset: bool) -> None:
    """RSET (after MAIL/RCPT) and QUIT; the connection itself is closed by :func:`_hang_up`."""
    try:
        if reset:
            await smtp.rset()
        await smtp.execute_command(b"QUIT")
    except (aiosmtplib.SMTPException, OSError):
        pass  # the result is known already; a server that hangs up instead of saying 221 does not change it


def _hang_up(smtp: aiosmtplib.SMTP) -> None:
    """Close without waiting for the server: no TLS close_notify exchange that a silent server could stall,
    and no connection left half-open after the run."""
    transport = smtp.transport
    smtp.close()
    if isinstance(transport, asyncio.Transport):
        transport.abort()


def _expiry(smtp: aiosmtplib.SMTP, warningdays: int | None) -> CheckResult | None:
    ssl_object = smtp.get_transport_info("ssl_object")
    if ssl_object is None:
        return None
    return expiry_failure(peer_certificate(ssl_object), warningdays)


def _reply_failure(exc: aiosmtplib.SMTPResponseException) -> CheckResult:
    text = excerpt(exc.message)
    if exc.code < 0:  # not an SMTP reply at all ("Malformed SMTP response line: ...")
        return CheckResult.down("error", text)
    if isinstance(exc, aiosmtplib.SMTPConnectResponseError):
        return CheckResult.down(exc.code, f"Unexpected greeting: {exc.code} {text}")
    if isinstance(exc, aiosmtplib.SMTPHeloError):
        return CheckResult.down(exc.code, f"EHLO failed: {text}")
    if isinstance(exc, aiosmtplib.SMTPSenderRefused):
        return CheckResult.down(exc.code, f"MAIL FROM rejected: {text}")
    return CheckResult.down(exc.code, text)


def _connect_failure(exc: aiosmtplib.SMTPConnectError) -> CheckResult:
    """aiosmtplib wraps what went wrong while connecting (TLS handshake, hang-up) in SMTPConnectError."""
    cause = exc.__cause__
    if isinstance(cause, ssl.SSLError):
        return _tls_failure(cause)
    if isinstance(cause, OSError) and not isinstance(cause, aiosmtplib.SMTPException):
        return CheckResult.down("error", os_reason(cause))
    return CheckResult.down("error", "Connection closed by server")


def _tls_failure(exc: ssl.SSLError) -> CheckResult:
    if is_certificate_error(exc):
        return CheckResult.down(_CERTIFICATE_REJECTED, f"certificate verify failed: {tls_reason(exc)}")
    if is_plaintext_peer(exc):
        return CheckResult.down("error", "SSL/TLS not supported on this port")
    return CheckResult.down("error", f"SSL error: {tls_reason(exc)}")
