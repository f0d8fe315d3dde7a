"""REDIS against real Debian daemons: redis-server (password + TLS), redis-sentinel, a 3-master cluster."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError
from servers.checkrun import expect_config_error, outcome
from servers.redisd import RedisClusterNodes, RedisSentinel, RedisServer

from prober.base import CheckContext, CheckResult
from prober.registry import CheckType, load_registry
from prober.runner import run_check, validation_message

# Every test that needs a daemon runs on one xdist worker, so each daemon starts once per run.
pytestmark = pytest.mark.xdist_group("redis")

REFUSED = "Connection refused. Active blocking by a firewall."


@pytest.fixture(scope="module")
def redis_type() -> CheckType:
    return load_registry(autoload=False, builtins=["checktypes.redis"]).get("REDIS")


async def check(
    redis_type: CheckType,
    target: str,
    *,
    deadline: float = 5.0,
    threshold: int = 5,
    monotonic: Callable[[], float] | None = None,
    **params: Any,
) -> CheckResult:
    ctx = CheckContext(target=target, threshold=threshold, timeout=deadline, monotonic=monotonic)
    return await run_check(redis_type, params, ctx)


# --- standalone ---------------------------------------------------------------------------------


async def test_info_with_the_password_in_the_url(redis_type: CheckType, redis_server: RedisServer) -> None:
    result = await check(redis_type, redis_server.url())
    assert outcome(result) == ("up", "OK", "OK")
    assert result.config_error is False


async def test_server_without_a_password(redis_type: CheckType, redis_sentinel: RedisSentinel) -> None:
    result = await check(redis_type, f"redis://127.0.0.1:{redis_sentinel.master_port}")
    assert outcome(result) == ("up", "OK", "OK")


async def test_no_password_for_a_protected_server_passes_as_connected(
    redis_type: CheckType, redis_server: RedisServer
) -> None:
    result = await check(redis_type, redis_server.url(password=None))
    assert outcome(result) == ("up", "Connected", "Connected")


async def test_no_password_cannot_look_for_content(redis_type: CheckType, redis_server: RedisServer) -> None:
    result = await check(redis_type, redis_server.url(password=None), contentstring="redis_version")
    assert outcome(result) == ("down", "Error", "Authentication failed: Authentication required.")


async def test_wrong_password(redis_type: CheckType, redis_server: RedisServer) -> None:
    result = await check(redis_type, redis_server.url(password="not-the-password"))
    assert outcome(result) == (
        "down",
        "Error",
        "Authentication failed: invalid username-password pair or user is disabled.",
    )
    assert "not-the-password" not in result.message


async def test_password_for_a_server_without_one(
    redis_type: CheckType, redis_sentinel: RedisSentinel
) -> None:
    result = await check(redis_type, f"redis://:hunter2@127.0.0.1:{redis_sentinel.master_port}")
    assert result.status == "down"
    assert result.message.startswith("Authentication failed: AUTH <password> called without any password")
    assert "hunter2" not in result.message


async def test_info_reply_is_the_raw_text(redis_type: CheckType, redis_server: RedisServer) -> None:
    result = await check(redis_type, redis_server.url(), contentstring="redis_version:7.")
    assert outcome(result) == ("up", "OK", "Found")


async def test_query_and_contentstring(redis_type: CheckType, redis_server: RedisServer) -> None:
    result = await check(redis_type, redis_server.url(), query="PING", contentstring="PONG")
    assert outcome(result) == ("up", "OK", "Found")


async def test_content_not_found_keeps_the_reply(redis_type: CheckType, redis_server: RedisServer) -> None:
    result = await check(redis_type, redis_server.url(), query="PING", contentstring="PANG")
    assert outcome(result) == ("down", "Not found", "Not found")
    assert result.details == {"reply": "PONG"}


async def test_quoted_query_arguments(redis_type: CheckType, redis_server: RedisServer) -> None:
    result = await check(
        redis_type, redis_server.url(), query='ECHO "hello world"', contentstring="hello world"
    )
    assert outcome(result) == ("up", "OK", "Found")


async def test_nil_reply_passes(redis_type: CheckType, redis_server: RedisServer) -> None:
    result = await check(redis_type, redis_server.url(db=3), query="GET no-such-key")
    assert outcome(result) == ("up", "OK", "OK")


async def test_command_error(redis_type: CheckType, redis_server: RedisServer) -> None:
    result = await check(redis_type, redis_server.url(), query="NOSUCHCMD x")
    assert outcome(result) == ("down", "Error", "unknown command 'NOSUCHCMD', with args beginning with: 'x'")


async def test_database_out_of_range(redis_type: CheckType, redis_server: RedisServer) -> None:
    result = await check(redis_type, redis_server.url(db=99))
    assert outcome(result) == ("down", "Error", "DB index is out of range")


async def test_refused(redis_type: CheckType, closed_port: int) -> None:
    result = await check(redis_type, f"redis://127.0.0.1:{closed_port}")
    assert outcome(result) == ("down", "Error", REFUSED)


async def test_unresolvable_host(redis_type: CheckType) -> None:
    result = await check(redis_type, "redis://no-such-host.invalid:6379")
    assert (result.status, result.code) == ("down", "Error")
    assert "no-such-host.invalid" in result.message


async def test_slow_reply_is_a_timeout(redis_type: CheckType, redis_server: RedisServer) -> None:
    # BLPOP on an empty list blocks this client only; the runner cancels it at the deadline.
    result = await check(redis_type, redis_server.url(), query="BLPOP empty-list 10", deadline=0.5)
    assert outcome(result) == ("down", "Timeout", "Timeout")
    assert 400 < result.duration_ms < 3000


async def test_reply_after_the_threshold_fails(redis_type: CheckType, redis_server: RedisServer) -> None:
    # The deadline may be longer than the threshold (ctx.timeout is the runner's); the threshold still rules.
    clock = itertools.count(0.0, 3.0)
    result = await check(redis_type, redis_server.url(), threshold=2, monotonic=lambda: next(clock))
    assert outcome(result) == ("down", "Timeout", "Timeout")


async def test_tls_with_a_trusted_certificate(
    redis_type: CheckType, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", redis_server.ca_file)
    result = await check(
        redis_type, redis_server.url(tls=True), query="INFO server", contentstring="tcp_port"
    )
    assert outcome(result) == ("up", "OK", "Found")


async def test_tls_with_an_untrusted_certificate(redis_type: CheckType, redis_server: RedisServer) -> None:
    result = await check(redis_type, redis_server.url(tls=True))
    assert (result.status, result.code) == ("down", "Error")
    assert result.message.startswith("TLS error: ") and "certificate" in result.message


async def test_tls_against_a_plain_port_times_out(redis_type: CheckType, redis_server: RedisServer) -> None:
    # The server reads the ClientHello as the start of an inline command and waits for its end.
    result = await check(redis_type, redis_server.url().replace("redis://", "rediss://"), deadline=0.5)
    assert outcome(result) == ("down", "Timeout", "Timeout")


# --- sentinel -----------------------------------------------------------------------------------


def sentinel_params(sentinel: RedisSentinel, *ports: int, name: str | None = None) -> dict[str, Any]:
    return {
        "redistype": "sentinel",
        "sentinelname": name or sentinel.master_name,
        "hosts": {f"S{index}": {"host": "127.0.0.1", "port": port} for index, port in enumerate(ports)},
    }


async def test_sentinel_queries_the_master(redis_type: CheckType, redis_sentinel: RedisSentinel) -> None:
    params = sentinel_params(redis_sentinel, redis_sentinel.port)
    # ROLE on a sentinel answers "sentinel": "master" proves the query went to the master.
    result = await check(redis_type, "redis://sentinel", query="ROLE", contentstring="master", **params)
    assert outcome(result) == ("up", "OK", "Found")


async def test_sentinel_skips_an_unreachable_sentinel(
    redis_type: CheckType, redis_sentinel: RedisSentinel, closed_port: int
) -> None:
    params = sentinel_params(redis_sentinel, closed_port, redis_sentinel.port)
    assert outcome(await check(redis_type, "redis://sentinel", **params)) == ("up", "OK", "OK")


async def test_sentinel_unknown_master(redis_type: CheckType, redis_sentinel: RedisSentinel) -> None:
    params = sentinel_params(redis_sentinel, redis_sentinel.port, name="nosuchmaster")
    result = await check(redis_type, "redis://sentinel", **params)
    assert outcome(result) == ("down", "Error", "No master found for 'nosuchmaster'")


async def test_sentinels_all_refused(
    redis_type: CheckType, redis_sentinel: RedisSentinel, closed_port: int
) -> None:
    params = sentinel_params(redis_sentinel, closed_port)
    assert outcome(await check(redis_type, "redis://sentinel", **params)) == ("down", "Error", REFUSED)


async def test_sentinel_with_the_master_password_wrong(
    redis_type: CheckType, redis_sentinel: RedisSentinel
) -> None:
    # The URL password is for the master (which has none here), not for the sentinels.
    params = sentinel_params(redis_sentinel, redis_sentinel.port)
    result = await check(redis_type, "redis://:hunter2@sentinel", **params)
    assert result.status == "down"
    assert result.message.startswith("Authentication failed: AUTH <password> called without any password")


# --- cluster ------------------------------------------------------------------------------------


def cluster_params(hosts: dict[str, dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"redistype": "cluster", "hosts": hosts, **extra}


async def test_cluster_with_the_password_in_the_url(
    redis_type: CheckType, redis_cluster: RedisClusterNodes
) -> None:
    params = cluster_params(redis_cluster.hosts, query="INFO server", contentstring="redis_mode:cluster")
    result = await check(redis_type, f"redis://:{redis_cluster.password}@cluster", **params)
    assert outcome(result) == ("up", "OK", "Found")


async def test_cluster_with_the_password_on_the_hosts(
    redis_type: CheckType, redis_cluster: RedisClusterNodes
) -> None:
    hosts = {key: {**host, "password": redis_cluster.password} for key, host in redis_cluster.hosts.items()}
    # A keyed command is routed to the node that serves the key's slot.
    result = await check(redis_type, "redis://cluster", **cluster_params(hosts, query="GET some-key"))
    assert outcome(result) == ("up", "OK", "OK")


async def test_cluster_first_node_down(
    redis_type: CheckType, redis_cluster: RedisClusterNodes, closed_port: int
) -> None:
    hosts = {"DOWN": {"host": "127.0.0.1", "port": closed_port}, **redis_cluster.hosts}
    result = await check(redis_type, f"redis://:{redis_cluster.password}@cluster", **cluster_params(hosts))
    assert outcome(result) == ("up", "OK", "OK")


async def test_cluster_all_nodes_refused(redis_type: CheckType, closed_port: int) -> None:
    hosts = {"DOWN": {"host": "127.0.0.1", "port": closed_port}}
    assert outcome(await check(redis_type, "redis://cluster", **cluster_params(hosts))) == (
        "down",
        "Error",
        REFUSED,
    )


async def test_cluster_without_a_password(redis_type: CheckType, redis_cluster: RedisClusterNodes) -> None:
    result = await check(redis_type, "redis://cluster", **cluster_params(redis_cluster.hosts))
    assert outcome(result) == ("down", "Error", "Authentication failed: Authentication required.")


async def test_cluster_wrong_password(redis_type: CheckType, redis_cluster: RedisClusterNodes) -> None:
    result = await check(redis_type, "redis://:wrong-pw@cluster", **cluster_params(redis_cluster.hosts))
    assert outcome(result) == (
        "down",
        "Error",
        "Authentication failed: invalid username-password pair or user is disabled.",
    )


async def test_cluster_with_a_master_down(redis_type: CheckType, redis_cluster_minority: int) -> None:
    hosts = {"A": {"host": "127.0.0.1", "port": redis_cluster_minority}}
    result = await check(redis_type, "redis://cluster", **cluster_params(hosts))
    assert outcome(result) == ("down", "Error", "Cluster state: fail")


async def test_cluster_type_on_a_standalone_server(redis_type: CheckType, redis_server: RedisServer) -> None:
    hosts = {"A": {"host": "127.0.0.1", "port": redis_server.port}}
    result = await check(redis_type, redis_server.url(), **cluster_params(hosts))
    assert outcome(result) == ("down", "Error", "Cluster mode is not enabled on this node")


# --- configuration errors -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "params", "message"),
    [
        ("", {}, "Missing Redis URL"),
        ("http://127.0.0.1:6379", {}, "Invalid Redis URL"),
        ("127.0.0.1:6379", {}, "Invalid Redis URL"),
        ("redis://127.0.0.1:99999", {}, "Invalid Redis URL: Port out of range 0-65535"),
        ("redis://127.0.0.1/zero", {}, "Invalid Redis URL: the path must be a database number"),
        ("redis://", {}, "Invalid Redis URL - missing hostname"),
        ("redis://127.0.0.1", {"query": 'ECHO "open'}, "Invalid query: No closing quotation"),
        (
            "rediss://127.0.0.1",
            {"clientcert": "CERT1"},
            "clientcert: client certificates are not supported yet",
        ),
        (
            "redis://x",
            {"redistype": "sentinel", "sentinelname": "m"},
            "config error: No host info. Host info required.",
        ),
        (
            "redis://x",
            {"redistype": "cluster", "hosts": []},
            "config error: No host info. Host info required.",
        ),
        (
            "redis://x/1",
            {"redistype": "cluster", "hosts": [{"host": "127.0.0.1"}]},
            "config error: cluster mode supports only database 0",
        ),
        (
            "redis://x",
            {
                "redistype": "cluster",
                "hosts": [{"host": "a", "password": "p1"}, {"host": "b", "password": "p2"}],
            },
            "config error: cluster nodes must share one password",
        ),
    ],
)
async def test_configuration_errors(
    redis_type: CheckType, target: str, params: dict[str, Any], message: str
) -> None:
    result = await check(redis_type, target, **params)
    expect_config_error(result, message)


# --- parameters ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, {"redistype": "standalone", "query": None, "contentstring": None, "hosts": None}),
        ({"query": "PING", "contentstring": "PONG"}, {"query": "PING", "contentstring": "PONG"}),
        ({"contentstring": 42}, {"contentstring": "42"}),
        (
            {"redistype": "CLUSTER", "hosts": [{"host": "n1", "port": "7000"}]},
            {"redistype": "cluster", "hosts": {"0": {"host": "n1", "port": 7000, "password": None}}},
        ),
    ],
)
def test_valid_params(redis_type: CheckType, params: dict[str, Any], expected: dict[str, Any]) -> None:
    dumped = redis_type.params.model_validate(params).model_dump()
    assert {key: dumped[key] for key in expected} == expected


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"contentstring": ["PONG"]}, "contentstring: Input should be a valid string"),
        ({"query": {"cmd": "INFO"}}, "query: Input should be a valid string"),
        ({"redistype": "replica"}, "redistype: Input should be 'standalone', 'sentinel' or 'cluster'"),
        ({"redistype": "sentinel"}, "sentinelname: Value error, required when redistype is sentinel"),
        (
            {"hosts": {"A": {"host": "h", "port": 70000}}},
            "hosts.A.port: Input should be less than or equal to 65535",
        ),
    ],
)
def test_invalid_params(redis_type: CheckType, params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        redis_type.params.model_validate(params)
    assert validation_message(caught.value) == message


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("redis://:pw@cache.example.com:6379/0", None),
        ("REDISS://cache.example.com", None),
        ("cache.example.com:6379", "Target must begin with redis:// or rediss://"),
        ("https://cache.example.com", "Target must begin with redis:// or rediss://"),
    ],
)
def test_check_target(redis_type: CheckType, target: str, message: str | None) -> None:
    if message is None:
        assert redis_type.params.check_target(target) == target
    else:
        with pytest.raises(ValueError, match=message):
            redis_type.params.check_target(target)
