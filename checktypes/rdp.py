"""RDP: a TCP connect to port 3389 of the target."""

from __future__ import annotations

from prober.base import CheckParams

NAME = "RDP"


class Params(CheckParams):
    pass


run = None
