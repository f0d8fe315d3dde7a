"""POP3: connect (optionally over TLS), read +OK, USER/PASS when credentials are set.

On the wire: the greeting, ``STLS`` when ``secure`` is ``starttls``, ``USER``/``PASS`` when a username is
configured, then ``QUIT``. No message is listed or retrieved.
"""

from __future__ import annotations

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

NAME = "POP3"


class Params(MailboxParams):
    port: Port = 110


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
        return _tls_failure(exc, params.port)
    except OSError as exc:
        return CheckResult.down("error", f"Unable to connect: {connect_reason(exc)}")
    try:
        return await _session(conn, params)
    except ssl.SSLError as exc:
        return _tls_failure(exc, params.port)
    except (OSError, ProtocolError) as exc:
        return CheckResult.down("error", session_error(exc))
    finally:
        conn.close()


async def _session(conn: MailConnection, params: Params) -> CheckResult:
    greeting = await conn.read_line()
    if greeting.startswith("-ERR"):
        return CheckResult.down("error", f"Server refused the connection: {excerpt(greeting[4:].strip())}")
    if not _is_ok(greeting):
        return CheckResult.down("error", f"Unexpected greeting: {excerpt(greeting)}")
    if params.secure == "starttls":
        ok, text = await _command(conn, b"STLS")
        if not ok:
            return CheckResult.down("error", f"STLS failed: {excerpt(text)}")
        await conn.start_tls(params.verify)
    if conn.tls:
        expiring = expiry_failure(conn.certificate(), params.warningdays)
        if expiring is not None:
            return expiring
    result = CheckResult.up("Connected", "Connected")
    if params.username:
        ok, _ = await _command(conn, b"USER " + params.username.encode())
        if ok:
            ok, _ = await _command(conn, b"PASS " + (params.password or "").encode())
        if not ok:
            # The server's text is not shown: it may echo what it was sent.
            return CheckResult.down("Login failure", "Login failure")
        result = CheckResult.up("Login success", "Login success")
    await conn.send(b"QUIT")
    return result


def _is_ok(line: str) -> bool:
    return line.startswith("+OK")


async def _command(conn: MailConnection, line: bytes) -> tuple[bool, str]:
    """Send one command; True with the text after "+OK", or False with the text after "-ERR"."""
    await conn.send(line)
    answer = await conn.read_line()
    if _is_ok(answer):
        return True, answer[3:].strip()
    if answer.startswith("-ERR"):
        return False, answer[4:].strip()
    raise ProtocolError(f"Unexpected POP3 response: {excerpt(answer)}")


def _tls_failure(exc: ssl.SSLError, port: int) -> CheckResult:
    if is_certificate_error(exc):
        return CheckResult.down("error", f"SSL Cert error: {tls_reason(exc)}")
    if is_plaintext_peer(exc):
        return CheckResult.down("error", f"SSL not running on port {port}")
    return CheckResult.down("error", f"SSL error: {tls_reason(exc)}")
