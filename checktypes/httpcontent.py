"""HTTPCONTENT: HTTP(S) GET; the body must (or, inverted, must not) contain a string or regex."""

from __future__ import annotations

from prober.base import BoolIsh, CheckParams, StrIsh, require_http_url

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


run = None
