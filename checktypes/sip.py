"""SIP: an OPTIONS request over UDP, TCP, TLS or WebSocket; a reply below 500 passes."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, field_validator

from prober.base import CheckParams, StrIsh, coerce_bool

NAME = "SIP"


def _transport(value: Any) -> Any:
    # nodeping-api sends ``transport: False`` for "the default".
    if coerce_bool(value) is False:
        return "udp"
    return value.strip().lower() if isinstance(value, str) else value


class Params(CheckParams):
    transport: Annotated[Literal["udp", "tcp", "tls", "ws", "wss"], BeforeValidator(_transport)] = "udp"
    ignore: StrIsh | None = None
    """Comma-separated response codes (>= 500) to treat as success."""

    @field_validator("ignore")
    @classmethod
    def _codes(cls, value: str | None) -> str | None:
        if value is None:
            return None
        codes = [part.strip() for part in value.split(",") if part.strip()]
        for code in codes:
            if not (code.isdigit() and 100 <= int(code) <= 699):
                raise ValueError(f"{code!r} is not a SIP response code")
        return ",".join(codes) or None


run = None
