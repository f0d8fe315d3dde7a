"""SNMP: one GET for the configured OIDs, each tested against min/max."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator

from checktypes._common import FieldsMap, reject_match
from prober.base import BoolIsh, CheckParams, FieldSpec, Port, StrIsh

NAME = "SNMP"

_VERSIONS = {"1": "1", "v1": "1", "2": "2c", "2c": "2c", "v2c": "2c", "3": "3", "v3": "3"}


def _snmp_version(value: Any) -> Any:
    # nodeping-api sends the integer 1.
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(int(value)) if float(value).is_integer() else str(value)
    if isinstance(value, str):
        return _VERSIONS.get(value.strip().lower(), value)
    return value


class Params(CheckParams):
    fields: FieldsMap = Field(min_length=1)
    """OIDs to read (``name`` = the OID) and test against ``min``/``max``."""
    snmpv: Annotated[Literal["1", "2c", "3"], BeforeValidator(_snmp_version)] = "1"
    snmpcom: StrIsh = "public"
    """The community string."""
    port: Port = 161
    ipv6: BoolIsh = False

    @field_validator("fields")
    @classmethod
    def _no_match(cls, value: dict[str, FieldSpec]) -> dict[str, FieldSpec]:
        reject_match(value)
        return value


run = None
