import asyncpg
import pytest

from servers.common import require_binary
from servers.postgres import PostgresServer


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def test_select_one(postgres_url: str, postgres_server: PostgresServer) -> None:
    assert postgres_url.startswith(f"postgresql+asyncpg://postgres:{postgres_server.password}@127.0.0.1:")
    conn = await asyncpg.connect(_plain(postgres_url))
    try:
        assert await conn.fetchval("select 1") == 1
    finally:
        await conn.close()


async def test_databases_are_distinct(postgres_server: PostgresServer) -> None:
    url_a = postgres_server.new_database()
    url_b = postgres_server.new_database()
    assert url_a != url_b
    a = await asyncpg.connect(_plain(url_a))
    b = await asyncpg.connect(_plain(url_b))
    try:
        await a.execute("create table only_in_a (x int)")
        await a.execute("insert into only_in_a values (42)")
        assert await a.fetchval("select current_database()") != await b.fetchval("select current_database()")
        assert await a.fetchval("select x from only_in_a") == 42
        assert await b.fetchval("select to_regclass('only_in_a')") is None
    finally:
        await a.close()
        await b.close()


def test_create_database_by_name(postgres_server: PostgresServer) -> None:
    url = postgres_server.create_database("named_db_check")
    assert url.endswith(f"@127.0.0.1:{postgres_server.port}/named_db_check")
    assert "named_db_check" in postgres_server.psql("select datname from pg_database")
    with pytest.raises(ValueError):
        postgres_server.create_database("Bad-Name; drop")


async def test_wrong_password_is_refused(postgres_server: PostgresServer) -> None:
    dsn = f"postgresql://postgres:wrong@127.0.0.1:{postgres_server.port}/postgres"
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(dsn)


def test_require_binary_found() -> None:
    assert require_binary("sh", "dash").endswith("/sh")
    assert require_binary("/bin/sh", "dash") == "/bin/sh"


def test_require_binary_missing_skips_locally(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no-such-package"):
        require_binary("/nonexistent/bin/daemon", "no-such-package")


def test_require_binary_missing_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="no-such-package"):
        require_binary("/nonexistent/bin/daemon", "no-such-package")
    with pytest.raises(pytest.fail.Exception):
        require_binary("no-such-daemon-name", "no-such-package")
