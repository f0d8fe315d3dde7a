"""MTR: an MTR trace to the target; fails when the target hop's packet loss exceeds `threshold` %."""

from __future__ import annotations

from prober.base import BoolIsh, CheckParams

NAME = "MTR"
THRESHOLD_IS_TIMEOUT = False
"""``threshold`` is the maximum packet loss in percent, not a timeout."""


class Params(CheckParams):
    ipv6: BoolIsh = False


run = None
