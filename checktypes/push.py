"""PUSH: passive; results pushed by the monitored host, optionally tested against `fields`."""

from __future__ import annotations

from pydantic import field_validator

from checktypes._common import FieldsMap, reject_match
from prober.base import BoolIsh, CheckParams, FieldSpec, StrIsh

NAME = "PUSH"
PASSIVE = True
"""Results arrive at the push endpoint; the scheduler evaluates lateness instead of running the check."""


class Params(CheckParams):
    TARGET_REQUIRED = False
    SECRET_FIELDS = frozenset({"checktoken"})

    checktoken: StrIsh | None = None
    """Read-only; ``"reset"`` asks the server to generate a new token."""
    fields: FieldsMap | None = None
    """Values of the pushed ``data`` to test (§3.3); none = a pure heartbeat."""
    oldresultfail: BoolIsh = False
    """Also fail when the newest pushed result's own timestamp is older than one interval."""

    @field_validator("fields")
    @classmethod
    def _no_match(cls, value: dict[str, FieldSpec] | None) -> dict[str, FieldSpec] | None:
        return reject_match(value)


run = None
