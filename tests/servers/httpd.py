"""In-process HTTP(S), WebSocket and raw TCP/TLS servers for the HTTP-family check-type tests (127.0.0.1).

Fixtures:

- ``web_ca`` (session): a trustme CA that issues the servers' certificates.
- ``web_ca_file`` (session): that CA's certificate as a PEM file (for ``VEDETTE_SSL_CA_FILE``).
- ``base`` (function): the base URL (``http://127.0.0.1:<port>``) of the test module's own ``app`` fixture,
  served for one test.

Servers (async context managers, one server per use, port 0):

- ``serve(app, ssl_context=None, host="127.0.0.1")`` yields the base URL of an aiohttp application.
- ``serve_raw(handle, ssl_context=None)`` yields the port of an asyncio server that runs
  ``handle(reader, writer)`` per connection: canned or malformed HTTP, stalled or silent peers.

Building them:

- ``server_context(ca, *names, not_before=None, not_after=None)`` builds a server TLS context with a
  certificate for ``names`` issued by ``ca``.
- ``recording_app(routes, record=request_headers)`` builds an application serving ``routes`` that appends
  ``await record(request)`` to ``app[SEEN]`` for every request, in order.
- ``redirect_hops`` is the handler for ``/hops/{count}``: ``count`` redirects (302), then "arrived".

Running the checks:

- ``check(kind, target, threshold=5, clock=None, **params)`` runs ``kind`` with the runner's timeout for
  ``threshold``, the user agent ``Vedette/test`` and ``clock`` as the monotonic clock.
- ``stepping_clock()`` is a fake clock that is 2 s later at every reading: every response is "slow".
"""

from __future__ import annotations

import asyncio
import datetime
import os
import shutil
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import pytest_asyncio
import trustme
from aiohttp import web

from prober.base import CheckContext, CheckResult
from prober.registry import CheckType
from prober.runner import run_check, timeout_for

from .common import make_daemon_dir

RawHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

SEEN = web.AppKey("seen", list)
"""What ``recording_app`` recorded of every request the test server received, in order."""


@pytest.fixture(scope="session")
def web_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def web_ca_file(web_ca: trustme.CA) -> Iterator[str]:
    directory = make_daemon_dir("web-ca-")
    path = os.path.join(directory, "ca.pem")
    web_ca.cert_pem.write_to_path(path)
    try:
        yield path
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def server_context(
    ca: trustme.CA,
    *names: str,
    not_before: datetime.datetime | None = None,
    not_after: datetime.datetime | None = None,
) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf = ca.issue_cert(*(names or ("localhost", "127.0.0.1")), not_before=not_before, not_after=not_after)
    leaf.configure_cert(context)
    return context


async def request_headers(request: web.Request) -> dict[str, str]:
    return dict(request.headers)


def recording_app(
    routes: web.RouteTableDef, record: Callable[[web.Request], Awaitable[Any]] = request_headers
) -> web.Application:
    """An application serving ``routes`` that appends ``await record(request)`` to ``app[SEEN]`` first."""

    @web.middleware
    async def recorder(request: web.Request, handler: Any) -> web.StreamResponse:
        request.app[SEEN].append(await record(request))
        response: web.StreamResponse = await handler(request)
        return response

    app = web.Application(middlewares=[recorder])
    app[SEEN] = []
    app.add_routes(routes)
    return app


async def redirect_hops(request: web.Request) -> web.Response:
    count = int(request.match_info["count"])
    if count == 0:
        return web.Response(text="arrived")
    raise web.HTTPFound(f"/hops/{count - 1}")


@asynccontextmanager
async def serve(
    app: web.Application, ssl_context: ssl.SSLContext | None = None, host: str = "127.0.0.1"
) -> AsyncIterator[str]:
    """Serve ``app`` on ``host``, port 0; yield its base URL (``http(s)://host:port``)."""
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=0.1)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, 0, ssl_context=ssl_context)
        await site.start()
        port = runner.addresses[0][1]
        shown = f"[{host}]" if ":" in host else host
        yield f"{'https' if ssl_context else 'http'}://{shown}:{port}"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def serve_raw(handle: RawHandler, ssl_context: ssl.SSLContext | None = None) -> AsyncIterator[int]:
    """An asyncio server on 127.0.0.1 running ``handle`` per connection; yields the port."""
    tasks: set[asyncio.Task[None]] = set()

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await handle(reader, writer)
        except (OSError, asyncio.IncompleteReadError):
            pass  # the client went away: that is what monitoring clients do
        finally:
            tasks.discard(task)
            writer.transport.abort()

    server = await asyncio.start_server(connection, "127.0.0.1", 0, ssl=ssl_context)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """The request head (up to and including the blank line)."""
    return await reader.readuntil(b"\r\n\r\n")


@pytest_asyncio.fixture(loop_scope="function")
async def base(app: web.Application) -> AsyncIterator[str]:
    async with serve(app) as url:
        yield url


async def check(
    kind: CheckType, target: str, threshold: int = 5, clock: Any = None, **params: Any
) -> CheckResult:
    ctx = CheckContext(
        target=target,
        threshold=threshold,
        timeout=timeout_for(kind, threshold),
        user_agent="Vedette/test",
        monotonic=clock,
    )
    return await run_check(kind, params, ctx)


def stepping_clock() -> Callable[[], float]:
    ticks = iter(range(0, 100, 2))
    return lambda: float(next(ticks))
