"""REDIS: connect (standalone, sentinel or cluster) and run a command (default INFO)."""

from __future__ import annotations

import re
import shlex
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import unquote, urlsplit

import redis.asyncio
import redis.exceptions
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from checktypes._common import lower_enum
from checktypes._net import os_reason, resolution_message
from prober.base import BoolIsh, CheckContext, CheckParams, CheckResult, ConfigError, Port, StrIsh

NAME = "REDIS"

DEFAULT_PORT = 6379
REFUSED = "Connection refused. Active blocking by a firewall."
"""The AGENT's wording for a refused connection (check-types.md §4 REDIS)."""
REPLY_PREVIEW = 1000
"""Characters of the reply kept in ``details`` when ``contentstring`` is not found."""

# "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)" -> "wrong version number"
_SSL_TEXT = re.compile(r"\[SSL(?:: [A-Z0-9_]+)?\] (.+?)(?: \(_ssl\.c:\d+\))?")


class RedisHost(BaseModel):
    """One sentinel or cluster node."""

    model_config = ConfigDict(extra="forbid")

    host: StrIsh = Field(min_length=1)
    port: Port = DEFAULT_PORT
    password: StrIsh | None = None


def _hosts_list(value: Any) -> Any:
    # nodeping-api sends ``hosts: []``; a list of host objects is keyed by its index.
    if isinstance(value, list):
        return {str(index): host for index, host in enumerate(value)} or None
    return value


class Params(CheckParams):
    SECRET_FIELDS = frozenset({"hosts"})
    """The hosts map carries node passwords."""

    redistype: Annotated[Literal["standalone", "sentinel", "cluster"], BeforeValidator(lower_enum)] = (
        "standalone"
    )
    hosts: Annotated[dict[str, RedisHost] | None, BeforeValidator(_hosts_list)] = None
    """Sentinels (``sentinel``) or nodes (``cluster``): ``{"<key>": {"host", "port"?, "password"?}}``."""
    sentinelname: StrIsh | None = None
    """The sentinel "master-name"; required when ``redistype`` is ``sentinel``."""
    query: StrIsh | None = None
    """Absent = ``INFO`` at run time."""
    contentstring: StrIsh | None = None
    """When set, the reply to ``query`` (as text) must contain it."""
    clientcert: StrIsh | None = None
    """Id of a stored client certificate/key for TLS."""
    oldresultfail: BoolIsh = False

    @field_validator("sentinelname")
    @classmethod
    def _sentinel_needs_name(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and info.data.get("redistype") == "sentinel":
            raise ValueError("required when redistype is sentinel")
        return value

    @classmethod
    def check_target(cls, target: str) -> str:
        if not target.lower().startswith(("redis://", "rediss://")):
            raise ValueError("Target must begin with redis:// or rediss://")
        return target


# --- the target URL ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RedisURL:
    """``redis[s]://[[user]:password@]host[:port][/db]``; in sentinel and cluster mode only the scheme
    (TLS), the credentials and the database are used, the nodes come from ``hosts``."""

    tls: bool
    host: str | None
    port: int
    username: str | None
    password: str | None
    db: int


def parse_target(target: str) -> RedisURL:
    if not target:
        raise ConfigError("Missing Redis URL")
    try:
        parts = urlsplit(target)
        port = parts.port or DEFAULT_PORT
    except ValueError as exc:
        raise ConfigError(f"Invalid Redis URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("redis", "rediss"):
        raise ConfigError("Invalid Redis URL")
    path = parts.path.strip("/")
    if not re.fullmatch(r"\d*", path):
        raise ConfigError("Invalid Redis URL: the path must be a database number")
    return RedisURL(
        tls=scheme == "rediss",
        host=parts.hostname,
        port=port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        db=int(path or 0),
    )


def _command(query: str | None) -> list[str]:
    """The AGENT splits ``query`` on spaces; shell-style quoting is accepted for arguments with spaces."""
    try:
        words = shlex.split(query or "")
    except ValueError as exc:
        raise ConfigError(f"Invalid query: {exc}") from None
    return words or ["INFO"]


def _nodes(params: Params) -> list[RedisHost]:
    nodes = list((params.hosts or {}).values())
    if not nodes:
        raise ConfigError("config error: No host info. Host info required.")
    return nodes


# --- connecting -------------------------------------------------------------------------------------

# No retries anywhere (the pipeline owns rechecks) and no socket timers (the runner owns the deadline).
# RESP2: no HELLO, so servers older than 6.0 work and a missing password surfaces as NOAUTH on the query.
_CLIENT_OPTIONS: dict[str, Any] = {
    "protocol": 2,
    "decode_responses": True,
    "encoding_errors": "replace",
    "socket_timeout": None,
    "socket_connect_timeout": None,
    "health_check_interval": 0,
}


def _no_retry() -> Retry:
    return Retry(NoBackoff(), 0)


def _client(url: RedisURL, host: str, port: int, password: str | None) -> redis.asyncio.Redis:
    client = redis.asyncio.Redis(
        host=host,
        port=port,
        db=url.db,
        username=url.username,
        password=password,
        ssl=url.tls,
        retry=_no_retry(),
        **_CLIENT_OPTIONS,
    )
    # Raw replies: the text the server sent (INFO as "key:value" lines), not redis-py's parsed objects.
    client.response_callbacks.clear()
    return client


async def _query_standalone(url: RedisURL, command: list[str]) -> Any:
    if not url.host:
        raise ConfigError("Invalid Redis URL - missing hostname")
    async with _client(url, url.host, url.port, url.password) as client:
        return await _execute(client, *command)


async def _execute(client: redis.asyncio.Redis, *args: str) -> Any:
    return await client.execute_command(*args)  # type: ignore[no-untyped-call]  # unannotated in redis-py


class _NoMaster(Exception):
    """Every sentinel that answered does not know the master name."""


async def _query_sentinel(url: RedisURL, sentinels: list[RedisHost], name: str, command: list[str]) -> Any:
    """Ask the sentinels in order for the master's address; the first answer wins (failing over to the
    next sentinel is part of one measurement, not a retry). Each sentinel uses its own ``password``."""
    address: list[str] | None = None
    answered = False
    last_error: Exception | None = None
    for sentinel in sentinels:
        try:
            async with _client(url, sentinel.host, sentinel.port, sentinel.password) as client:
                address = await _execute(client, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", name)
        except (redis.exceptions.RedisError, OSError) as exc:
            last_error = exc
            continue
        answered = True
        if address:
            break
    if not address:
        if not answered and last_error is not None:
            raise last_error
        raise _NoMaster(name)
    host, port = address[0], int(address[1])
    async with _client(url, host, port, url.password) as client:
        return await _execute(client, *command)


def _cluster_password(url: RedisURL, nodes: list[RedisHost]) -> str | None:
    """redis-py uses one password for every cluster node: the URL's, else the one the hosts share."""
    if url.password:
        return url.password
    passwords = {node.password for node in nodes if node.password}
    if len(passwords) > 1:
        raise ConfigError("config error: cluster nodes must share one password")
    return passwords.pop() if passwords else None


class _ClusterState(Exception):
    def __init__(self, state: str) -> None:
        super().__init__(state)
        self.state = state


async def _query_cluster(url: RedisURL, nodes: list[RedisHost], command: list[str]) -> Any:
    if url.db:
        raise ConfigError("config error: cluster mode supports only database 0")
    client = RedisCluster(
        startup_nodes=[ClusterNode(node.host, node.port) for node in nodes],
        username=url.username,
        password=_cluster_password(url, nodes),
        ssl=url.tls,
        retry=_no_retry(),
        reinitialize_steps=0,
        dynamic_startup_nodes=False,
        **_CLIENT_OPTIONS,
    )
    try:
        # Discovery (CLUSTER SLOTS from the first reachable host) fails unless every slot is served.
        await client.initialize()
        info = await client.execute_command("CLUSTER INFO", target_nodes=client.get_default_node())
        state = str(info.get("cluster_state", "unknown")) if isinstance(info, dict) else "unknown"
        if state != "ok":
            # Slots can all be assigned while a master is unreachable: the nodes' own verdict decides.
            raise _ClusterState(state)
        return await client.execute_command(*command)
    finally:
        await client.aclose()


# --- results ----------------------------------------------------------------------------------------


async def run(params: Params, ctx: CheckContext) -> CheckResult:
    url = parse_target(ctx.target)
    if params.clientcert:
        raise ConfigError("clientcert: client certificates are not supported yet")
    command = _command(params.query)
    clock = ctx.monotonic or time.monotonic
    started = clock()
    try:
        if params.redistype == "cluster":
            reply = await _query_cluster(url, _nodes(params), command)
        elif params.redistype == "sentinel":
            reply = await _query_sentinel(url, _nodes(params), params.sentinelname or "", command)
        else:
            reply = await _query_standalone(url, command)
    except redis.exceptions.AuthenticationError as exc:
        if params.redistype == "standalone" and url.password is None and params.contentstring is None:
            # No password to give: a server that asks for one is reachable and speaking Redis.
            return CheckResult.up("Connected", "Connected")
        return CheckResult.down("Error", f"Authentication failed: {exc}")
    except _NoMaster as exc:
        return CheckResult.down("Error", f"No master found for '{exc}'")
    except _ClusterState as exc:
        return CheckResult.down("Error", f"Cluster state: {exc.state}")
    except (redis.exceptions.RedisError, redis.exceptions.RedisClusterException, OSError) as exc:
        return CheckResult.down("Error", error_message(exc))
    if clock() - started > ctx.threshold:
        return CheckResult.down("Timeout", "Timeout")
    if params.contentstring is None:
        return CheckResult.up("OK", "OK")
    text = reply_text(reply)
    if params.contentstring in text:
        return CheckResult.up("OK", "Found")
    return CheckResult.down("Not found", "Not found", details={"reply": text[:REPLY_PREVIEW]})


def reply_text(reply: Any) -> str:
    """A reply as text: arrays one element per line, maps as ``key:value`` lines (like INFO)."""
    if reply is None:
        return ""
    if isinstance(reply, bytes):
        return reply.decode("utf-8", "replace")
    if isinstance(reply, dict):
        return "\n".join(f"{reply_text(key)}:{reply_text(value)}" for key, value in reply.items())
    if isinstance(reply, list | tuple):
        return "\n".join(reply_text(item) for item in reply)
    return str(reply)


def error_message(exc: BaseException) -> str:
    """The result message for a failed connection or command."""
    if isinstance(exc, redis.exceptions.RedisClusterException) and exc.__cause__ is not None:
        # "Redis Cluster cannot be connected. Please provide at least one reachable node: <cause>"
        return error_message(exc.__cause__)
    if isinstance(exc, redis.exceptions.AuthenticationError):
        return f"Authentication failed: {exc}"
    os_error = exc if isinstance(exc, OSError) else exc.__context__
    if isinstance(exc, redis.exceptions.ConnectionError | OSError) and isinstance(os_error, OSError):
        return _os_message(os_error, exc)
    if isinstance(exc, redis.exceptions.TimeoutError):
        return "Timeout"
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _os_message(error: OSError, wrapper: BaseException) -> str:
    if isinstance(error, ConnectionRefusedError):
        return REFUSED
    if isinstance(error, socket.gaierror):
        return resolution_message(_host_of(wrapper), error)
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"TLS error: {error.verify_message}"
    if isinstance(error, ssl.SSLError):
        match = _SSL_TEXT.fullmatch(str(error.strerror or error))
        return f"TLS error: {match.group(1) if match else os_reason(error)}"
    return os_reason(error)


def _host_of(exc: BaseException) -> str:
    # "Error -2 connecting to nosuch.invalid:6379. Name or service not known."
    match = re.search(r"connecting to (.+):\d+\.", str(exc))
    return match.group(1) if match else "host"
