"""Helpers shared by the mail check types (SMTP, IMAP4, POP3): connecting, reading lines, TLS wording.

IMAP4 and POP3 speak their protocols over :class:`MailConnection` (asyncio streams); SMTP uses aiosmtplib,
which gets an already connected socket from :func:`connect_socket` so that the A-then-AAAA rule of
check-types.md §2.1 holds for it too.
"""

from __future__ import annotations

import asyncio
import errno
import re
import socket
import ssl
from typing import Any

from cryptography import x509
from pydantic import model_validator

from checktypes._common import NonNegInt, Secure, drop_fields
from checktypes._net import open_connection, os_reason
from checktypes._tls import client_context, peer_certificate
from prober.base import BoolIsh, CheckParams, ConfigError, StrIsh


class MailboxParams(CheckParams):
    """The fields IMAP4 and POP3 share; each adds its default ``port``."""

    IGNORED_FIELDS = frozenset({"email"})
    SECRET_FIELDS = frozenset({"password"})

    secure: Secure = False
    verify: BoolIsh = True
    """Require a valid TLS certificate (with ``secure``)."""
    username: StrIsh | None = None
    password: StrIsh | None = None
    warningdays: NonNegInt | None = None
    """Fail this many days before the TLS certificate expires."""

    @model_validator(mode="before")
    @classmethod
    def _drop_ignored(cls, data: Any) -> Any:
        # nodeping-api sends ``email`` (an SMTP field) on IMAP4 and POP3 checks.
        return drop_fields(data, cls.IGNORED_FIELDS)


MAX_LINE = 2**16
"""Longest protocol line accepted from a server."""

EXCERPT = 200
"""Server text quoted in a result message is cut to this many characters."""

# OpenSSL's reasons when the peer answered a ClientHello with plain text (an SMTP/IMAP/POP3 greeting,
# an HTTP error page): TLS was asked of a port that does not speak it.
_PLAINTEXT_PEER = frozenset(
    {
        "WRONG_VERSION_NUMBER",
        "UNKNOWN_PROTOCOL",
        "HTTP_REQUEST",
        "PACKET_LENGTH_TOO_LONG",
        "RECORD_LAYER_FAILURE",
    }
)


# "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)" -> "wrong version number"
_SSL_TEXT = re.compile(r"\[SSL(?:: [A-Z0-9_]+)?\] (.+?)(?: \(_ssl\.c:\d+\))?")


class ProtocolError(Exception):
    """The server closed the connection or sent something that is not the protocol's answer."""


class MailConnection:
    """A line-oriented client connection, optionally upgraded to TLS."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> None:
        self._reader = reader
        self._writer = writer
        self._host = host

    async def read_line(self) -> str:
        """One line without its CRLF; 8-bit text is decoded as UTF-8 (replacing what does not decode)."""
        try:
            raw = await self._reader.readline()
        except ValueError:  # asyncio's LimitOverrunError, re-raised by readline()
            raise ProtocolError(f"Line longer than {MAX_LINE} bytes from server") from None
        if not raw.endswith(b"\n"):
            raise ProtocolError("Connection closed by server")
        return raw.rstrip(b"\r\n").decode("utf-8", "replace")

    async def read_exactly(self, size: int) -> bytes:
        try:
            return await self._reader.readexactly(size)
        except asyncio.IncompleteReadError:
            raise ProtocolError("Connection closed by server") from None

    async def send(self, line: bytes) -> None:
        """Send one line; CRLF is appended."""
        self._writer.write(line + b"\r\n")
        await self._writer.drain()

    async def start_tls(self, verify: bool) -> None:
        """STARTTLS/STLS: upgrade the connection in place (raises ``ssl.SSLError`` on a bad certificate)."""
        await self._writer.start_tls(client_context(verify), server_hostname=self._host)

    @property
    def tls(self) -> bool:
        return self._writer.get_extra_info("ssl_object") is not None

    def certificate(self) -> x509.Certificate | None:
        return peer_certificate(self._writer.get_extra_info("ssl_object"))

    def close(self) -> None:
        """Hang up now. Buffered data (the LOGOUT/QUIT, a TLS close_notify) is written first when the socket
        takes it at once; nothing waits for the server, so a server that never acknowledges the close cannot
        turn a finished check into a timeout or keep the connection open after the run."""
        self._writer.close()
        self._writer.transport.abort()


async def connect(host: str, port: int, *, implicit_tls: bool, verify: bool) -> MailConnection:
    """Connect (A first, then AAAA); with ``implicit_tls`` the TLS handshake is part of connecting.

    Raises ``socket.gaierror`` (name did not resolve), ``ssl.SSLError`` (TLS failed) or ``OSError``.
    """
    context = client_context(verify) if implicit_tls else None
    reader, writer = await open_connection(
        host, port, ssl_context=context, server_hostname=host, limit=MAX_LINE
    )
    return MailConnection(reader, writer, host)


async def connect_socket(host: str, port: int) -> socket.socket:
    """A connected non-blocking TCP socket: A records first, AAAA only when there is no A record.

    Each address is tried in turn; the last failure is raised (``socket.gaierror`` when nothing resolved).
    """
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, family=socket.AF_INET, type=socket.SOCK_STREAM)
    except socket.gaierror:
        infos = await loop.getaddrinfo(host, port, family=socket.AF_INET6, type=socket.SOCK_STREAM)
    error: OSError | None = None
    for family, kind, proto, _, address in infos:
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            await loop.sock_connect(sock, address)
        except OSError as exc:
            sock.close()
            error = exc
            continue
        except BaseException:
            sock.close()
            raise
        return sock
    raise error or OSError(f"No addresses found for {host}")


# --- wording ----------------------------------------------------------------------------------------


def connect_reason(exc: OSError) -> str:
    """Why a connection could not be made: "Connection refused", "Host unreachable", ..."""
    if exc.errno == errno.EHOSTUNREACH:
        return "Host unreachable"
    return os_reason(exc)


def session_error(exc: OSError | ProtocolError) -> str:
    """Why an established conversation ended early."""
    return str(exc) if isinstance(exc, ProtocolError) else os_reason(exc)


def is_certificate_error(exc: ssl.SSLError) -> bool:
    return isinstance(exc, ssl.SSLCertVerificationError)


def is_plaintext_peer(exc: ssl.SSLError) -> bool:
    """True when TLS was attempted against a port that answered in plain text."""
    return exc.reason in _PLAINTEXT_PEER


def tls_reason(exc: ssl.SSLError) -> str:
    """The reason without OpenSSL's decoration: "self-signed certificate", "wrong version number"."""
    if isinstance(exc, ssl.SSLCertVerificationError) and exc.verify_message:
        return str(exc.verify_message)
    text = str(exc.strerror or exc)
    match = _SSL_TEXT.fullmatch(text)
    return match.group(1) if match else text


def excerpt(text: str) -> str:
    """Server text as quoted in a result message."""
    return text if len(text) <= EXCERPT else text[: EXCERPT - 3] + "..."


def require_single_line(**values: str | None) -> None:
    """Credentials go on a protocol line: CR, LF or NUL in them is a configuration error (never echoed)."""
    for name, value in values.items():
        if value and any(char in value for char in "\r\n\0"):
            raise ConfigError(f"{name} must not contain line breaks or NUL characters")
