"""The controller application: routes, the JSON error middleware and the services' lifetimes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web

from api.accounts import ensure_primary_account
from api.clock import Clock, SystemClock
from api.errors import error_response, json_dumps, json_errors
from api.nodeping.accounts import handle_accounts
from api.nodeping.checks import handle_checks
from api.nodeping.info import handle_checktypes, handle_info
from api.nodeping.request import read_params
from api.nodeping.results import handle_results
from api.probes import load_probes
from api.services import SERVICES, Services, Settings
from api.storage.store import Store
from prober.registry import Registry, load_registry
from prober.worker import ProbeWorker

log = logging.getLogger(__name__)

ResourceHandler = Callable[[web.Request, dict[str, Any]], Awaitable[Any]]
RETENTION_SWEEP_SECONDS = 3600


def nodeping_view(handler: ResourceHandler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def view(request: web.Request) -> web.StreamResponse:
        params = await read_params(request)
        body = await handler(request, params)
        return web.json_response(body, dumps=json_dumps)

    return view


def add_resource(app: web.Application, name: str, handler: ResourceHandler) -> None:
    """``/api/1/<name>[/<id>[/<sub>]]``, trailing slash or not, any verb (``action=`` may override it)."""
    view = nodeping_view(handler)
    for path in (f"/api/1/{name}", f"/api/1/{name}/{{id}}", f"/api/1/{name}/{{id}}/{{sub}}"):
        app.router.add_route("*", path, view)
        app.router.add_route("*", path + "/", view)


async def unknown_resource(request: web.Request) -> web.StreamResponse:
    return error_response("Unknown resource", 404)


async def results_route(request: web.Request, params: dict[str, Any]) -> Any:
    # /results/<checkid>, /results/current, /results/<sub>/<checkid>
    match = request.match_info
    if "sub" in match:
        match_sub, match_id = match["id"], match["sub"]
        request.match_info["id"], request.match_info["sub"] = match_id, match_sub
    elif match.get("id") in ("current",):
        request.match_info["sub"], request.match_info["id"] = match["id"], ""
    return await handle_results(request, params)


async def health(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    return web.json_response(
        {
            "ok": True,
            "checks_scheduled": len(services.scheduler),
            "jobs_waiting": services.bus.pending_jobs(),
            "probe_busy": services.worker.busy if services.worker else 0,
        }
    )


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    registry: Registry | None = None,
    announce: Callable[[str], None] | None = None,
) -> web.Application:
    settings = settings or Settings()
    app = web.Application(middlewares=[json_errors])
    add_resource(app, "checks", handle_checks)
    add_resource(app, "results", results_route)
    add_resource(app, "accounts", handle_accounts)
    add_resource(app, "info", handle_info)
    add_resource(app, "checktypes", handle_checktypes)
    app.router.add_get("/health", health)
    app.router.add_route("*", "/api/{tail:.*}", unknown_resource)

    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        store = await Store.open(settings.database_url)
        services = Services(
            settings=settings,
            store=store,
            registry=registry or load_registry(),
            probes=load_probes(settings.probes_file),
            clock=clock or SystemClock(),
        )
        app[SERVICES] = services
        created = await ensure_primary_account(store, services.clock.now_ms())
        if created and announce:
            announce(created)
        checks = await store.runnable_checks()
        services.consumer.load(checks)
        services.scheduler.load(checks)
        await services.consumer.start()
        if settings.run_probe:
            services.worker = ProbeWorker(
                services.bus,
                services.registry,
                probe_id="local",
                concurrency=settings.probe_concurrency,
                recheck_delay=settings.recheck_delay,
            )
            await services.worker.start()
        await services.scheduler.start()
        sweeper = asyncio.create_task(purge_old_results(services), name="retention")
        log.info("vedette controller ready: %d checks scheduled", len(services.scheduler))
        try:
            yield
        finally:
            # Graceful stop: no new jobs; running checks finish or go back on the bus; all results are stored.
            sweeper.cancel()
            await services.scheduler.stop()
            if services.worker is not None:
                await services.worker.stop(settings.shutdown_grace)
            await services.consumer.stop()
            await asyncio.gather(sweeper, return_exceptions=True)
            await store.close()

    app.cleanup_ctx.append(lifetime)
    return app


async def purge_old_results(services: Services) -> None:
    """Bounded retention: results older than ``retention_days`` are deleted hourly."""
    while True:
        cutoff = services.clock.now_ms() - int(services.settings.retention_days * 86_400_000)
        try:
            purged = await services.store.purge_results(cutoff)
            if purged:
                log.info("purged %d results older than %s days", purged, services.settings.retention_days)
        except Exception:
            log.exception("result retention sweep failed")
        await asyncio.sleep(RETENTION_SWEEP_SECONDS)
