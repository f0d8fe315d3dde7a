"""HTTPCONTENT: HTTP(S) GET; the body must (or, inverted, must not) contain a string or regex."""

from __future__ import annotations

from checktypes import _http
from prober.base import BoolIsh, CheckContext, CheckParams, CheckResult, StrIsh, require_http_url

NAME = "HTTPCONTENT"


class Params(CheckParams):
    contentstring: StrIsh | None = None
    regex: BoolIsh = False
    invert: BoolIsh = False
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
        if not params.contentstring:  # nothing to look for: an HTTP check, body unread
            status = await _http.final_status(url, ctx, follow=params.follow, ipv6=params.ipv6)
            return _http.status_result(status, watch)
        headers = _http.request_headers(ctx)
        async with _http.request(
            url, headers, follow=params.follow, ipv6=params.ipv6, compressed=True
        ) as response:
            status = response.status
            if not 200 <= status <= 398:
                return _http.status_result(status, watch)
            body = await _http.read_body(response)
            text = _http.body_text(response, body)
    except _http.HTTPDown as down:
        return down.result()
    if watch.too_slow():
        return CheckResult.down("Timeout", "Timeout")
    return _http.content_result(status, text, params.contentstring, params.regex, params.invert)
