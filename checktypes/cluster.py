"""CLUSTER: passes while at least `threshold` of its member checks are passing."""

from __future__ import annotations

from checktypes._common import MemberParams, evaluate_members
from prober.base import CheckContext, CheckResult

NAME = "CLUSTER"
THRESHOLD_IS_TIMEOUT = False
"""``threshold`` is the number of members that must pass, not a timeout."""


class Params(MemberParams):
    pass


async def run(params: Params, ctx: CheckContext) -> CheckResult:
    return evaluate_members(params.data, ctx)
