"""MYSQL against real MariaDB servers (tests/servers/mariadb.py): one with TLS, one without."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError
from servers.checkrun import outcome
from servers.mariadb import MariaDBServer

from prober.base import CheckContext, CheckResult
from prober.registry import CheckType, load_registry
from prober.runner import run_check, validation_message


@pytest.fixture(scope="module")
def mysql() -> CheckType:
    return load_registry(autoload=False, builtins=["checktypes.mysql"]).get("MYSQL")


async def check(
    mysql: CheckType, target: str = "127.0.0.1", seconds: float = 5.0, **params: Any
) -> CheckResult:
    ctx = CheckContext(target=target, threshold=max(int(seconds), 1), timeout=seconds)
    return await run_check(mysql, params, ctx)


def login(server: MariaDBServer, **extra: Any) -> dict[str, Any]:
    return {"port": server.port, "username": server.user, "password": server.password, **extra}


# --- connect only (no database) -----------------------------------------------------------------


async def test_connect_with_credentials(mysql: CheckType, mariadb_server: MariaDBServer) -> None:
    result = await check(mysql, **login(mariadb_server))
    assert outcome(result) == ("up", "Responded", "Connected")
    assert result.duration_ms > 0


async def test_access_denied_without_database_still_responded(
    mysql: CheckType, mariadb_server: MariaDBServer
) -> None:
    result = await check(mysql, **login(mariadb_server, password="wrong-password"))
    assert outcome(result) == ("up", "Responded", "Authentication error but responded")


async def test_no_credentials_is_a_liveness_check(mysql: CheckType, mariadb_server: MariaDBServer) -> None:
    # nodeping-api sends None for every unset field.
    result = await check(
        mysql, port=mariadb_server.port, username=None, password=None, database=None, query=None, fields=None
    )
    assert outcome(result) == ("up", "Responded", "Authentication error but responded")


async def test_refused(mysql: CheckType, closed_port: int) -> None:
    result = await check(mysql, port=closed_port)
    assert outcome(result) == ("down", "Error", "Connection Error: connection actively refused by firewall")


async def test_silent_listener_times_out(mysql: CheckType, silent_backlog_port: int) -> None:
    result = await check(mysql, seconds=0.5, port=silent_backlog_port, database="testdb")
    assert outcome(result) == ("down", "Timeout", "Timeout")
    assert 400 < result.duration_ms < 2500


async def test_not_a_mysql_server(mysql: CheckType, hangup_port: int) -> None:
    result = await check(mysql, port=hangup_port)
    assert outcome(result) == (
        "down",
        "Error",
        "Connection Error: Packet sequence number wrong - got 45 expected 0",
    )


async def test_missing_target_is_a_config_error(mysql: CheckType) -> None:
    result = await check(mysql, target="")
    assert (result.status, result.message, result.config_error) == ("down", "Missing MySQL FQDN or IP", True)


# --- with a database: the query -------------------------------------------------------------------


async def test_default_query(mysql: CheckType, mariadb_server: MariaDBServer) -> None:
    result = await check(mysql, **login(mariadb_server, database="testdb"))
    assert outcome(result) == ("up", "Success", "Query returned 1 results")


async def test_query_row_count(mysql: CheckType, mariadb_server: MariaDBServer) -> None:
    result = await check(mysql, **login(mariadb_server, database="testdb", query="SELECT * FROM metrics"))
    assert outcome(result) == ("up", "Success", "Query returned 3 results")


async def test_slow_query_times_out(mysql: CheckType, mariadb_server: MariaDBServer) -> None:
    params = login(mariadb_server, database="testdb", query="SELECT SLEEP(3) AS slept")
    result = await check(mysql, seconds=0.5, **params)
    assert outcome(result) == ("down", "Timeout", "Timeout")
    assert result.duration_ms < 2500


async def test_wrong_password_with_database(mysql: CheckType, mariadb_server: MariaDBServer) -> None:
    result = await check(mysql, **login(mariadb_server, password="wrong-password", database="testdb"))
    assert outcome(result) == ("down", "Error", "Authentication Error")


async def test_database_without_access(mysql: CheckType, mariadb_server: MariaDBServer) -> None:
    result = await check(mysql, **login(mariadb_server, database="mysql"))
    assert outcome(result) == (
        "down",
        "Error",
        "Connection Error: Access denied for user 'tester'@'%' to database 'mysql'",
    )


async def test_query_error(mysql: CheckType, mariadb_server: MariaDBServer) -> None:
    result = await check(mysql, **login(mariadb_server, database="testdb", query="SELECT * FROM nosuch"))
    assert outcome(result) == ("down", "Error", "Query Error: Table 'testdb.nosuch' doesn't exist")


async def test_password_never_in_results(mysql: CheckType, mariadb_server: MariaDBServer) -> None:
    secret = "pw-" + mariadb_server.password[::-1]
    for extra in ({}, {"database": "testdb"}, {"database": "testdb", "query": "SELECT nonsense("}):
        result = await check(mysql, **login(mariadb_server, password=secret, **extra))
        assert secret not in result.message


# --- fields ---------------------------------------------------------------------------------------

QUEUE = "SELECT value, note FROM metrics WHERE name = 'queue'"


async def test_fields_within_parameters(mysql: CheckType, mariadb_server: MariaDBServer) -> None:
    fields = {"V": {"name": "value", "min": 10, "max": "20"}, "N": {"name": "note", "match": "^ok$"}}
    result = await check(mysql, **login(mariadb_server, database="testdb", query=QUEUE, fields=fields))
    assert outcome(result) == ("up", "Success", "All query results within parameters")
    assert result.fieldtracking == {"V": 12.0, "N": "ok"}


async def test_fields_out_of_range_and_no_match(mysql: CheckType, mariadb_server: MariaDBServer) -> None:
    fields = {"V": {"name": "value", "max": 5}, "N": {"name": "note", "match": "^fine"}}
    result = await check(mysql, **login(mariadb_server, database="testdb", query=QUEUE, fields=fields))
    assert outcome(result) == ("down", "Query Result Error", "value:12 (max 5). note:ok (match ^fine)")


async def test_fields_regex_match(mysql: CheckType, mariadb_server: MariaDBServer) -> None:
    fields = {"T": {"name": "now", "match": r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$"}}
    query = "SELECT NOW() AS now"
    result = await check(mysql, **login(mariadb_server, database="testdb", query=query, fields=fields))
    assert outcome(result) == ("up", "Success", "All query results within parameters")


async def test_first_row_with_the_column_counts(mysql: CheckType, mariadb_server: MariaDBServer) -> None:
    query = "SELECT name, value FROM metrics ORDER BY name"  # errors (0), load (3), queue (12)
    fields = {"N": {"name": "name", "match": "errors"}, "V": {"name": "value", "min": 1}}
    result = await check(mysql, **login(mariadb_server, database="testdb", query=query, fields=fields))
    assert outcome(result) == ("down", "Query Result Error", "value:0 (min 1)")


async def test_null_reads_as_null(mysql: CheckType, mariadb_server: MariaDBServer) -> None:
    query = "SELECT note FROM metrics WHERE name = 'errors'"
    fields = {"N": {"name": "note", "match": "^null$"}}
    result = await check(mysql, **login(mariadb_server, database="testdb", query=query, fields=fields))
    assert outcome(result) == ("up", "Success", "All query results within parameters")


async def test_absent_field(mysql: CheckType, mariadb_server: MariaDBServer) -> None:
    fields = {"V": {"name": "value", "min": 1}, "X": {"name": "missing", "min": 1}}
    result = await check(mysql, **login(mariadb_server, database="testdb", query=QUEUE, fields=fields))
    assert outcome(result) == ("down", "Query Result Error", "missing:absent")


async def test_no_required_field_at_all(mysql: CheckType, mariadb_server: MariaDBServer) -> None:
    fields = {"X": {"name": "missing", "min": 1}}
    result = await check(mysql, **login(mariadb_server, database="testdb", query=QUEUE, fields=fields))
    assert outcome(result) == ("down", "Error", "Query did not return any required fields")


async def test_empty_result_has_no_required_fields(mysql: CheckType, mariadb_server: MariaDBServer) -> None:
    query = "SELECT value FROM metrics WHERE name = 'nothing'"
    fields = {"V": {"name": "value", "min": 1}}
    result = await check(mysql, **login(mariadb_server, database="testdb", query=query, fields=fields))
    assert outcome(result) == ("down", "Error", "Query did not return any required fields")


# --- TLS ------------------------------------------------------------------------------------------

CIPHER = "SHOW STATUS LIKE 'Ssl_cipher'"
"""One row (Variable_name, Value): Value is empty on a plain connection."""


@pytest.mark.parametrize("secure", ["ssl", "starttls", True])
async def test_secure_connects_over_tls(mysql: CheckType, mariadb_server: MariaDBServer, secure: Any) -> None:
    fields = {"C": {"name": "Value", "match": "^TLS_"}}
    params = login(mariadb_server, username="tlsonly", secure=secure, database="testdb", query=CIPHER)
    result = await check(mysql, **params, fields=fields)
    assert outcome(result) == ("up", "Success", "All query results within parameters")


async def test_tls_only_user_without_secure(mysql: CheckType, mariadb_server: MariaDBServer) -> None:
    # REQUIRE SSL: the same credentials over plain text are refused.
    params = login(mariadb_server, username="tlsonly", database="testdb")
    assert outcome(await check(mysql, **params)) == ("down", "Error", "Authentication Error")


async def test_plain_connection_is_plain(mysql: CheckType, mariadb_server: MariaDBServer) -> None:
    fields = {"C": {"name": "Value", "match": "^$"}}
    result = await check(mysql, **login(mariadb_server, database="testdb", query=CIPHER, fields=fields))
    assert outcome(result) == ("up", "Success", "All query results within parameters")


async def test_secure_but_server_offers_no_tls(mysql: CheckType, mariadb_plain_server: MariaDBServer) -> None:
    result = await check(mysql, **login(mariadb_plain_server, password="wrong-password", secure="ssl"))
    assert outcome(result) == ("down", "Error", "Connection Error: Server does not support secure connection")
    # The check stopped after the greeting: the (wrong) credentials never reached the server.
    assert mariadb_plain_server.execute("SHOW GLOBAL STATUS LIKE 'Access_denied_errors'") == [
        ("Access_denied_errors", "0")
    ]


async def test_plain_server_without_secure(mysql: CheckType, mariadb_plain_server: MariaDBServer) -> None:
    result = await check(mysql, **login(mariadb_plain_server, database="testdb"))
    assert outcome(result) == ("up", "Success", "Query returned 1 results")


# --- addresses ------------------------------------------------------------------------------------


async def test_ipv6_loopback(mysql: CheckType, mariadb_server: MariaDBServer) -> None:
    if not mariadb_server.ipv6:
        pytest.skip("::1 is not available here")
    query = "SELECT SUBSTRING_INDEX(USER(), '@', -1) AS client"
    fields = {"H": {"name": "client", "match": "^::1$"}}
    params = login(mariadb_server, ipv6=True, database="testdb", query=query, fields=fields)
    result = await check(mysql, target="::1", **params)
    assert outcome(result) == ("up", "Success", "All query results within parameters")


async def test_ipv6_will_not_use_an_ipv4_literal(mysql: CheckType, mariadb_server: MariaDBServer) -> None:
    result = await check(mysql, **login(mariadb_server, ipv6=True))
    assert outcome(result) == ("down", "Error", "No addresses found for 127.0.0.1")


async def test_host_name_resolves_a_first(mysql: CheckType, mariadb_server: MariaDBServer) -> None:
    query = "SELECT SUBSTRING_INDEX(USER(), '@', -1) AS client"
    fields = {"H": {"name": "client", "match": "^127.0.0.1$"}}
    params = login(mariadb_server, database="testdb", query=query, fields=fields)
    result = await check(mysql, target="localhost", **params)
    assert outcome(result) == ("up", "Success", "All query results within parameters")


# --- parameters -----------------------------------------------------------------------------------

DEFAULTS = {
    "port": 3306,
    "username": None,
    "password": None,
    "secure": False,
    "ipv6": False,
    "database": None,
    "query": None,
    "fields": None,
}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, {}),
        (
            {"port": "3307", "secure": "starttls", "ipv6": "true"},
            {"port": 3307, "secure": "starttls", "ipv6": True},
        ),
        ({"secure": "false", "username": None, "password": None}, {}),
        (
            {"database": "app", "query": "SELECT 1 AS one", "fields": {"O": {"name": "one", "min": "1"}}},
            {
                "database": "app",
                "query": "SELECT 1 AS one",
                "fields": {"O": {"name": "one", "min": 1.0, "max": None, "match": None}},
            },
        ),
    ],
)
def test_valid_params(mysql: CheckType, params: dict[str, Any], expected: dict[str, Any]) -> None:
    assert mysql.params.model_validate(params).model_dump() == {**DEFAULTS, **expected}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"port": 0}, "port: Input should be greater than or equal to 1"),
        ({"port": "mysql"}, "port: Input should be a valid integer, unable to parse string as an integer"),
        ({"secure": "required"}, "secure: Input should be False, 'ssl' or 'starttls'"),
        ({"ipv6": "v6"}, "ipv6: Input should be a valid boolean, unable to interpret input"),
        ({"fields": {"V": {"name": "value", "max": "many"}}}, "fields.V.max: Value error, must be a number"),
        ({"fields": {"V": {"min": 1}}}, "fields.V.name: Field required"),
        ({"fields": ["value"]}, "fields: Input should be a valid dictionary"),
        ({"namespace": "c"}, "namespace: Extra inputs are not permitted"),
    ],
)
def test_invalid_params(mysql: CheckType, params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        mysql.params.model_validate(params)
    assert validation_message(excinfo.value) == message


def test_password_is_a_secret(mysql: CheckType) -> None:
    assert mysql.params.SECRET_FIELDS == frozenset({"password"})
