"""HTTPADV: HTTP(S) request with method, headers and body; status, header and content checks."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator

from checktypes._common import Headers, StatusCode, upper_enum
from prober.base import BoolIsh, CheckParams, StrIsh, require_http_url

NAME = "HTTPADV"


class Params(CheckParams):
    method: Annotated[
        Literal["GET", "POST", "PUT", "HEAD", "TRACE", "CONNECT", "DELETE"], BeforeValidator(upper_enum)
    ] = "GET"
    statuscode: StatusCode | None = None
    """The exact status expected; absent = any 2xx/3xx."""
    sendheaders: Headers | None = None
    receiveheaders: Headers | None = None
    """Headers the response must carry (name and value compared case-insensitively)."""
    data: Headers | None = None
    """A form body (``application/x-www-form-urlencoded``)."""
    postdata: StrIsh | None = None
    """A raw body, used when ``data`` is empty."""
    contentstring: StrIsh | None = None
    regex: BoolIsh = False
    invert: BoolIsh = False
    follow: BoolIsh = False
    """Follow up to 4 redirects (GET only)."""
    ipv6: BoolIsh = False
    clientcert: StrIsh | None = None
    """Id of a stored client certificate/key for mutual TLS."""

    @classmethod
    def check_target(cls, target: str) -> str:
        return require_http_url(target)


run = None
