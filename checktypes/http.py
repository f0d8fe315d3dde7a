"""HTTP: GET the URL; status 200-398 passes. Only the status line matters: the body is never read."""

from __future__ import annotations

from checktypes import _http
from prober.base import BoolIsh, CheckContext, CheckParams, CheckResult, require_http_url

NAME = "HTTP"


class Params(CheckParams):
    ipv6: BoolIsh = False
    follow: BoolIsh = False
    """Follow up to 4 redirects."""

    @classmethod
    def check_target(cls, target: str) -> str:
        return require_http_url(target)


async def run(params: Params, ctx: CheckContext) -> CheckResult:
    url = _http.parse_target(ctx.target)
    watch = _http.Stopwatch(ctx)
    try:
        status = await _http.final_status(url, ctx, follow=params.follow, ipv6=params.ipv6)
    except _http.HTTPDown as down:
        return down.result()
    return _http.status_result(status, watch)
