"""RBL: looks the target's IP up in DNS blocklists; any listing fails."""

from __future__ import annotations

from prober.base import BoolIsh, CheckParams, StrIsh

NAME = "RBL"


class Params(CheckParams):
    ignore: StrIsh | None = None
    """Comma-separated blocklist names to skip (an entry containing ``spamhaus`` skips zen.spamhaus.org)."""
    ipv6: BoolIsh = False


run = None
