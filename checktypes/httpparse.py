"""HTTPPARSE: HTTP(S) GET of JSON (or `key: number` text); tests the configured fields."""

from __future__ import annotations

from pydantic import Field, field_validator

from checktypes._common import FieldsMap, Headers, reject_match
from prober.base import BoolIsh, CheckParams, FieldSpec, require_http_url

NAME = "HTTPPARSE"


class Params(CheckParams):
    fields: FieldsMap = Field(min_length=1)
    """Values to extract (flattened JSON paths) and test against ``min``/``max``."""
    sendheaders: Headers | None = None
    ipv6: BoolIsh = False

    @field_validator("fields")
    @classmethod
    def _no_match(cls, value: dict[str, FieldSpec]) -> dict[str, FieldSpec]:
        reject_match(value)
        return value

    @classmethod
    def check_target(cls, target: str) -> str:
        return require_http_url(target)


run = None
