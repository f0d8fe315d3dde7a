"""Ports on 127.0.0.1 for the down cases of the check-type tests: nobody there, someone who never speaks,
someone who says the wrong thing and hangs up.

Fixtures:

- ``closed_port`` (function): a TCP port that was just bound and released: nothing listens on it.
- ``closed_udp_port`` (function): the same for UDP.
- ``silent_backlog_port`` (module): a listening socket nobody accepts on. The kernel completes TCP
  handshakes (backlog of 8), so a client connects and then waits for a first byte that never comes.
- ``silent_reader_port`` (function): an asyncio server that accepts every connection, reads until the client
  hangs up and never sends a byte.
- ``hangup_port`` (function): not a database: a server that sends ``SSH-2.0-NotADatabase`` and hangs up.
- ``tcp_servers`` (function): ``await tcp_servers(handle, host="127.0.0.1")`` starts one more asyncio
  server running ``handle(reader, writer)`` per connection and returns its port; all close at teardown.

Helpers: ``backlog_listener()`` (the listening socket of ``silent_backlog_port``, as a context manager) and
``tcp_server(handle)`` (one asyncio server, as an async context manager yielding its port).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager

import pytest
import pytest_asyncio

from .common import free_port

HOST = "127.0.0.1"

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
StartServer = Callable[..., Awaitable[int]]
"""``await start(handle, host="127.0.0.1")`` -> the port of a new server (the ``tcp_servers`` fixture)."""


@contextmanager
def backlog_listener(host: str = HOST) -> Iterator[int]:
    """A listening socket on ``host``, port 0, that never accepts; yields its port."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        sock.listen(8)
        yield sock.getsockname()[1]


@asynccontextmanager
async def tcp_server(handle: Handler, host: str = HOST) -> AsyncIterator[int]:
    """An asyncio server on ``host``, port 0, running ``handle`` per connection; yields its port."""
    server = await asyncio.start_server(handle, host, 0)
    async with server:
        yield server.sockets[0].getsockname()[1]


async def read_until_eof(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Never say a word: wait for the client to hang up, then close."""
    await reader.read()
    writer.close()


async def not_a_database(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Send a line of text that no database sends, and hang up."""
    writer.write(b"SSH-2.0-NotADatabase\r\n")
    await writer.drain()
    writer.close()


@pytest.fixture
def closed_port() -> int:
    return free_port()


@pytest.fixture
def closed_udp_port() -> int:
    return free_port(udp=True)


@pytest.fixture(scope="module")
def silent_backlog_port() -> Iterator[int]:
    with backlog_listener() as port:
        yield port


@pytest_asyncio.fixture(loop_scope="function")
async def silent_reader_port() -> AsyncIterator[int]:
    async with tcp_server(read_until_eof) as port:
        yield port


@pytest_asyncio.fixture(loop_scope="function")
async def hangup_port() -> AsyncIterator[int]:
    async with tcp_server(not_a_database) as port:
        yield port


@pytest_asyncio.fixture(loop_scope="function")
async def tcp_servers() -> AsyncIterator[StartServer]:
    servers: list[asyncio.Server] = []

    async def start(handle: Handler, host: str = HOST) -> int:
        server = await asyncio.start_server(handle, host, 0)
        servers.append(server)
        port: int = server.sockets[0].getsockname()[1]
        return port

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()
