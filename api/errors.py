"""Controller errors. Every HTTP error leaves through ``json_errors``, always as JSON.

ApiError                 - a client error with a message for the client (400 by default)
├── NotFound             - 404, e.g. "Unable to find that check"
├── Forbidden            - 403: bad token, read-only token on a write, foreign customerid
└── Conflict             - 409: throttled
Any other exception      - 500 {"error": "Internal error"}; the traceback goes to the log, never to clients
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

log = logging.getLogger(__name__)


class ApiError(Exception):
    status = 400

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class NotFound(ApiError):
    status = 404


class Forbidden(ApiError):
    status = 403


class Conflict(ApiError):
    status = 409


def error_response(message: str, status: int) -> web.Response:
    return web.json_response({"error": message}, status=status)


def json_dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.message, exc.status)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = "Unknown resource" if exc.status == 404 else exc.reason
        return error_response(message, exc.status)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response("Internal error", 500)
