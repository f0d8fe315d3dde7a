"""IMAP4: connect (optionally over TLS), read the greeting, LOGIN when credentials are set.

On the wire: the greeting (``* OK``/``* PREAUTH``), ``STARTTLS`` when ``secure`` is ``starttls``,
``LOGIN`` when a username is configured, then ``LOGOUT``. No mailbox is ever selected.
"""

from __future__ import annotations

import re
import socket
import ssl

from checktypes._mail import (
    MailboxParams,
    MailConnection,
    ProtocolError,
    connect,
    connect_reason,
    excerpt,
    is_certificate_error,
    is_plaintext_peer,
    require_single_line,
    session_error,
    tls_reason,
)
from checktypes._net import resolution_message
from checktypes._tls import expiry_failure
from prober.base import CheckContext, CheckResult, ConfigError, Port

NAME = "IMAP4"

# "* OK [CAPABILITY ...] ready" -> ("OK", "[CAPABILITY ...] ready"); the same for a tagged "V1 NO text".
_STATUS = re.compile(r"(?:\*|[A-Za-z0-9]+) (OK|NO|BAD|PREAUTH|BYE)\b ?(.*)", re.IGNORECASE)
# A line that announces a literal of n bytes: "... {12}" (or "{12+}" with LITERAL+).
_LITERAL = re.compile(rb"\{(\d+)\+?\}$")
# Characters that may appear in an IMAP quoted string (7-bit, no CR/LF/NUL); anything else needs a literal.
_QUOTABLE = re.compile(r"[\x01-\x09\x0b\x0c\x0e-\x7f]*")


class Params(MailboxParams):
    port: Port = 143


async def run(params: Params, ctx: CheckContext) -> CheckResult:
    if not ctx.target:
        raise ConfigError("Missing target")
    require_single_line(username=params.username, password=params.password)
    try:
        conn = await connect(
            ctx.target, params.port, implicit_tls=params.secure == "ssl", verify=params.verify
        )
    except socket.gaierror as exc:
        return CheckResult.down("error", resolution_message(ctx.target, exc))
    except ssl.SSLError as exc:
        return _tls_failure(exc)
    except OSError as exc:
        return CheckResult.down("error", connect_reason(exc))
    try:
        return await _session(conn, params)
    except ssl.SSLError as exc:
        return _tls_failure(exc)
    except (OSError, ProtocolError) as exc:
        return CheckResult.down("error", session_error(exc))
    finally:
        conn.close()


async def _session(conn: MailConnection, params: Params) -> CheckResult:
    greeting = await conn.read_line()
    greeting_status, text = _status(greeting)
    if greeting_status == "BYE":
        return CheckResult.down("error", f"Server closed the connection: {excerpt(text)}")
    if greeting_status not in ("OK", "PREAUTH"):
        return CheckResult.down("error", f"Unexpected greeting: {excerpt(greeting)}")
    if params.secure == "starttls":
        status, text = await _command(conn, "V1", b"STARTTLS")
        if status != "OK":
            return CheckResult.down("error", f"STARTTLS failed: {excerpt(text)}")
        await conn.start_tls(params.verify)
    if conn.tls:
        expiring = expiry_failure(conn.certificate(), params.warningdays)
        if expiring is not None:
            return expiring
    if not params.username:
        result = CheckResult.up("Connected", "Connected")
    elif greeting_status == "PREAUTH":
        result = CheckResult.up("Login success", "Login success")  # already authenticated
    else:
        status, _ = await _command(conn, "V2", b"LOGIN", params.username, params.password or "")
        if status != "OK":
            # The server's text is not shown: it may echo what it was sent.
            return CheckResult.down("AUTHENTICATIONFAILED", "Login failed")
        result = CheckResult.up("Login success", "Login success")
    await conn.send(b"V3 LOGOUT")
    return result


def _status(line: str) -> tuple[str, str]:
    match = _STATUS.fullmatch(line)
    if match is None:
        return "", line
    return match.group(1).upper(), match.group(2)


async def _command(conn: MailConnection, tag: str, command: bytes, *arguments: str) -> tuple[str, str]:
    """Send ``tag command arguments`` and return the tagged status ("OK", "NO", "BAD") and its text.

    Arguments that fit an IMAP quoted string are quoted; others (8-bit text) go as synchronising literals.
    """
    line = tag.encode() + b" " + command
    for argument in arguments:
        if _QUOTABLE.fullmatch(argument):
            escaped = argument.replace("\\", "\\\\").replace('"', '\\"')
            line += b' "' + escaped.encode() + b'"'
            continue
        data = argument.encode()
        await conn.send(line + b" {%d}" % len(data))
        answer = await _continuation(conn, tag)
        if answer is not None:
            return answer
        line = data
    await conn.send(line)
    return await _tagged(conn, tag)


async def _continuation(conn: MailConnection, tag: str) -> tuple[str, str] | None:
    """Wait for "+ go ahead"; None when it came, else the tagged answer that refused the literal."""
    while True:
        line = await conn.read_line()
        if line.startswith("+"):
            return None
        if line.startswith(tag + " "):
            return _tagged_status(line)
        await _skip_literals(conn, line)


async def _tagged(conn: MailConnection, tag: str) -> tuple[str, str]:
    while True:
        line = await conn.read_line()
        if line.startswith(tag + " "):
            return _tagged_status(line)
        if not line.startswith("*"):
            raise ProtocolError(f"Unexpected IMAP response: {excerpt(line)}")
        await _skip_literals(conn, line)


def _tagged_status(line: str) -> tuple[str, str]:
    status, text = _status(line)
    if status not in ("OK", "NO", "BAD"):
        raise ProtocolError(f"Unexpected IMAP response: {excerpt(line)}")
    return status, text


async def _skip_literals(conn: MailConnection, line: str) -> None:
    """An untagged response may carry literals ("* 1 FETCH (BODY {12}"); read past them."""
    while (match := _LITERAL.search(line.encode())) is not None:
        await conn.read_exactly(int(match.group(1)))
        line = await conn.read_line()


def _tls_failure(exc: ssl.SSLError) -> CheckResult:
    if is_certificate_error(exc):
        return CheckResult.down("error", f"SSL cert failed: {tls_reason(exc)}")
    if is_plaintext_peer(exc):
        return CheckResult.down("error", "SSL check on non-ssl port")
    return CheckResult.down("error", f"SSL error: {tls_reason(exc)}")
