"""MONGODB: connect to a MongoDB URI; optional find() whose results are tested against fields."""

from __future__ import annotations

from checktypes._common import FieldsMap
from prober.base import CheckParams, StrIsh

NAME = "MONGODB"


class Params(CheckParams):
    database: StrIsh | None = None
    namespace: StrIsh | None = None
    """The collection queried."""
    query: StrIsh | None = None
    """A JSON filter for ``find()``; run only when ``database`` and ``namespace`` are set too."""
    queryoptions: StrIsh | None = None
    """JSON ``find()`` options (NodePing AGENT extension)."""
    fields: FieldsMap | None = None
    """Values to test in the results (``match`` allowed)."""


run = None
