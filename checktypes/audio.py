"""AUDIO: HTTP(S) audio stream; content type check, optional volume detection."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field, model_validator

from checktypes._common import rename_alias
from prober.base import BoolIsh, CheckParams, coerce_int, require_http_url

NAME = "AUDIO"


class Params(CheckParams):
    ALIASES = frozenset({"volume"})
    verifyvolume: BoolIsh = False
    """Decode a sample of the stream and require a mean volume of at least ``volumemin`` dB."""
    volumemin: Annotated[int, Field(ge=-90, le=0), BeforeValidator(coerce_int)] = -45
    """Minimum mean volume in dB (-90..0). NodePing's field table calls it ``volume``; both are accepted."""

    @model_validator(mode="before")
    @classmethod
    def _volume_alias(cls, data: Any) -> Any:
        return rename_alias(data, "volume", "volumemin")

    @classmethod
    def check_target(cls, target: str) -> str:
        return require_http_url(target)


run = None
