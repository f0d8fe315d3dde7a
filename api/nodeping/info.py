"""``/api/1/info`` (probes and regions) and ``/api/1/checktypes`` (what this controller can run)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from api.errors import NotFound
from api.nodeping.request import authenticate
from api.services import SERVICES


async def handle_info(request: web.Request, params: dict[str, Any]) -> Any:
    services = request.app[SERVICES]
    await authenticate(request, params, services.store, write=False)
    what = request.match_info.get("id", "")
    code = request.match_info.get("sub", "")
    probes = services.probes
    if what == "probe":
        if code:
            if code not in probes.probes:
                raise NotFound("Unknown probe")
            return probes.probes[code].info()
        return {probe.id: probe.info() for probe in probes.probes.values()}
    if what == "location":
        regions = {
            region: {"locations": [p.id for p in probes.in_region(region)], "regionname": name}
            for region, name in probes.regions.items()
        }
        if code:
            if code not in regions:
                raise NotFound("Unknown region")
            return regions[code]
        return regions
    raise NotFound("Unknown resource")


async def handle_checktypes(request: web.Request, params: dict[str, Any]) -> Any:
    services = request.app[SERVICES]
    await authenticate(request, params, services.store, write=False)
    return {
        check_type.name: {
            "runnable": check_type.runnable,
            "status": "runnable" if check_type.runnable else "accepted, not yet runnable",
            "passive": check_type.passive,
            "description": check_type.description,
            "source": check_type.source,
            "parameters": check_type.schema(),
        }
        for check_type in services.registry
    }
