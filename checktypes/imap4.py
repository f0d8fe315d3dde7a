"""IMAP4: connect (optionally over TLS), read the greeting, LOGIN when credentials are set."""

from __future__ import annotations

from typing import Any

from pydantic import model_validator

from checktypes._common import NonNegInt, Secure, drop_fields
from prober.base import BoolIsh, CheckParams, Port, StrIsh

NAME = "IMAP4"


class Params(CheckParams):
    IGNORED_FIELDS = frozenset({"email"})
    SECRET_FIELDS = frozenset({"password"})

    port: Port = 143
    secure: Secure = False
    verify: BoolIsh = True
    """Require a valid TLS certificate (with ``secure``)."""
    username: StrIsh | None = None
    password: StrIsh | None = None
    warningdays: NonNegInt | None = None
    """Fail this many days before the TLS certificate expires."""

    @model_validator(mode="before")
    @classmethod
    def _drop_ignored(cls, data: Any) -> Any:
        # nodeping-api sends ``email`` (an SMTP field) on IMAP4 and POP3 checks.
        return drop_fields(data, cls.IGNORED_FIELDS)


run = None
