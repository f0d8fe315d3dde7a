"""WEBSOCKET: open a ws:// or wss:// connection; optionally send a message and match the reply."""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import BeforeValidator

from prober.base import BoolIsh, CheckParams, coerce_str

NAME = "WEBSOCKET"


def _message(value: Any) -> Any:
    # A JSON object or array given as the message is sent as its JSON text.
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return coerce_str(value)


class Params(CheckParams):
    data: Annotated[str, BeforeValidator(_message)] | None = None
    """A message to send once connected."""
    contentstring: Annotated[str, BeforeValidator(coerce_str)] | None = None
    """A string expected in the first message received."""
    invert: BoolIsh = False

    @classmethod
    def check_target(cls, target: str) -> str:
        if not target.lower().startswith(("ws://", "wss://")):
            raise ValueError("Target must begin with ws:// or wss://")
        return target


run = None
