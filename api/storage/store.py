"""The query layer: every read and write the controller makes, on SQLite or PostgreSQL alike."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import secrets
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, delete, event, func, insert, or_, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from api.storage import tables as t
from api.storage.migrate import upgrade_to_head

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///vedette.db"

Row = dict[str, Any]


def normalise_database_url(url: str) -> str:
    """Accept the plain driver names users type (``postgresql://``, ``sqlite:///``)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    elif parsed.drivername == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    return parsed.render_as_string(hide_password=False)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_hex(16).upper()


@dataclass(frozen=True)
class TokenInfo:
    account_id: str
    access: str  # "rw" | "ro"

    @property
    def writable(self) -> bool:
        return self.access == "rw"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


class Store:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        # SQLite has one writer at a time; waiting here, in order, beats SQLite's busy-handler backoff
        # (which made concurrent API writes and result batches take up to seconds).
        self._write_lock = asyncio.Lock() if engine.dialect.name == "sqlite" else None

    @contextlib.asynccontextmanager
    async def _begin(self) -> AsyncIterator[AsyncConnection]:
        if self._write_lock is None:
            async with self.engine.begin() as conn:
                yield conn
        else:
            async with self._write_lock, self.engine.begin() as conn:
                yield conn

    @classmethod
    async def open(cls, url: str = DEFAULT_DATABASE_URL, *, migrate: bool = True) -> Store:
        url = normalise_database_url(url)
        kwargs: dict[str, Any] = {}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
        engine = create_async_engine(url, **kwargs)
        if engine.dialect.name == "sqlite":
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        if migrate:
            await upgrade_to_head(engine)
        return cls(engine)

    async def close(self) -> None:
        await self.engine.dispose()

    # --- accounts and tokens ---------------------------------------------------------------------

    async def create_account(self, row: Row) -> None:
        async with self._begin() as conn:
            await conn.execute(insert(t.accounts).values(**row))

    async def get_account(self, account_id: str) -> Row | None:
        async with self.engine.connect() as conn:
            found = (await conn.execute(select(t.accounts).where(t.accounts.c.id == account_id))).first()
        return dict(found._mapping) if found else None

    async def primary_accounts(self) -> list[Row]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(t.accounts).where(t.accounts.c.parent_id.is_(None)))
        return [dict(r._mapping) for r in rows]

    async def subaccounts(self, parent_id: str) -> list[Row]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(t.accounts).where(t.accounts.c.parent_id == parent_id).order_by(t.accounts.c.created)
            )
        return [dict(r._mapping) for r in rows]

    async def update_account(self, account_id: str, values: Mapping[str, Any]) -> None:
        async with self._begin() as conn:
            await conn.execute(update(t.accounts).where(t.accounts.c.id == account_id).values(**values))

    async def delete_account(self, account_id: str) -> None:
        async with self._begin() as conn:
            await conn.execute(delete(t.accounts).where(t.accounts.c.id == account_id))

    async def create_token(self, account_id: str, access: str, label: str, now: int) -> str:
        if access not in ("rw", "ro"):
            raise ValueError("access must be rw or ro")
        token = new_token()
        async with self._begin() as conn:
            await conn.execute(
                insert(t.tokens).values(
                    digest=token_digest(token),
                    prefix=token[:8],
                    account_id=account_id,
                    access=access,
                    label=label,
                    created=now,
                )
            )
        return token

    async def authenticate(self, token: str) -> TokenInfo | None:
        async with self.engine.connect() as conn:
            found = (
                await conn.execute(
                    select(t.tokens.c.account_id, t.tokens.c.access).where(
                        t.tokens.c.digest == token_digest(token)
                    )
                )
            ).first()
        return TokenInfo(found.account_id, found.access) if found else None

    async def list_tokens(self, account_id: str | None = None) -> list[Row]:
        query = select(
            t.tokens.c.prefix, t.tokens.c.account_id, t.tokens.c.access, t.tokens.c.label, t.tokens.c.created
        ).order_by(t.tokens.c.created)
        if account_id is not None:
            query = query.where(t.tokens.c.account_id == account_id)
        async with self.engine.connect() as conn:
            return [dict(r._mapping) for r in await conn.execute(query)]

    async def revoke_token(self, prefix_or_token: str) -> int:
        """Revoke by the token itself or by its 8-character prefix (as ``token list`` shows it)."""
        condition = or_(
            t.tokens.c.digest == token_digest(prefix_or_token), t.tokens.c.prefix == prefix_or_token
        )
        async with self._begin() as conn:
            return (await conn.execute(delete(t.tokens).where(condition))).rowcount

    # --- checks ----------------------------------------------------------------------------------

    async def insert_check(self, row: Row) -> None:
        async with self._begin() as conn:
            await conn.execute(insert(t.checks).values(**row))
            await conn.execute(insert(t.check_state).values(check_id=row["id"]))

    async def update_checks(
        self, changes: Sequence[tuple[str, Mapping[str, Any]]], events: Iterable[Row] = ()
    ) -> None:
        """Apply several check updates (and the disabled events they open or close) in one transaction."""
        async with self._begin() as conn:
            for check_id, values in changes:
                await conn.execute(update(t.checks).where(t.checks.c.id == check_id).values(**values))
            await _write_events(conn, events)

    async def delete_check(self, account_id: str, check_id: str) -> bool:
        async with self._begin() as conn:
            deleted = await conn.execute(
                delete(t.checks).where(t.checks.c.id == check_id, t.checks.c.account_id == account_id)
            )
            if not deleted.rowcount:
                return False
            # Dependents lose their dependency rather than pointing at nothing (nodeping-api.md §6.7).
            await conn.execute(update(t.checks).where(t.checks.c.dep == check_id).values(dep=None))
            for table in (t.check_state, t.results, t.events):
                await conn.execute(delete(table).where(table.c.check_id == check_id))
        return True

    def _checks_query(self) -> Any:
        return select(
            t.checks, t.check_state.c.state, t.check_state.c.firstdown, t.check_state.c.last_run
        ).select_from(t.checks.outerjoin(t.check_state, t.check_state.c.check_id == t.checks.c.id))

    async def get_checks(self, account_id: str, ids: Sequence[str] | None = None) -> list[Row]:
        query = self._checks_query().where(t.checks.c.account_id == account_id)
        if ids is not None:
            query = query.where(t.checks.c.id.in_(list(ids)))
        async with self.engine.connect() as conn:
            rows = await conn.execute(query.order_by(t.checks.c.created, t.checks.c.id))
        return [dict(r._mapping) for r in rows]

    async def get_check(self, check_id: str) -> Row | None:
        async with self.engine.connect() as conn:
            found = (await conn.execute(self._checks_query().where(t.checks.c.id == check_id))).first()
        return dict(found._mapping) if found else None

    async def check_exists(self, account_id: str, check_id: str) -> bool:
        async with self.engine.connect() as conn:
            found = await conn.execute(
                select(t.checks.c.id).where(t.checks.c.id == check_id, t.checks.c.account_id == account_id)
            )
            return found.first() is not None

    async def runnable_checks(self) -> list[Row]:
        """Every check the scheduler should know about: enabled and not disabled by ``disableall``."""
        query = self._checks_query().where(t.checks.c.enabled.is_(True), t.checks.c.acctdisable.is_(False))
        async with self.engine.connect() as conn:
            return [dict(r._mapping) for r in await conn.execute(query)]

    async def states(self, check_ids: Iterable[str]) -> dict[str, int | None]:
        ids = list(set(check_ids))
        if not ids:
            return {}
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(t.check_state.c.check_id, t.check_state.c.state).where(
                    t.check_state.c.check_id.in_(ids)
                )
            )
            return {r.check_id: r.state for r in rows}

    async def count_checks(self, account_id: str) -> int:
        async with self.engine.connect() as conn:
            found = await conn.execute(select(func.count()).where(t.checks.c.account_id == account_id))
            return int(found.scalar_one())

    # --- results, state and events (written by the result consumer) ------------------------------

    async def record_outcomes(self, outcomes: Sequence[Row]) -> None:
        """Store a batch of finalised results with their state changes and events, in one transaction.

        Each outcome: ``result`` (a results row), ``state`` (check_state values) and ``events``
        (rows to insert, or to close when they carry an ``id``).
        """
        if not outcomes:
            return
        async with self._begin() as conn:
            existing = await conn.execute(
                select(t.checks.c.id).where(t.checks.c.id.in_({o["result"]["check_id"] for o in outcomes}))
            )
            alive = {r.id for r in existing}
            kept = [o for o in outcomes if o["result"]["check_id"] in alive]  # deleted while running
            if not kept:
                return
            await conn.execute(insert(t.results), [o["result"] for o in kept])
            await conn.execute(
                update(t.check_state)
                .where(t.check_state.c.check_id == bindparam("b_check_id"))
                .values(
                    state=bindparam("b_state"),
                    firstdown=bindparam("b_firstdown"),
                    last_run=bindparam("b_last_run"),
                ),
                [
                    {"b_check_id": o["result"]["check_id"], **{f"b_{k}": v for k, v in o["state"].items()}}
                    for o in kept
                ],
            )
            for outcome in kept:
                await _write_events(conn, outcome["events"])

    async def open_events(
        self, check_ids: Iterable[str] | None = None, account_id: str | None = None
    ) -> list[Row]:
        query = select(t.events).where(t.events.c.end.is_(None))
        if check_ids is not None:
            query = query.where(t.events.c.check_id.in_(list(check_ids)))
        if account_id is not None:
            query = query.where(t.events.c.account_id == account_id)
        async with self.engine.connect() as conn:
            return [dict(r._mapping) for r in await conn.execute(query.order_by(t.events.c.start.desc()))]

    async def events(
        self, check_id: str, start: int | None = None, end: int | None = None, limit: int | None = None
    ) -> list[Row]:
        """Events overlapping [start, end], newest first."""
        query = select(t.events).where(t.events.c.check_id == check_id)
        if start is not None:
            query = query.where(or_(t.events.c.end.is_(None), t.events.c.end >= start))
        if end is not None:
            query = query.where(t.events.c.start <= end)
        query = query.order_by(t.events.c.start.desc(), t.events.c.id.desc())
        if limit:
            query = query.limit(limit)
        async with self.engine.connect() as conn:
            return [dict(r._mapping) for r in await conn.execute(query)]

    async def results(
        self,
        check_id: str,
        *,
        start: int | None = None,
        end: int | None = None,
        limit: int | None = None,
        ascending: bool = False,
    ) -> list[Row]:
        query = select(t.results).where(t.results.c.check_id == check_id)
        if start is not None:
            query = query.where(t.results.c.start >= start)
        if end is not None:
            query = query.where(t.results.c.start <= end)
        order = t.results.c.start.asc() if ascending else t.results.c.start.desc()
        query = query.order_by(order, t.results.c.id.desc() if not ascending else t.results.c.id.asc())
        if limit:
            query = query.limit(limit)
        async with self.engine.connect() as conn:
            return [dict(r._mapping) for r in await conn.execute(query)]

    async def last_results(self, check_ids: Sequence[str]) -> dict[str, Row]:
        if not check_ids:
            return {}
        newest = (
            select(t.results.c.check_id, func.max(t.results.c.id).label("id"))
            .where(t.results.c.check_id.in_(list(check_ids)))
            .group_by(t.results.c.check_id)
            .subquery()
        )
        query = select(t.results).join(newest, and_(t.results.c.id == newest.c.id))
        async with self.engine.connect() as conn:
            return {r.check_id: dict(r._mapping) for r in await conn.execute(query)}

    async def purge_results(self, older_than: int) -> int:
        async with self._begin() as conn:
            purged = await conn.execute(delete(t.results).where(t.results.c.start < older_than))
            return purged.rowcount


async def _write_events(conn: AsyncConnection, events: Iterable[Row]) -> None:
    """Open events are inserted; a row with ``close: True`` ends the open event of its check and type."""
    for row in events:
        if row.get("close"):
            await conn.execute(
                update(t.events)
                .where(
                    t.events.c.check_id == row["check_id"],
                    t.events.c.type == row["type"],
                    t.events.c.end.is_(None),
                )
                .values(end=row["end"])
            )
        else:
            await conn.execute(insert(t.events).values(**row))
