"""The schema, shared by SQLite and PostgreSQL. Times are integers in ms since the epoch (UTC).

Changes to this file need an Alembic revision in ``api/storage/migrations/versions``.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("parent_id", String(32), ForeignKey("accounts.id", ondelete="CASCADE"), nullable=True, index=True),
    Column("name", String(200), nullable=False, default=""),
    Column("status", String(16), nullable=False, default="Active"),
    Column("timezone", String(16), nullable=False, default="0"),
    Column("default_locations", JSON, nullable=False, default=list),
    Column("settings", JSON, nullable=False, default=dict),
    Column("created", BigInteger, nullable=False),
)

tokens = Table(
    "tokens",
    metadata,
    # Only a SHA-256 of the token is stored; the token itself is shown once, when created.
    Column("digest", String(64), primary_key=True),
    Column("prefix", String(8), nullable=False),
    Column(
        "account_id", String(32), ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("access", String(2), nullable=False),  # "rw" or "ro"
    Column("label", String(200), nullable=False, default=""),
    Column("created", BigInteger, nullable=False),
)

checks = Table(
    "checks",
    metadata,
    Column("id", String(48), primary_key=True),
    Column(
        "account_id", String(32), ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("type", String(16), nullable=False),
    Column("label", String(500), nullable=False, default=""),
    Column("interval", Float, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("acctdisable", Boolean, nullable=False, default=False),
    Column("public", Boolean, nullable=False, default=False),
    Column("autodiag", Boolean, nullable=False, default=False),
    # target, threshold, sens and the type-specific fields, as the API returns them under "parameters".
    Column("parameters", JSON, nullable=False),
    Column("runlocations", JSON, nullable=True),
    Column("homeloc", JSON, nullable=True),
    Column("dep", String(48), nullable=True),
    Column("mute", JSON, nullable=True),
    Column("description", Text, nullable=False, default=""),
    Column("tags", JSON, nullable=False, default=list),
    Column("notifications", JSON, nullable=False, default=list),
    Column("rev", Integer, nullable=False, default=1),
    Column("queue", String(16), nullable=False),
    Column("uuid", String(40), nullable=False),
    Column("created", BigInteger, nullable=False),
    Column("modified", BigInteger, nullable=False),
)

# What the pipeline writes; kept apart from ``checks`` so a result never bumps the check's revision.
check_state = Table(
    "check_state",
    metadata,
    Column("check_id", String(48), ForeignKey("checks.id", ondelete="CASCADE"), primary_key=True),
    Column("state", Integer, nullable=True),
    Column("firstdown", BigInteger, nullable=True),
    Column("last_run", BigInteger, nullable=True),
)

results = Table(
    "results",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("check_id", String(48), ForeignKey("checks.id", ondelete="CASCADE"), nullable=False),
    Column("account_id", String(32), nullable=False),
    Column("type", String(16), nullable=False),
    Column("target", Text, nullable=False, default=""),
    Column("threshold", Integer, nullable=False),
    Column("interval", Float, nullable=False),
    Column("scheduled", BigInteger, nullable=False),
    Column("queue", String(16), nullable=False, default=""),
    Column("start", BigInteger, nullable=False),
    Column("end", BigInteger, nullable=False),
    Column("rt", Float, nullable=False),
    Column("success", Boolean, nullable=False),
    Column("code", String(200), nullable=False),
    Column("message", Text, nullable=False),
    Column("locations", JSON, nullable=False),
    Column("fieldtracking", JSON, nullable=True),
    Column("diag", JSON, nullable=True),
    Index("ix_results_check_start", "check_id", "start"),
    Index("ix_results_start", "start"),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("check_id", String(48), ForeignKey("checks.id", ondelete="CASCADE"), nullable=False),
    Column("account_id", String(32), nullable=False, index=True),
    Column("type", String(16), nullable=False),  # "down" or "disabled"
    Column("start", BigInteger, nullable=False),
    Column("end", BigInteger, nullable=True),
    Column("code", String(200), nullable=False, default=""),
    Column("message", Text, nullable=False, default=""),
    Column("muted", Boolean, nullable=False, default=False),
    Index("ix_events_check_start", "check_id", "start"),
)
