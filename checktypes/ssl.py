"""SSL: TLS handshake with SNI; certificate trust, name match and expiry."""

from __future__ import annotations

from urllib.parse import urlsplit

from checktypes._common import NonNegInt
from prober.base import CheckParams, StrIsh

NAME = "SSL"


class Params(CheckParams):
    warningdays: NonNegInt | None = None
    """Fail this many days before the certificate expires."""
    servername: StrIsh | None = None
    """The SNI name (and the name the certificate must match); absent = the target host."""

    @classmethod
    def check_target(cls, target: str) -> str:
        if "://" in target:
            if not target.lower().startswith("https://"):
                raise ValueError("Target must be a host name or begin with https://")
            try:
                host = urlsplit(target).hostname
            except ValueError:
                host = None
            if not host:
                raise ValueError("Target must include a host name")
        elif not target.strip():
            raise ValueError("Target must include a host name")
        return target


run = None
