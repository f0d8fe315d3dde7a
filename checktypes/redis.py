"""REDIS: connect (standalone, sentinel or cluster) and run a command (default INFO)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator

from checktypes._common import lower_enum
from prober.base import BoolIsh, CheckParams, Port, StrIsh

NAME = "REDIS"


class RedisHost(BaseModel):
    """One sentinel or cluster node."""

    model_config = ConfigDict(extra="forbid")

    host: StrIsh = Field(min_length=1)
    port: Port = 6379
    password: StrIsh | None = None


def _hosts_list(value: Any) -> Any:
    # nodeping-api sends ``hosts: []``; a list of host objects is keyed by its index.
    if isinstance(value, list):
        return {str(index): host for index, host in enumerate(value)} or None
    return value


class Params(CheckParams):
    SECRET_FIELDS = frozenset({"hosts"})
    """The hosts map carries node passwords."""

    redistype: Annotated[Literal["standalone", "sentinel", "cluster"], BeforeValidator(lower_enum)] = (
        "standalone"
    )
    hosts: Annotated[dict[str, RedisHost] | None, BeforeValidator(_hosts_list)] = None
    """Sentinels (``sentinel``) or nodes (``cluster``): ``{"<key>": {"host", "port"?, "password"?}}``."""
    sentinelname: StrIsh | None = None
    """The sentinel "master-name"; required when ``redistype`` is ``sentinel``."""
    query: StrIsh | None = None
    """Absent = ``INFO`` at run time."""
    clientcert: StrIsh | None = None
    """Id of a stored client certificate/key for TLS."""
    oldresultfail: BoolIsh = False

    @field_validator("sentinelname")
    @classmethod
    def _sentinel_needs_name(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and info.data.get("redistype") == "sentinel":
            raise ValueError("required when redistype is sentinel")
        return value


run = None
