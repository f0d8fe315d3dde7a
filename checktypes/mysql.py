"""MYSQL: MySQL protocol connect; with `database`, run `query` and test the rows against fields."""

from __future__ import annotations

from checktypes._common import FieldsMap, Secure
from prober.base import BoolIsh, CheckParams, Port, StrIsh

NAME = "MYSQL"


class Params(CheckParams):
    SECRET_FIELDS = frozenset({"password"})

    port: Port = 3306
    username: StrIsh | None = None
    password: StrIsh | None = None
    secure: Secure = False
    ipv6: BoolIsh = False
    database: StrIsh | None = None
    query: StrIsh | None = None
    """Absent = ``SELECT NOW()`` at run time."""
    fields: FieldsMap | None = None
    """Columns to test in the result rows (``match`` allowed)."""


run = None
