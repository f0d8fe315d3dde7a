"""SPEC10RDDS: Specification 10 RDDS (WHOIS/RDAP) aggregate, evaluated like CLUSTER over member checks."""

from __future__ import annotations

from checktypes._common import MemberParams, evaluate_members
from prober.base import CheckContext, CheckResult

NAME = "SPEC10RDDS"
THRESHOLD_IS_TIMEOUT = False
"""``threshold`` is the number of members that must pass, not a timeout."""


class Params(MemberParams):
    pass


async def run(params: Params, ctx: CheckContext) -> CheckResult:
    return evaluate_members(params.data, ctx)
