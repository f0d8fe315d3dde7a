"""MONGODB against an in-process MongoDB wire-protocol server (tests/servers/mongo_wire.py).

No MongoDB server is packaged for Debian: ``mongo_wire_server`` is a real TCP server on 127.0.0.1 speaking
OP_MSG with SCRAM-SHA-256 and ``find``, plus a TLS listener; pymongo's asyncio client talks to it as to mongod.
"""

from __future__ import annotations

import sys
from typing import Any

import pytest
from pydantic import ValidationError
from servers.checkrun import expect_config_error, outcome
from servers.mongo_wire import USERS, MongoWireServer

from prober.base import CheckContext, CheckResult
from prober.registry import CheckType, load_registry
from prober.runner import run_check, validation_message

USER, PASSWORD = next(iter(USERS.items()))


@pytest.fixture(scope="module")
def mongodb() -> CheckType:
    return load_registry(autoload=False, builtins=["checktypes.mongodb"]).get("MONGODB")


@pytest.fixture
def server(mongo_wire_server: MongoWireServer) -> MongoWireServer:
    mongo_wire_server.commands.clear()
    return mongo_wire_server


async def check(mongodb: CheckType, target: str, seconds: float = 5.0, **params: Any) -> CheckResult:
    ctx = CheckContext(target=target, threshold=max(int(seconds), 1), timeout=seconds)
    return await run_check(mongodb, params, ctx)


def authed(server: MongoWireServer, **options: str) -> str:
    return server.uri(USER, PASSWORD, **options)


def users_query(query: str, **extra: Any) -> dict[str, Any]:
    return {"database": "app", "namespace": "users", "query": query, **extra}


# --- connect --------------------------------------------------------------------------------------


async def test_connect_and_ping(mongodb: CheckType, server: MongoWireServer) -> None:
    result = await check(mongodb, server.uri())
    assert outcome(result) == ("up", "Success", "Connected")
    assert server.sent("ping")
    hello = (server.sent("hello") or server.sent("isMaster"))[0]
    assert hello["client"]["application"] == {"name": "Vedette"}
    assert not server.sent("find")


async def test_connect_with_credentials(mongodb: CheckType, server: MongoWireServer) -> None:
    result = await check(mongodb, authed(server))
    assert outcome(result) == ("up", "Success", "Connected")
    assert server.sent("saslContinue"), "the driver authenticated"


async def test_wrong_password_without_database_still_connected(
    mongodb: CheckType, server: MongoWireServer
) -> None:
    result = await check(mongodb, server.uri(USER, "wrong-password"))
    assert outcome(result) == ("up", "Connected", "Connected")


async def test_wrong_password_with_database(mongodb: CheckType, server: MongoWireServer) -> None:
    result = await check(mongodb, server.uri(USER, "wrong-password"), database="app")
    assert outcome(result) == ("down", "Error", "Connection Error: Authentication failed.")
    assert "wrong-password" not in result.message


async def test_refused(mongodb: CheckType, closed_port: int) -> None:
    # pymongo retries server selection until its timeout, kept just inside the run's (2 s here).
    result = await check(mongodb, f"mongodb://127.0.0.1:{closed_port}/", seconds=2.0)
    assert outcome(result) == ("down", "Error", "Connection Error: connection actively refused by firewall")


async def test_silent_listener_times_out(mongodb: CheckType, silent_backlog_port: int) -> None:
    result = await check(mongodb, f"mongodb://127.0.0.1:{silent_backlog_port}/", seconds=1.0)
    assert outcome(result) == ("down", "Timeout", "Timeout")
    assert result.duration_ms < 2500


async def test_not_a_mongodb_server(mongodb: CheckType, hangup_port: int) -> None:
    result = await check(mongodb, f"mongodb://127.0.0.1:{hangup_port}/", seconds=2.0)
    assert outcome(result) == ("down", "Error", "Connection Error: Connection is closed")


async def test_query_that_never_returns_times_out(mongodb: CheckType, server: MongoWireServer) -> None:
    params = {"database": "app", "namespace": "stuck", "query": "{}"}
    result = await check(mongodb, authed(server), seconds=1.0, **params)
    assert outcome(result) == ("down", "Timeout", "Timeout")
    assert result.duration_ms < 2500, "closing the client after the deadline must not wait for the server"


async def test_connect_only_without_a_full_query(mongodb: CheckType, server: MongoWireServer) -> None:
    # database and namespace without query: no find() (all three are needed).
    result = await check(
        mongodb, authed(server), database="app", namespace="users", fields={"A": {"name": "age"}}
    )
    assert outcome(result) == ("up", "Success", "Connected")
    assert not server.sent("find")


# --- queries --------------------------------------------------------------------------------------


async def test_query_count(mongodb: CheckType, server: MongoWireServer) -> None:
    result = await check(mongodb, authed(server), **users_query('{"active": true}'))
    assert outcome(result) == ("up", "Success", "Query returned 2 results")
    find = server.sent("find")[-1]
    assert (find["$db"], find["find"], find["filter"], find["limit"]) == (
        "app",
        "users",
        {"active": True},
        25,
    )


async def test_query_needs_authentication(mongodb: CheckType, server: MongoWireServer) -> None:
    result = await check(mongodb, server.uri(), **users_query("{}"))
    assert outcome(result) == ("down", "Error", "Query Error: Command find requires authentication")


async def test_query_error(mongodb: CheckType, server: MongoWireServer) -> None:
    result = await check(mongodb, authed(server), **users_query('{"age": {"$bogus": 1}}'))
    assert outcome(result) == ("down", "Error", "Query Error: unknown operator: $bogus")


async def test_extended_json_query(mongodb: CheckType, server: MongoWireServer) -> None:
    query = '{"checked": {"$date": "2024-05-01T12:00:00Z"}}'
    result = await check(mongodb, authed(server), database="app", namespace="status", query=query)
    assert outcome(result) == ("up", "Success", "Query returned 1 results")


@pytest.mark.parametrize("query", ['{"active": true', "[1, 2]", "active", '{"_id": {"$oid": "nope"}}'])
async def test_unparseable_query(mongodb: CheckType, server: MongoWireServer, query: str) -> None:
    result = await check(mongodb, authed(server), **users_query(query))
    assert (result.status, result.message, result.config_error) == (
        "down",
        "Unable to parse the query - invalid JSON",
        True,
    )
    assert not server.commands, "nothing is sent for a query that cannot run"


async def test_at_most_25_results(mongodb: CheckType, server: MongoWireServer) -> None:
    result = await check(mongodb, authed(server), database="app", namespace="events", query="{}")
    assert outcome(result) == ("up", "Success", "Query returned 25 results")


async def test_query_options(mongodb: CheckType, server: MongoWireServer) -> None:
    options = '{"skip": 36, "limit": 10, "sort": {"n": 1}, "projection": {"n": 1}}'
    params = {
        "database": "app",
        "namespace": "events",
        "query": '{"n": {"$gte": 0}}',
        "queryoptions": options,
    }
    result = await check(mongodb, authed(server), **params)
    assert outcome(result) == ("up", "Success", "Query returned 4 results")
    find = server.sent("find")[-1]
    assert (find["skip"], find["limit"], find["sort"], find["projection"]) == (36, 10, {"n": 1}, {"n": 1})


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ('{"limit": ', "Unable to parse the query options - invalid JSON"),
        (
            '{"tailable": true}',
            "Unsupported query option: tailable (supported: limit, skip, sort, projection)",
        ),
        ('{"skip": "ten"}', "Invalid query options: skip must be an instance of int, not <class 'str'>"),
    ],
)
async def test_bad_query_options(
    mongodb: CheckType, server: MongoWireServer, options: str, message: str
) -> None:
    result = await check(mongodb, authed(server), **users_query("{}", queryoptions=options))
    assert (result.status, result.message, result.config_error) == ("down", message, True)


# --- fields ---------------------------------------------------------------------------------------


async def test_fields_within_parameters(mongodb: CheckType, server: MongoWireServer) -> None:
    fields = {
        "A": {"name": "age", "min": 30, "max": "40"},
        "C": {"name": "address.city", "match": "^Oslo$"},
        "F": {"name": "active", "match": "true"},
    }
    result = await check(mongodb, authed(server), **users_query('{"age": {"$gte": 30}}', fields=fields))
    assert outcome(result) == ("up", "Success", "All query results within parameters")
    assert result.fieldtracking == {"A": 31.0, "C": "Oslo", "F": "true"}


async def test_fields_out_of_range(mongodb: CheckType, server: MongoWireServer) -> None:
    fields = {"A": {"name": "age", "max": 30}, "N": {"name": "name", "match": "^b"}}
    result = await check(mongodb, authed(server), **users_query('{"name": "alice"}', fields=fields))
    assert outcome(result) == ("down", "Query Result Error", "age:31 (max 30). name:alice (match ^b)")


async def test_first_document_with_the_path_counts(mongodb: CheckType, server: MongoWireServer) -> None:
    # Only the third document has tags; the first one has a name.
    fields = {"T": {"name": "tags.0", "match": "^admin$"}, "N": {"name": "name", "match": "^alice$"}}
    result = await check(mongodb, authed(server), **users_query("{}", fields=fields))
    assert outcome(result) == ("up", "Success", "All query results within parameters")


async def test_absent_field(mongodb: CheckType, server: MongoWireServer) -> None:
    fields = {"A": {"name": "age", "min": 1}, "X": {"name": "address.zip", "min": 1}}
    result = await check(mongodb, authed(server), **users_query('{"name": "carol"}', fields=fields))
    assert outcome(result) == ("down", "Query Result Error", "address.zip:absent")


async def test_no_results_no_required_fields(mongodb: CheckType, server: MongoWireServer) -> None:
    fields = {"A": {"name": "age", "min": 1}}
    result = await check(mongodb, authed(server), **users_query('{"name": "nobody"}', fields=fields))
    assert outcome(result) == ("down", "Error", "Query did not return any required fields")


# --- TLS ------------------------------------------------------------------------------------------


async def test_tls_with_the_ca(mongodb: CheckType, server: MongoWireServer) -> None:
    target = server.uri(USER, PASSWORD, tls_listener=True, tls="true", tlsCAFile=server.ca_pem)
    result = await check(mongodb, target, **users_query('{"active": false}'))
    assert outcome(result) == ("up", "Success", "Query returned 1 results")


async def test_tls_untrusted_certificate(mongodb: CheckType, server: MongoWireServer) -> None:
    result = await check(mongodb, server.uri(tls_listener=True, tls="true"), seconds=2.0)
    assert outcome(result) == (
        "down",
        "Error",
        "Connection Error: TLS error: certificate verify failed: unable to get local issuer certificate",
    )


async def test_tls_insecure_accepts_any_certificate(mongodb: CheckType, server: MongoWireServer) -> None:
    result = await check(mongodb, server.uri(tls_listener=True, tls="true", tlsInsecure="true"))
    assert outcome(result) == ("up", "Success", "Connected")


async def test_tls_to_a_plain_server(mongodb: CheckType, server: MongoWireServer) -> None:
    # The server hangs up on a ClientHello, as mongod does on anything that is not the wire protocol.
    result = await check(mongodb, server.uri(tls="true", tlsInsecure="true"), seconds=2.0)
    assert outcome(result) == ("down", "Error", "Connection Error: SSL handshake failed")


# --- targets, parameters, the extra ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("", "Missing MongoDB URI"),
        ("127.0.0.1", "Invalid MongoDB URI"),
        ("postgres://127.0.0.1/db", "Invalid MongoDB URI"),
        ("mongodb://", "Invalid MongoDB URI"),
        ("mongodb://127.0.0.1:port/", "Invalid MongoDB URI"),
        ("mongodb://127.0.0.1/?connectTimeoutMS=soon", "Invalid MongoDB URI"),
        ("mongodb+srv://cluster.example.com:27017/", "Invalid MongoDB URI"),
    ],
)
async def test_bad_targets_are_config_errors(mongodb: CheckType, target: str, message: str) -> None:
    result = await check(mongodb, target)
    expect_config_error(result, message)


@pytest.mark.parametrize(
    ("target", "valid"),
    [
        ("mongodb://127.0.0.1:27017/admin", True),
        ("mongodb+srv://user:pw@cluster0.example.net/app?retryWrites=true", True),
        ("MongoDB://db.example.com", True),
        ("db.example.com:27017", False),
        ("postgres://db.example.com/app", False),
    ],
)
def test_check_target(mongodb: CheckType, target: str, valid: bool) -> None:
    if valid:
        assert mongodb.params.check_target(target) == target
    else:
        with pytest.raises(ValueError, match=r"^Invalid MongoDB URI$"):
            mongodb.params.check_target(target)


async def test_missing_extra(mongodb: CheckType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pymongo", None)  # import pymongo -> ImportError
    # The registry still loads the type: pymongo is imported only when a check runs.
    assert load_registry(autoload=False, builtins=["checktypes.mongodb"]).get("MONGODB").run is not None
    result = await check(mongodb, "mongodb://127.0.0.1/")
    assert (result.message, result.config_error) == (
        "MONGODB checks need the mongodb extra: pip install 'vedette[mongodb]'",
        True,
    )


DEFAULTS = {"database": None, "namespace": None, "query": None, "queryoptions": None, "fields": None}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, {}),
        (
            {
                "database": "app",
                "namespace": "users",
                "query": '{"active": true}',
                "queryoptions": '{"limit": 1}',
            },
            {
                "database": "app",
                "namespace": "users",
                "query": '{"active": true}',
                "queryoptions": '{"limit": 1}',
            },
        ),
        # nodeping-api: mongodb_check(target, query='', fields=None, database='', namespace='')
        (
            {"query": "", "fields": None, "database": "", "namespace": ""},
            {"query": "", "database": "", "namespace": ""},
        ),
        (
            {"fields": {"F": {"name": "status", "match": "^ok", "min": "0"}}},
            {"fields": {"F": {"name": "status", "min": 0.0, "max": None, "match": "^ok"}}},
        ),
    ],
)
def test_valid_params(mongodb: CheckType, params: dict[str, Any], expected: dict[str, Any]) -> None:
    assert mongodb.params.model_validate(params).model_dump() == {**DEFAULTS, **expected}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"fields": {"F": {"name": ""}}}, "fields.F.name: String should have at least 1 character"),
        ({"fields": ["status"]}, "fields: Input should be a valid dictionary"),
        ({"fields": {"F": {"name": "n", "max": "high"}}}, "fields.F.max: Value error, must be a number"),
        ({"port": 27017}, "port: Extra inputs are not permitted"),
        ({"collection": "users"}, "collection: Extra inputs are not permitted"),
    ],
)
def test_invalid_params(mongodb: CheckType, params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        mongodb.params.model_validate(params)
    assert validation_message(excinfo.value) == message
