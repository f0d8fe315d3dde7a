"""PING: one ICMP echo request; the round-trip time is charted."""

from __future__ import annotations

from prober.base import BoolIsh, CheckParams

NAME = "PING"


class Params(CheckParams):
    ipv6: BoolIsh = False


run = None
