"""CLUSTER: passes while at least `threshold` of its member checks are passing."""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator

from checktypes._common import MemberFlag, evaluate_members, keep_members
from prober.base import CheckContext, CheckParams, CheckResult

NAME = "CLUSTER"
THRESHOLD_IS_TIMEOUT = False
"""``threshold`` is the number of members that must pass, not a timeout."""


class Params(CheckParams):
    TARGET_REQUIRED = False

    data: dict[str, MemberFlag]
    """Member checks: ``{"<check id>": "1"}``; ``"0"`` entries (removals) are dropped."""

    @field_validator("data")
    @classmethod
    def _members(cls, value: dict[str, Literal["1", "0"]]) -> dict[str, Literal["1", "0"]]:
        return keep_members(value)


async def run(params: Params, ctx: CheckContext) -> CheckResult:
    return evaluate_members(params.data, ctx)
