"""AGENT: a customer-run probe; passes while its heartbeats keep arriving."""

from __future__ import annotations

from prober.base import BoolIsh, CheckParams, StrIsh

NAME = "AGENT"
PASSIVE = True
"""Heartbeats arrive from the AGENT; the scheduler evaluates lateness instead of running the check."""


class Params(CheckParams):
    TARGET_REQUIRED = False
    SECRET_FIELDS = frozenset({"checktoken"})

    checktoken: StrIsh | None = None
    """Read-only; ``"reset"`` asks the server to generate a new token."""
    oldresultfail: BoolIsh = False
    """Also fail when the newest heartbeat's own timestamp is older than one interval."""


run = None
