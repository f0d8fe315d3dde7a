"""PGSQL against real PostgreSQL 15 clusters: ``postgres_server`` (plain, scram-sha-256) and
``postgres_tls_server`` (ssl = on, TLS-only pg_hba.conf for the role ``tester``)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError
from servers.checkrun import expect_config_error, outcome
from servers.postgres import PostgresServer
from servers.postgres_tls import PostgresTlsServer

from prober.base import CheckContext, CheckResult
from prober.registry import CheckType, load_registry
from prober.runner import run_check, validation_message


@pytest.fixture(scope="module")
def pgsql() -> CheckType:
    return load_registry(autoload=False, builtins=["checktypes.pgsql"]).get("PGSQL")


async def check(pgsql: CheckType, target: str, seconds: float = 5.0, **params: Any) -> CheckResult:
    ctx = CheckContext(target=target, threshold=max(int(seconds), 1), timeout=seconds)
    return await run_check(pgsql, params, ctx)


# --- connect and query ----------------------------------------------------------------------------


async def test_default_query(pgsql: CheckType, postgres_server: PostgresServer) -> None:
    result = await check(pgsql, postgres_server.dsn())
    assert outcome(result) == ("up", "Success", "Query returned 1 results")
    assert result.duration_ms > 0


async def test_postgres_scheme(pgsql: CheckType, postgres_server: PostgresServer) -> None:
    target = postgres_server.dsn().replace("postgresql://", "postgres://", 1)
    assert outcome(await check(pgsql, target)) == ("up", "Success", "Query returned 1 results")


async def test_row_count(pgsql: CheckType, postgres_server: PostgresServer) -> None:
    query = "SELECT * FROM generate_series(1, 7) AS n"
    assert outcome(await check(pgsql, postgres_server.dsn(), query=query)) == (
        "up",
        "Success",
        "Query returned 7 results",
    )


async def test_statement_without_rows(pgsql: CheckType, postgres_server: PostgresServer) -> None:
    result = await check(pgsql, postgres_server.dsn(), query="SET search_path = public")
    assert outcome(result) == ("up", "Success", "Query returned 0 results")


async def test_query_error(pgsql: CheckType, postgres_server: PostgresServer) -> None:
    result = await check(pgsql, postgres_server.dsn(), query="SELECT * FROM nosuch")
    assert outcome(result) == ("down", "Error", 'Query Error: relation "nosuch" does not exist')


async def test_wrong_password(pgsql: CheckType, postgres_server: PostgresServer) -> None:
    target = f"postgresql://postgres:wrong-password@127.0.0.1:{postgres_server.port}/postgres"
    result = await check(pgsql, target)
    assert outcome(result) == (
        "down",
        "Error",
        'Connection Error: password authentication failed for user "postgres"',
    )
    assert "wrong-password" not in result.message


async def test_unknown_database(pgsql: CheckType, postgres_server: PostgresServer) -> None:
    result = await check(pgsql, postgres_server.dsn("nosuchdb"))
    assert outcome(result) == ("down", "Error", 'Connection Error: database "nosuchdb" does not exist')


async def test_no_credentials_password_required(pgsql: CheckType, postgres_server: PostgresServer) -> None:
    # The server asked for a password the URI does not have: it answered, which is all that was asked.
    result = await check(pgsql, f"postgresql://127.0.0.1:{postgres_server.port}/postgres")
    assert outcome(result) == ("up", "Success", "Connected")


async def test_no_credentials_rejected_by_pg_hba(
    pgsql: CheckType, postgres_tls_server: PostgresTlsServer
) -> None:
    result = await check(pgsql, f"postgresql://127.0.0.1:{postgres_tls_server.port}/postgres")
    assert outcome(result) == ("up", "Success", "Connected")


async def test_refused(pgsql: CheckType, closed_port: int) -> None:
    result = await check(pgsql, f"postgresql://u:p@127.0.0.1:{closed_port}/db")
    assert outcome(result) == ("down", "Error", "Connection Error: connection actively refused by firewall")


async def test_silent_listener_times_out(pgsql: CheckType, silent_backlog_port: int) -> None:
    result = await check(pgsql, f"postgresql://u:p@127.0.0.1:{silent_backlog_port}/db", seconds=0.5)
    assert outcome(result) == ("down", "Timeout", "Timeout")
    assert 400 < result.duration_ms < 2500


async def test_slow_query_times_out(pgsql: CheckType, postgres_server: PostgresServer) -> None:
    result = await check(pgsql, postgres_server.dsn(), seconds=0.5, query="SELECT pg_sleep(3)")
    assert outcome(result) == ("down", "Timeout", "Timeout")
    assert result.duration_ms < 2500


async def test_not_a_postgres_server(pgsql: CheckType, hangup_port: int) -> None:
    result = await check(pgsql, f"postgresql://u:p@127.0.0.1:{hangup_port}/db")
    assert (result.status, result.code) == ("down", "Error")
    assert result.message.startswith("Connection Error: ")


async def test_application_name(pgsql: CheckType, postgres_server: PostgresServer) -> None:
    query = "SELECT current_setting('application_name') AS app"
    fields = {"A": {"name": "app", "match": "^Vedette$"}}
    result = await check(pgsql, postgres_server.dsn(), query=query, fields=fields)
    assert outcome(result) == ("up", "Success", "All query results within parameters")


# --- fields ---------------------------------------------------------------------------------------

VALUES = "SELECT 42 AS answer, 'ok' AS status, 1.50::numeric AS ratio, true AS flag, NULL::text AS nothing"


async def test_fields_within_parameters(pgsql: CheckType, postgres_server: PostgresServer) -> None:
    fields = {
        "A": {"name": "answer", "min": 40, "max": "50"},
        "S": {"name": "status", "match": "ok"},
        "R": {"name": "ratio", "min": 1.5, "max": 1.5},
        "F": {"name": "flag", "match": "^true$"},
        "N": {"name": "nothing", "match": "^null$"},
    }
    result = await check(pgsql, postgres_server.dsn(), query=VALUES, fields=fields)
    assert outcome(result) == ("up", "Success", "All query results within parameters")
    assert result.fieldtracking == {"A": 42.0, "S": "ok", "R": 1.5, "F": "true", "N": "null"}


async def test_fields_out_of_range(pgsql: CheckType, postgres_server: PostgresServer) -> None:
    fields = {
        "A": {"name": "answer", "max": 10},
        "S": {"name": "status", "match": "^fail"},
        "R": {"name": "ratio", "min": 2},
    }
    result = await check(pgsql, postgres_server.dsn(), query=VALUES, fields=fields)
    assert outcome(result) == (
        "down",
        "Query Result Error",
        "answer:42 (max 10). status:ok (match ^fail). ratio:1.50 (min 2)",
    )


async def test_first_row_with_the_column_counts(pgsql: CheckType, postgres_server: PostgresServer) -> None:
    query = "SELECT n FROM generate_series(1, 5) AS n"
    assert outcome(
        await check(pgsql, postgres_server.dsn(), query=query, fields={"N": {"name": "n", "max": 1}})
    ) == (
        "up",
        "Success",
        "All query results within parameters",
    )
    assert outcome(
        await check(pgsql, postgres_server.dsn(), query=query, fields={"N": {"name": "n", "min": 2}})
    ) == (
        "down",
        "Query Result Error",
        "n:1 (min 2)",
    )


async def test_default_query_fields(pgsql: CheckType, postgres_server: PostgresServer) -> None:
    fields = {"T": {"name": "now", "match": r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"}}
    result = await check(pgsql, postgres_server.dsn(), fields=fields)
    assert outcome(result) == ("up", "Success", "All query results within parameters")


async def test_absent_and_missing_fields(pgsql: CheckType, postgres_server: PostgresServer) -> None:
    some = {"A": {"name": "answer", "min": 1}, "X": {"name": "missing", "min": 1}}
    result = await check(pgsql, postgres_server.dsn(), query=VALUES, fields=some)
    assert outcome(result) == ("down", "Query Result Error", "missing:absent")
    none = {"X": {"name": "missing", "min": 1}}
    result = await check(pgsql, postgres_server.dsn(), query=VALUES, fields=none)
    assert outcome(result) == ("down", "Error", "Query did not return any required fields")


# --- TLS ------------------------------------------------------------------------------------------

USES_TLS = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"


async def test_tls_without_verify(pgsql: CheckType, postgres_tls_server: PostgresTlsServer) -> None:
    fields = {"T": {"name": "ssl", "match": "^true$"}}
    result = await check(pgsql, postgres_tls_server.dsn(), query=USES_TLS, fields=fields)
    assert outcome(result) == ("up", "Success", "All query results within parameters")


async def test_plain_server_without_verify(pgsql: CheckType, postgres_server: PostgresServer) -> None:
    fields = {"T": {"name": "ssl", "match": "^false$"}}
    result = await check(pgsql, postgres_server.dsn(), query=USES_TLS, fields=fields, verify=False)
    assert outcome(result) == ("up", "Success", "All query results within parameters")


async def test_verify_rejects_an_untrusted_certificate(
    pgsql: CheckType, postgres_tls_server: PostgresTlsServer
) -> None:
    result = await check(pgsql, postgres_tls_server.dsn(), verify="true")
    assert outcome(result) == (
        "down",
        "Error",
        "Connection Error: TLS error: certificate verify failed: unable to get local issuer certificate",
    )


async def test_verify_accepts_a_trusted_certificate(
    pgsql: CheckType, postgres_tls_server: PostgresTlsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", postgres_tls_server.ca_pem)  # the system store, as OpenSSL reads it
    fields = {"T": {"name": "ssl", "match": "^true$"}}
    result = await check(pgsql, postgres_tls_server.dsn(), query=USES_TLS, fields=fields, verify=True)
    assert outcome(result) == ("up", "Success", "All query results within parameters")


async def test_verify_requires_tls(pgsql: CheckType, postgres_server: PostgresServer) -> None:
    result = await check(pgsql, postgres_server.dsn(), verify=True)
    assert outcome(result) == (
        "down",
        "Error",
        f'Connection Error: PostgreSQL server at "127.0.0.1:{postgres_server.port}" rejected SSL upgrade',
    )


async def test_sslmode_in_the_uri_applies(pgsql: CheckType, postgres_tls_server: PostgresTlsServer) -> None:
    result = await check(pgsql, postgres_tls_server.dsn(sslmode="disable"))
    assert outcome(result) == (
        "down",
        "Error",
        'Connection Error: no pg_hba.conf entry for host "127.0.0.1", user "tester", database "postgres", '
        "no encryption",
    )


# --- targets and parameters -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("", "Missing PostgreSQL URI"),
        ("127.0.0.1", "Invalid PostgreSQL URI"),
        ("mysql://u:p@127.0.0.1/db", "Invalid PostgreSQL URI"),
        ("postgresql:///db", "Invalid PostgreSQL URI"),
        ("postgresql://u:p@127.0.0.1:port/db", "Invalid PostgreSQL URI"),
        ("postgresql://u:p@[::1/db", "Invalid PostgreSQL URI"),
        (
            "postgresql://u:p@127.0.0.1/db?sslmode=sometimes",
            "Invalid PostgreSQL URI: `sslmode` parameter must be one of: disable, allow, prefer, require, "
            "verify-ca, verify-full",
        ),
    ],
)
async def test_bad_targets_are_config_errors(pgsql: CheckType, target: str, message: str) -> None:
    result = await check(pgsql, target)
    expect_config_error(result, message)


@pytest.mark.parametrize(
    ("target", "valid"),
    [
        ("postgres://127.0.0.1:5432/postgres", True),
        ("postgresql://user:pw@db.example.com/app?sslmode=require", True),
        ("PostgreSQL://db.example.com", True),
        ("postgresql:///app?host=db.example.com", True),
        ("mongodb://db.example.com/app", False),
        ("db.example.com", False),
        ("postgresql:///app", False),
    ],
)
def test_check_target(pgsql: CheckType, target: str, valid: bool) -> None:
    if valid:
        assert pgsql.params.check_target(target) == target
    else:
        with pytest.raises(ValueError, match=r"^Invalid PostgreSQL URI$"):
            pgsql.params.check_target(target)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, {"query": None, "fields": None, "verify": False}),
        (
            {"verify": "true", "query": "SELECT 1 AS one"},
            {"query": "SELECT 1 AS one", "fields": None, "verify": True},
        ),
        (
            {"fields": {"S": {"name": "state", "match": "idle"}}, "verify": 0},
            {
                "query": None,
                "fields": {"S": {"name": "state", "min": None, "max": None, "match": "idle"}},
                "verify": False,
            },
        ),
    ],
)
def test_valid_params(pgsql: CheckType, params: dict[str, Any], expected: dict[str, Any]) -> None:
    assert pgsql.params.model_validate(params).model_dump() == expected


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"verify": "full"}, "verify: Input should be a valid boolean, unable to interpret input"),
        ({"fields": {"S": {"match": "idle"}}}, "fields.S.name: Field required"),
        ({"fields": {"S": {"name": "n", "min": "low"}}}, "fields.S.min: Value error, must be a number"),
        ({"database": "app"}, "database: Extra inputs are not permitted"),
        ({"port": 5432}, "port: Extra inputs are not permitted"),
    ],
)
def test_invalid_params(pgsql: CheckType, params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        pgsql.params.model_validate(params)
    assert validation_message(excinfo.value) == message
