"""PGSQL: connect to a PostgreSQL URI, run `query`, test the rows against fields."""

from __future__ import annotations

from checktypes._common import FieldsMap
from prober.base import BoolIsh, CheckParams, StrIsh

NAME = "PGSQL"


class Params(CheckParams):
    query: StrIsh | None = None
    """Absent = ``SELECT NOW()`` at run time."""
    fields: FieldsMap | None = None
    """Columns to test in the result rows (``match`` allowed)."""
    verify: BoolIsh = False
    """Require a valid TLS certificate (false = do not verify)."""


run = None
