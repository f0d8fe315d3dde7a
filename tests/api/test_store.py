"""The query layer (api.storage.store), run whole against SQLite and a real PostgreSQL (``database_url``)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from api.storage import tables as t
from api.storage.store import Store, TokenInfo, normalise_database_url, token_digest

T0 = 1_700_000_000_000
"""A ms timestamp that needs a 64-bit column."""

ACCOUNT = "201911191441YYGAX"
OTHER_ACCOUNT = "202001010000ZZZZZ"

ALL_TABLES = {"accounts", "tokens", "checks", "check_state", "results", "events"}


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    """A freshly migrated store for each test, opened with ``Store.open`` and closed afterwards."""
    opened = await Store.open(database_url)
    try:
        yield opened
    finally:
        await opened.close()


# --- helpers ----------------------------------------------------------------------------------------


def account_row(
    account_id: str = ACCOUNT, *, parent_id: str | None = None, created: int = T0
) -> dict[str, Any]:
    return {"id": account_id, "parent_id": parent_id, "name": f"account {account_id}", "created": created}


def check_row(
    check_id: str, account_id: str = ACCOUNT, *, created: int = T0, **values: Any
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": check_id,
        "account_id": account_id,
        "type": "HTTP",
        "label": check_id,
        "interval": 1.0,
        "enabled": True,
        "acctdisable": False,
        "public": False,
        "autodiag": False,
        "parameters": {"target": "http://example.test/", "threshold": 5, "sens": 2},
        "runlocations": None,
        "homeloc": False,
        "dep": None,
        "mute": False,
        "description": "",
        "tags": [],
        "notifications": [],
        "rev": 1,
        "queue": "q" + check_id[-8:],
        "uuid": f"uuid-{check_id}",
        "created": created,
        "modified": created,
    }
    row.update(values)
    return row


def result_row(
    check_id: str, start: int, *, success: bool = True, account_id: str = ACCOUNT
) -> dict[str, Any]:
    return {
        "check_id": check_id,
        "account_id": account_id,
        "type": "HTTP",
        "target": "http://example.test/",
        "threshold": 5,
        "interval": 1.0,
        "scheduled": start,
        "queue": "q",
        "start": start,
        "end": start + 120,
        "rt": 120.0,
        "success": success,
        "code": "200" if success else "Timeout",
        "message": "OK" if success else "Timeout",
        "locations": {str(start): "local"},
        "fieldtracking": None,
        "diag": None,
    }


def down_event(
    check_id: str, start: int, *, account_id: str = ACCOUNT, end: int | None = None
) -> dict[str, Any]:
    return {
        "check_id": check_id,
        "account_id": account_id,
        "type": "down",
        "start": start,
        "end": end,
        "code": "Timeout",
        "message": "Timeout",
        "muted": False,
    }


def close_event(check_id: str, end: int, kind: str = "down") -> dict[str, Any]:
    return {"check_id": check_id, "type": kind, "end": end, "close": True}


def outcome(
    check_id: str,
    start: int,
    *,
    success: bool,
    firstdown: int | None = None,
    events: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    return {
        "result": result_row(check_id, start, success=success),
        "state": {"state": int(success), "firstdown": firstdown, "last_run": start},
        "events": list(events),
    }


async def rows_of(store: Store, table: sa.Table) -> list[dict[str, Any]]:
    async with store.engine.connect() as conn:
        return [dict(r._mapping) for r in await conn.execute(sa.select(table))]


async def with_account(store: Store, *check_ids: str, **values: Any) -> None:
    await store.create_account(account_row())
    for index, check_id in enumerate(check_ids):
        await store.insert_check(check_row(check_id, created=T0 + index, **values))


# --- migrations ---------------------------------------------------------------------------------------


def test_plain_driver_names_are_normalised() -> None:
    assert normalise_database_url("postgresql://u:p@h:5432/db") == "postgresql+asyncpg://u:p@h:5432/db"
    assert normalise_database_url("postgres://u:p@h/db") == "postgresql+asyncpg://u:p@h/db"
    assert normalise_database_url("sqlite:///x.db") == "sqlite+aiosqlite:///x.db"
    assert normalise_database_url("sqlite+aiosqlite:///x.db") == "sqlite+aiosqlite:///x.db"


async def test_open_runs_the_migrations(store: Store) -> None:
    async with store.engine.connect() as conn:
        names = set(await conn.run_sync(lambda sync: sa.inspect(sync).get_table_names()))
        version = (await conn.execute(sa.text("SELECT version_num FROM alembic_version"))).scalars().all()
    assert names >= ALL_TABLES | {"alembic_version"}
    assert version == ["0001"]


async def test_opening_twice_is_idempotent_and_keeps_the_data(database_url: str) -> None:
    first = await Store.open(database_url)
    try:
        await first.create_account(account_row())
        await first.insert_check(check_row(f"{ACCOUNT}-AAAAAAAA"))
    finally:
        await first.close()

    second = await Store.open(database_url)
    try:
        async with second.engine.connect() as conn:
            version = (await conn.execute(sa.text("SELECT version_num FROM alembic_version"))).scalars().all()
        assert version == ["0001"]
        assert await second.get_account(ACCOUNT) is not None
        assert await second.check_exists(ACCOUNT, f"{ACCOUNT}-AAAAAAAA")
    finally:
        await second.close()


async def test_open_without_migrate_does_not_create_tables(database_url: str) -> None:
    bare = await Store.open(database_url, migrate=False)
    try:
        async with bare.engine.connect() as conn:
            names = set(await conn.run_sync(lambda sync: sa.inspect(sync).get_table_names()))
        assert not names & ALL_TABLES
    finally:
        await bare.close()


# --- accounts -----------------------------------------------------------------------------------------


async def test_accounts_and_subaccounts(store: Store) -> None:
    await store.create_account(account_row())
    await store.create_account(account_row("SUB2", parent_id=ACCOUNT, created=T0 + 20))
    await store.create_account(account_row("SUB1", parent_id=ACCOUNT, created=T0 + 10))
    await store.create_account(account_row(OTHER_ACCOUNT))

    primary = await store.get_account(ACCOUNT)
    assert primary is not None
    assert primary["parent_id"] is None
    assert primary["created"] == T0
    # Column defaults apply on both databases.
    assert primary["status"] == "Active"
    assert primary["timezone"] == "0"
    assert primary["default_locations"] == []
    assert primary["settings"] == {}
    assert await store.get_account("NOSUCHACCOUNT") is None

    assert {a["id"] for a in await store.primary_accounts()} == {ACCOUNT, OTHER_ACCOUNT}
    assert [a["id"] for a in await store.subaccounts(ACCOUNT)] == ["SUB1", "SUB2"]  # by creation time
    assert await store.subaccounts(OTHER_ACCOUNT) == []

    await store.update_account("SUB1", {"name": "renamed", "status": "Suspended", "settings": {"tz": "+1"}})
    sub = await store.get_account("SUB1")
    assert sub is not None
    assert (sub["name"], sub["status"], sub["settings"]) == ("renamed", "Suspended", {"tz": "+1"})

    await store.delete_account("SUB2")
    assert [a["id"] for a in await store.subaccounts(ACCOUNT)] == ["SUB1"]


async def test_deleting_an_account_removes_its_subaccounts_tokens_and_checks(store: Store) -> None:
    await store.create_account(account_row())
    await store.create_account(account_row("SUB1", parent_id=ACCOUNT))
    token = await store.create_token("SUB1", "rw", "sub token", T0)
    await store.insert_check(check_row("SUB1-AAAAAAAA", "SUB1"))

    await store.delete_account(ACCOUNT)

    assert await store.get_account("SUB1") is None
    assert await store.authenticate(token) is None
    assert await store.get_check("SUB1-AAAAAAAA") is None
    assert await rows_of(store, t.check_state) == []


# --- tokens -------------------------------------------------------------------------------------------


async def test_only_a_digest_of_a_token_is_stored(store: Store) -> None:
    await store.create_account(account_row())
    token = await store.create_token(ACCOUNT, "rw", "cli", T0)
    assert len(token) == 32

    (stored,) = await rows_of(store, t.tokens)
    assert stored["digest"] == hashlib.sha256(token.encode()).hexdigest() == token_digest(token)
    assert stored["prefix"] == token[:8]
    for value in stored.values():
        assert token not in str(value)
    assert token not in str(await store.list_tokens())


async def test_authenticate_read_write_and_read_only_tokens(store: Store) -> None:
    await store.create_account(account_row())
    await store.create_account(account_row(OTHER_ACCOUNT))
    rw = await store.create_token(ACCOUNT, "rw", "write", T0)
    ro = await store.create_token(ACCOUNT, "ro", "read", T0 + 1)
    other = await store.create_token(OTHER_ACCOUNT, "ro", "other", T0 + 2)

    assert await store.authenticate(rw) == TokenInfo(ACCOUNT, "rw")
    assert (await store.authenticate(rw)).writable  # type: ignore[union-attr]
    assert await store.authenticate(ro) == TokenInfo(ACCOUNT, "ro")
    assert not (await store.authenticate(ro)).writable  # type: ignore[union-attr]
    assert await store.authenticate(other) == TokenInfo(OTHER_ACCOUNT, "ro")
    assert await store.authenticate("0" * 32) is None
    assert await store.authenticate(rw.lower()) is None  # tokens are exact
    assert await store.authenticate(rw[:8]) is None  # a prefix is not a token

    with pytest.raises(ValueError):
        await store.create_token(ACCOUNT, "admin", "nope", T0)

    listed = await store.list_tokens(ACCOUNT)
    assert [(r["prefix"], r["access"], r["label"]) for r in listed] == [
        (rw[:8], "rw", "write"),
        (ro[:8], "ro", "read"),
    ]
    assert len(await store.list_tokens()) == 3


async def test_revoke_a_token_by_prefix_or_by_the_token(store: Store) -> None:
    await store.create_account(account_row())
    first = await store.create_token(ACCOUNT, "rw", "first", T0)
    second = await store.create_token(ACCOUNT, "ro", "second", T0 + 1)
    third = await store.create_token(ACCOUNT, "rw", "third", T0 + 2)

    assert await store.revoke_token(first[:8]) == 1
    assert await store.authenticate(first) is None
    assert await store.authenticate(second) is not None

    assert await store.revoke_token(second) == 1
    assert await store.authenticate(second) is None

    assert await store.revoke_token(second) == 0
    assert await store.revoke_token("NOTAPREF") == 0
    assert await store.authenticate(third) == TokenInfo(ACCOUNT, "rw")
    assert [r["label"] for r in await store.list_tokens()] == ["third"]


# --- checks -------------------------------------------------------------------------------------------


async def test_insert_and_get_a_check(store: Store) -> None:
    await store.create_account(account_row())
    check_id = f"{ACCOUNT}-AAAAAAAA"
    row = check_row(
        check_id,
        parameters={"target": "http://example.test/", "threshold": 10, "sens": 0, "follow": True},
        runlocations=["ld", "ca"],
        homeloc="roam",
        mute=T0 + 3_600_000,
        tags=["web", "prod"],
        notifications=[{"K5PQBNHO": {"delay": 1, "schedule": "All"}}],
        description="x" * 1000,
    )
    await store.insert_check(row)

    stored = await store.get_check(check_id)
    assert stored is not None
    for key, value in row.items():
        assert stored[key] == value, key
    # A new check has a state row with nothing in it yet.
    assert (stored["state"], stored["firstdown"], stored["last_run"]) == (None, None, None)
    assert await store.get_check("NOPE-AAAAAAAA") is None
    assert await store.check_exists(ACCOUNT, check_id)
    assert not await store.check_exists(OTHER_ACCOUNT, check_id)

    with pytest.raises(IntegrityError):  # same id twice
        await store.insert_check(row)


async def test_get_checks_is_per_account_ordered_and_filtered(store: Store) -> None:
    await store.create_account(account_row())
    await store.create_account(account_row(OTHER_ACCOUNT))
    await store.insert_check(check_row(f"{ACCOUNT}-CCCCCCCC", created=T0 + 3))
    await store.insert_check(check_row(f"{ACCOUNT}-AAAAAAAA", created=T0 + 1))
    await store.insert_check(check_row(f"{ACCOUNT}-BBBBBBBB", created=T0 + 1))
    await store.insert_check(check_row(f"{OTHER_ACCOUNT}-AAAAAAAA", OTHER_ACCOUNT))

    ids = [c["id"] for c in await store.get_checks(ACCOUNT)]
    assert ids == [f"{ACCOUNT}-AAAAAAAA", f"{ACCOUNT}-BBBBBBBB", f"{ACCOUNT}-CCCCCCCC"]
    some = await store.get_checks(ACCOUNT, [f"{ACCOUNT}-CCCCCCCC", f"{OTHER_ACCOUNT}-AAAAAAAA"])
    assert [c["id"] for c in some] == [f"{ACCOUNT}-CCCCCCCC"]  # never another account's check
    assert await store.get_checks(ACCOUNT, []) == []
    assert await store.count_checks(ACCOUNT) == 3
    assert await store.count_checks(OTHER_ACCOUNT) == 1
    assert await store.count_checks("NOBODY") == 0


async def test_update_checks_applies_several_changes_and_their_events(store: Store) -> None:
    a, b = f"{ACCOUNT}-AAAAAAAA", f"{ACCOUNT}-BBBBBBBB"
    await with_account(store, a, b)

    disabled = {"check_id": a, "account_id": ACCOUNT, "type": "disabled", "start": T0 + 5, "end": None}
    await store.update_checks(
        [(a, {"enabled": False, "rev": 2, "modified": T0 + 5}), (b, {"label": "renamed", "dep": a})],
        [disabled],
    )
    check_a, check_b = await store.get_checks(ACCOUNT)
    assert (check_a["enabled"], check_a["rev"], check_a["modified"]) == (False, 2, T0 + 5)
    assert (check_b["label"], check_b["dep"]) == ("renamed", a)
    (event,) = await store.open_events([a])
    assert (event["type"], event["start"], event["end"], event["muted"]) == ("disabled", T0 + 5, None, False)

    await store.update_checks([(a, {"enabled": True})], [close_event(a, T0 + 9, "disabled")])
    assert await store.open_events([a]) == []
    (closed,) = await store.events(a)
    assert (closed["start"], closed["end"]) == (T0 + 5, T0 + 9)


async def test_update_checks_is_one_transaction(store: Store) -> None:
    a = f"{ACCOUNT}-AAAAAAAA"
    await with_account(store, a)
    broken_event = {"check_id": a, "account_id": ACCOUNT, "type": "disabled"}  # no start: NOT NULL
    with pytest.raises(IntegrityError):
        await store.update_checks([(a, {"label": "changed", "enabled": False})], [broken_event])
    check = await store.get_check(a)
    assert check is not None
    assert (check["label"], check["enabled"]) == (a, True)


async def test_delete_check_clears_dependants_and_removes_its_rows(store: Store) -> None:
    router, web, api, other = (f"{ACCOUNT}-{x * 8}" for x in "RWAO")
    await with_account(store, router)
    await store.insert_check(check_row(web, dep=router))
    await store.insert_check(check_row(api, dep=router))
    await store.insert_check(check_row(other, dep=web))
    await store.record_outcomes(
        [
            outcome(router, T0, success=False, firstdown=T0, events=[down_event(router, T0)]),
            outcome(web, T0, success=True),
        ]
    )

    assert not await store.delete_check(OTHER_ACCOUNT, router)  # not that account's check
    assert await store.get_check(router) is not None

    assert await store.delete_check(ACCOUNT, router)
    assert await store.get_check(router) is None
    assert not await store.check_exists(ACCOUNT, router)
    deps = {c["id"]: c["dep"] for c in await store.get_checks(ACCOUNT)}
    assert deps == {web: None, api: None, other: web}  # only the deleted check's dependants change
    assert await store.results(router) == []
    assert await store.events(router) == []
    assert await store.open_events([router]) == []
    assert await store.states([router, web]) == {web: 1}
    assert router not in {r["check_id"] for r in await rows_of(store, t.check_state)}
    assert len(await store.results(web)) == 1  # other checks keep their rows

    assert not await store.delete_check(ACCOUNT, router)  # already gone


async def test_runnable_checks_excludes_disabled_and_acctdisable(store: Store) -> None:
    await store.create_account(account_row())
    await store.insert_check(check_row("RUN"))
    await store.insert_check(check_row("OFF", enabled=False))
    await store.insert_check(check_row("SUSP", acctdisable=True))
    await store.insert_check(check_row("BOTH", enabled=False, acctdisable=True))
    await store.record_outcomes([outcome("RUN", T0 + 60_000, success=True)])

    (runnable,) = await store.runnable_checks()
    assert runnable["id"] == "RUN"
    assert (runnable["state"], runnable["last_run"]) == (1, T0 + 60_000)  # with its state columns

    await store.update_checks([("SUSP", {"acctdisable": False}), ("RUN", {"enabled": False})])
    assert [c["id"] for c in await store.runnable_checks()] == ["SUSP"]


# --- results, state and events --------------------------------------------------------------------------


async def test_record_outcomes_writes_results_state_and_events(store: Store) -> None:
    a, b = f"{ACCOUNT}-AAAAAAAA", f"{ACCOUNT}-BBBBBBBB"
    await with_account(store, a, b)

    await store.record_outcomes(
        [
            outcome(a, T0, success=False, firstdown=T0, events=[down_event(a, T0)]),
            outcome(b, T0 + 1, success=True),
        ]
    )
    assert await store.states([a, b, a]) == {a: 0, b: 1}
    check_a = await store.get_check(a)
    assert check_a is not None
    assert (check_a["state"], check_a["firstdown"], check_a["last_run"]) == (0, T0, T0)
    (result,) = await store.results(a)
    assert result == {"id": result["id"], **result_row(a, T0, success=False)}
    (opened,) = await store.open_events([a])
    assert (opened["type"], opened["start"], opened["end"], opened["code"]) == ("down", T0, None, "Timeout")

    # Recovery: the down event closes, firstdown clears.
    await store.record_outcomes([outcome(a, T0 + 60_000, success=True, events=[close_event(a, T0 + 60_000)])])
    check_a = await store.get_check(a)
    assert check_a is not None
    assert (check_a["state"], check_a["firstdown"], check_a["last_run"]) == (1, None, T0 + 60_000)
    assert await store.open_events([a]) == []
    (closed,) = await store.events(a)
    assert (closed["start"], closed["end"]) == (T0, T0 + 60_000)
    assert len(await store.results(a)) == 2


async def test_record_outcomes_skips_checks_deleted_while_running(store: Store) -> None:
    a, gone = f"{ACCOUNT}-AAAAAAAA", f"{ACCOUNT}-GGGGGGGG"
    await with_account(store, a, gone)
    assert await store.delete_check(ACCOUNT, gone)

    await store.record_outcomes(
        [
            outcome(gone, T0, success=False, firstdown=T0, events=[down_event(gone, T0)]),
            outcome(a, T0, success=True),
        ]
    )
    assert len(await store.results(a)) == 1
    assert await store.results(gone) == []
    assert await store.events(gone) == []
    assert await store.get_check(gone) is None

    await store.record_outcomes([outcome(gone, T0 + 1, success=True)])  # all deleted: nothing, no error
    await store.record_outcomes([])
    assert [r["check_id"] for r in await rows_of(store, t.results)] == [a]


async def test_record_outcomes_is_one_transaction(store: Store) -> None:
    a, b = f"{ACCOUNT}-AAAAAAAA", f"{ACCOUNT}-BBBBBBBB"
    await with_account(store, a, b)
    broken = {"check_id": b, "account_id": ACCOUNT, "type": "down", "start": None}  # NOT NULL violated
    with pytest.raises(IntegrityError):
        await store.record_outcomes(
            [
                outcome(a, T0, success=False, firstdown=T0, events=[down_event(a, T0)]),
                outcome(b, T0, success=False, firstdown=T0, events=[broken]),
            ]
        )
    assert await rows_of(store, t.results) == []
    assert await rows_of(store, t.events) == []
    assert await store.states([a, b]) == {a: None, b: None}


async def _five_results(store: Store) -> str:
    a = f"{ACCOUNT}-AAAAAAAA"
    await with_account(store, a, f"{ACCOUNT}-BBBBBBBB")
    # Stored out of order, with two results sharing a start time.
    starts = [T0 + 2000, T0, T0 + 4000, T0 + 1000, T0 + 2000]
    await store.record_outcomes([outcome(a, s, success=True) for s in starts])
    await store.record_outcomes([outcome(f"{ACCOUNT}-BBBBBBBB", T0 + 9000, success=False)])
    return a


async def test_results_ordering_limit_and_range(store: Store) -> None:
    a = await _five_results(store)

    newest_first = await store.results(a)
    assert [r["start"] for r in newest_first] == [T0 + 4000, T0 + 2000, T0 + 2000, T0 + 1000, T0]
    tied = [r["id"] for r in newest_first[1:3]]
    assert tied == sorted(tied, reverse=True)  # ties: newest row first
    assert all(r["check_id"] == a for r in newest_first)

    oldest_first = await store.results(a, ascending=True)
    assert [r["start"] for r in oldest_first] == [T0, T0 + 1000, T0 + 2000, T0 + 2000, T0 + 4000]
    assert [r["id"] for r in oldest_first[2:4]] == sorted(tied)

    assert [r["start"] for r in await store.results(a, limit=2)] == [T0 + 4000, T0 + 2000]
    assert [r["start"] for r in await store.results(a, limit=2, ascending=True)] == [T0, T0 + 1000]
    # start and end are inclusive bounds on the result's start.
    ranged = await store.results(a, start=T0 + 1000, end=T0 + 2000)
    assert [r["start"] for r in ranged] == [T0 + 2000, T0 + 2000, T0 + 1000]
    assert [r["start"] for r in await store.results(a, start=T0 + 2001)] == [T0 + 4000]
    assert [r["start"] for r in await store.results(a, end=T0 + 999)] == [T0]
    limited = await store.results(a, start=T0 + 1000, limit=1, ascending=True)
    assert [r["start"] for r in limited] == [T0 + 1000]
    assert await store.results(a, start=T0 + 5000) == []
    assert await store.results("NO-SUCH-CHECK") == []


async def test_last_results(store: Store) -> None:
    a = await _five_results(store)
    b = f"{ACCOUNT}-BBBBBBBB"
    await store.insert_check(check_row(f"{ACCOUNT}-NEVERRUN"))

    last = await store.last_results([a, b, f"{ACCOUNT}-NEVERRUN"])
    assert set(last) == {a, b}  # a check that never ran has no entry
    assert last[b]["start"] == T0 + 9000 and last[b]["success"] is False
    assert last[a]["id"] == max(r["id"] for r in await store.results(a))  # the most recently stored
    assert await store.last_results([]) == {}


async def test_events_range_filter(store: Store) -> None:
    a, b = f"{ACCOUNT}-AAAAAAAA", f"{ACCOUNT}-BBBBBBBB"
    await with_account(store, a, b)
    await store.update_checks(
        [],
        [
            down_event(a, T0, end=T0 + 100),
            down_event(a, T0 + 200, end=T0 + 300),
            down_event(a, T0 + 500),  # still open
            down_event(b, T0 + 150, end=T0 + 160),
        ],
    )

    def starts(rows: list[dict[str, Any]]) -> list[int]:
        return [r["start"] - T0 for r in rows]

    assert starts(await store.events(a)) == [500, 200, 0]  # newest first
    assert starts(await store.events(a, limit=2)) == [500, 200]
    # Events overlapping [start, end]; the open one overlaps anything after its start.
    assert starts(await store.events(a, start=T0 + 150, end=T0 + 250)) == [200]
    assert starts(await store.events(a, start=T0 + 100, end=T0 + 200)) == [200, 0]  # inclusive edges
    assert starts(await store.events(a, start=T0 + 301, end=T0 + 499)) == []
    assert starts(await store.events(a, start=T0 + 10_000)) == [500]
    assert starts(await store.events(a, end=T0 + 199)) == [0]
    assert starts(await store.events(b)) == [150]


async def test_open_events(store: Store) -> None:
    await store.create_account(account_row())
    await store.create_account(account_row(OTHER_ACCOUNT))
    a, b, c = f"{ACCOUNT}-AAAAAAAA", f"{ACCOUNT}-BBBBBBBB", f"{OTHER_ACCOUNT}-CCCCCCCC"
    await store.insert_check(check_row(a))
    await store.insert_check(check_row(b))
    await store.insert_check(check_row(c, OTHER_ACCOUNT))
    await store.update_checks(
        [],
        [
            down_event(a, T0, end=T0 + 10),
            down_event(a, T0 + 20),
            {"check_id": b, "account_id": ACCOUNT, "type": "disabled", "start": T0 + 30},
            down_event(c, T0 + 40, account_id=OTHER_ACCOUNT),
        ],
    )

    every = await store.open_events()
    assert [(e["check_id"], e["start"] - T0) for e in every] == [(c, 40), (b, 30), (a, 20)]
    assert [e["check_id"] for e in await store.open_events(account_id=ACCOUNT)] == [b, a]
    assert [e["type"] for e in await store.open_events([b])] == ["disabled"]
    assert [e["check_id"] for e in await store.open_events([a, c], account_id=ACCOUNT)] == [a]
    assert await store.open_events([]) == []


async def test_purge_results_retention(store: Store) -> None:
    a = await _five_results(store)
    purged = await store.purge_results(T0 + 2000)
    assert purged == 2  # strictly older than the cutoff
    assert [r["start"] for r in await store.results(a)] == [T0 + 4000, T0 + 2000, T0 + 2000]
    assert len(await store.results(f"{ACCOUNT}-BBBBBBBB")) == 1
    assert await store.purge_results(T0) == 0
    assert await store.purge_results(T0 + 10_000) == 4
    assert await rows_of(store, t.results) == []
