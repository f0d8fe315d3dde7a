"""NTP: one SNTP request over UDP; a time reply passes (inverted: must not answer)."""

from __future__ import annotations

from prober.base import BoolIsh, CheckParams, Port

NAME = "NTP"


class Params(CheckParams):
    port: Port = 123
    invert: BoolIsh = False


run = None
