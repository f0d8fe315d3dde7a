"""SMTP: banner, EHLO, optional STARTTLS/AUTH/RCPT TO."""

from __future__ import annotations

from checktypes._common import NonNegInt, Secure
from prober.base import BoolIsh, CheckParams, Port, StrIsh

NAME = "SMTP"


class Params(CheckParams):
    SECRET_FIELDS = frozenset({"password"})

    port: Port = 25
    secure: Secure = False
    """``ssl`` (also sent as ``tls``/``true``): implicit TLS; ``starttls``: plain, then STARTTLS."""
    verify: BoolIsh = True
    """Require a valid TLS certificate."""
    username: StrIsh | None = None
    password: StrIsh | None = None
    email: StrIsh | None = None
    """A recipient to test with ``RCPT TO``."""
    invert: BoolIsh = False
    warningdays: NonNegInt | None = None
    """Fail this many days before the TLS certificate expires."""


run = None
