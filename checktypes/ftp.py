"""FTP: connect and log in (anonymous without credentials); optional banner match and FTPS.

On the wire: connect, read the 220 greeting (the banner), upgrade to TLS with ``AUTH TLS`` when ``secure``
asks for explicit FTPS, log in with ``USER``/``PASS``, then ``QUIT``. Only the control channel is used.

Pass / fail (check-types.md §4 FTP):

- without ``username`` ("port check" mode) the login is ``anonymous`` / ``anonymous@vedette.invalid``; a
  refused login still passes (``sc = "Connected"``, ``m = "FTP connected but login failed"``), an
  accepted one passes as ``Logged in``;
- with ``username`` (``password`` may be empty) the login must succeed, otherwise the run fails with
  ``m = "Failed: <server reply>"`` and ``sc`` the FTP reply code. A ``password`` without a ``username``
  is ignored;
- every other failure is ``m = "Failed: <reason>"`` (``Failed: Connection refused``, ``Failed: Connection
  closed by server``, ``Failed: TLS error: ...``), except name resolution errors, which use the shared
  wording (``No DNS resolution for <host>``).

``contentstring`` (decision for the "Check types, services" issue, which supersedes the spec's "a file to
list"): a substring that must appear in the greeting banner, e.g. ``vsFTPd 3.0``. Found → ``sc = "Found"``,
not found → fail ``sc = "Not found"``; ``invert`` swaps only this content outcome (a failed login with
credentials stays a failure). The match is made after the login, so with credentials both must pass.

``secure`` (a Vedette addition; NodePing's FTP has no TLS option): ``explicit`` (also sent as ``true``,
``ssl``, ``tls``, ``starttls``) upgrades the plain connection with ``AUTH TLS`` before the login;
``implicit`` speaks TLS from the first byte (port 990 unless ``port`` is given). ``verify`` (default
true, as for IMAP4/POP3/SMTP) requires a valid certificate for the target host name.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, field_validator, model_validator

from checktypes._common import rename_alias
from checktypes._net import open_connection, os_reason, resolution_message
from checktypes._tls import client_context
from prober.base import (
    BoolIsh,
    CheckContext,
    CheckParams,
    CheckResult,
    ConfigError,
    Port,
    StrIsh,
    coerce_bool,
)

NAME = "FTP"

ANONYMOUS_USER = "anonymous"
ANONYMOUS_PASSWORD = "anonymous@vedette.invalid"
IMPLICIT_TLS_PORT = 990

MAX_LINE_BYTES = 8192
MAX_REPLY_LINES = 500
"""A multi-line reply longer than this is not a reply from a sane FTP server."""

_EXPLICIT = frozenset({"explicit", "starttls", "ssl", "tls", "ftps"})


def _coerce_secure(value: Any) -> Any:
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered == "implicit":
            return "implicit"
        if lowered in _EXPLICIT:
            return "explicit"
    coerced = coerce_bool(value)
    return "explicit" if coerced is True else coerced


FtpSecure = Annotated[Literal[False, "explicit", "implicit"], BeforeValidator(_coerce_secure)]
"""``False`` (plain FTP), ``"explicit"`` (AUTH TLS; also ``true``/``ssl``/``tls``) or ``"implicit"``."""


class Params(CheckParams):
    ALIASES = frozenset({"conteststring"})
    SECRET_FIELDS = frozenset({"password"})

    port: Port = 21
    username: StrIsh | None = None
    password: StrIsh | None = None
    contentstring: StrIsh | None = None
    """A string that must appear in the server's greeting banner."""
    invert: BoolIsh = False
    secure: FtpSecure = False
    verify: BoolIsh = True

    @model_validator(mode="before")
    @classmethod
    def _typo_alias(cls, data: Any) -> Any:
        # NodePing's field table spells it "conteststring".
        return rename_alias(data, "conteststring", "contentstring")

    @field_validator("username", "password")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        if value is not None and ("\r" in value or "\n" in value):
            raise ValueError("must not contain line breaks")
        return value

    @model_validator(mode="after")
    def _implicit_tls_port(self) -> Params:
        if self.secure == "implicit" and "port" not in self.model_fields_set:
            self.port = IMPLICIT_TLS_PORT
        return self


class _Closed(Exception):
    """The server closed the control connection."""


class _BadReply(Exception):
    """Something that is not an FTP reply."""


class _Control:
    """The FTP control channel: send a command, read a (possibly multi-line) reply."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def command(self, line: str) -> tuple[int, str]:
        self.writer.write(line.encode("utf-8") + b"\r\n")
        await self.writer.drain()
        return await self.reply()

    async def reply(self) -> tuple[int, str]:
        """``(code, text)``; ``text`` is the reply's lines, codes included, joined by newlines."""
        first = await self._line()
        if len(first) < 3 or not first[:3].isdigit() or first[3:4] not in ("", " ", "-"):
            raise _BadReply(f"Unexpected reply: {first[:100]}")
        code = first[:3]
        lines = [first]
        if first[3:4] == "-":
            while True:
                line = await self._line()
                lines.append(line)
                if line == code or line.startswith(code + " "):
                    break
                if len(lines) > MAX_REPLY_LINES:
                    raise _BadReply("Reply too long")
        return int(code), "\n".join(lines)

    async def _line(self) -> str:
        try:
            raw = await self.reader.readuntil(b"\n")
        except asyncio.IncompleteReadError:
            raise _Closed from None
        except asyncio.LimitOverrunError:
            raise _BadReply("Reply line too long") from None
        return raw.decode("utf-8", errors="replace").rstrip("\r\n")


async def run(params: Params, ctx: CheckContext) -> CheckResult:
    if not ctx.target:
        raise ConfigError("Missing target")
    tls = client_context(params.verify) if params.secure else None
    try:
        reader, writer = await open_connection(
            ctx.target,
            params.port,
            ssl_context=tls if params.secure == "implicit" else None,
            server_hostname=ctx.target,
            limit=MAX_LINE_BYTES,
        )
    except socket.gaierror as exc:
        return CheckResult.down("error", resolution_message(ctx.target, exc))
    except OSError as exc:
        return CheckResult.down("error", f"Failed: {_describe(exc)}")
    try:
        return await _session(params, ctx, _Control(reader, writer), tls)
    except _Closed:
        return CheckResult.down("error", "Failed: Connection closed by server")
    except _BadReply as exc:
        return CheckResult.down("error", f"Failed: {exc}")
    except OSError as exc:
        return CheckResult.down("error", f"Failed: {_describe(exc)}")
    finally:
        writer.close()


async def _session(
    params: Params, ctx: CheckContext, control: _Control, tls: ssl.SSLContext | None
) -> CheckResult:
    code, banner = await control.reply()
    while code == 120:  # "service ready in nnn minutes": the 220 follows
        code, banner = await control.reply()
    if code != 220:
        return CheckResult.down(code, f"Failed: {banner}")

    if params.secure == "explicit" and tls is not None:
        code, text = await control.command("AUTH TLS")
        if code != 234:
            return CheckResult.down(code, f"Failed: AUTH TLS refused: {text}")
        await control.writer.start_tls(tls, server_hostname=ctx.target)

    login_required = bool(params.username)
    user = params.username or ANONYMOUS_USER
    password = (params.password or "") if login_required else ANONYMOUS_PASSWORD
    try:
        code, text = await control.command(f"USER {user}")
        if code == 331:
            code, text = await control.command(f"PASS {password}")
    except _Closed:
        if login_required:
            raise
        code, text = 421, "Connection closed by server"
    logged_in = 200 <= code < 300
    if logged_in:
        control.writer.write(b"QUIT\r\n")  # polite; the reply is not awaited
    if login_required and not logged_in:
        return CheckResult.down(code, f"Failed: {text}")

    content = _content_result(params, banner)
    if content is not None:
        return content
    if logged_in:
        return CheckResult.up("Logged in", f"Logged in as {user}")
    return CheckResult.up("Connected", "FTP connected but login failed")


def _content_result(params: Params, banner: str) -> CheckResult | None:
    if not params.contentstring:
        return None
    if params.contentstring in banner:
        result = CheckResult.up("Found", "Found content string in banner")
    else:
        result = CheckResult.down("Not found", "Content string not found in banner")
    return result.inverted(params.invert)


def _describe(exc: OSError) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS error: certificate verify failed: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc}"
    if isinstance(exc, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
        return "Connection closed by server"
    return os_reason(exc)
