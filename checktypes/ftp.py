"""FTP: connect and log in (anonymous without credentials); optional file lookup."""

from __future__ import annotations

from typing import Any

from pydantic import model_validator

from checktypes._common import rename_alias
from prober.base import BoolIsh, CheckParams, Port, StrIsh

NAME = "FTP"


class Params(CheckParams):
    ALIASES = frozenset({"conteststring"})
    SECRET_FIELDS = frozenset({"password"})

    port: Port = 21
    username: StrIsh | None = None
    password: StrIsh | None = None
    contentstring: StrIsh | None = None
    """A path (file name) that must exist after login."""
    invert: BoolIsh = False

    @model_validator(mode="before")
    @classmethod
    def _typo_alias(cls, data: Any) -> Any:
        # NodePing's field table spells it "conteststring".
        return rename_alias(data, "conteststring", "contentstring")


run = None
