"""Real Redis daemons for the tests (Debian packages redis-server, redis-sentinel; test-servers.md §1).

Session fixtures (one set per test session, i.e. per xdist worker that asks for them):

- ``redis_server``: one redis-server with ``requirepass`` on a plain port and a TLS port (a trustme
  certificate for 127.0.0.1/localhost; ``ca_file`` is its CA). Yields a :class:`RedisServer`.
- ``redis_sentinel``: a master without a password and a redis-sentinel watching it as ``mymaster``.
  Yields a :class:`RedisSentinel`.
- ``redis_cluster``: three masters sharing all 16384 slots, ``requirepass`` on every node. Yields a
  :class:`RedisClusterNodes`.
- ``redis_cluster_minority``: a two-master cluster whose second master has been killed, so the survivor,
  which still lists every slot in CLUSTER SLOTS, reports ``cluster_state:fail``. Yields its port.

The cluster is built with CLUSTER ADDSLOTSRANGE + CLUSTER MEET rather than ``redis-cli --cluster create``
(which waits for a configuration agreement it does not need here), with ``--cluster-port`` so the bus port
is not port+10000 (test-servers.md §1b).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis
import trustme
from redis.backoff import NoBackoff
from redis.retry import Retry

from .common import free_port, launch, make_daemon_dir, require_binary, stop, wait_until

SERVER_PACKAGE = "redis-server"
SENTINEL_PACKAGE = "redis-sentinel"
SLOTS = 16384
MASTER_NAME = "mymaster"


@dataclass
class RedisServer:
    port: int
    tls_port: int
    password: str
    ca_file: str
    host: str = "127.0.0.1"

    def url(self, password: str | None = "", *, tls: bool = False, db: int = 0) -> str:
        """``redis://:<password>@127.0.0.1:<port>/<db>``; ``password=""`` uses the server's, None omits it."""
        secret = self.password if password == "" else password
        auth = f":{secret}@" if secret is not None else ""
        scheme, port = ("rediss", self.tls_port) if tls else ("redis", self.port)
        return f"{scheme}://{auth}{self.host}:{port}/{db}"


@dataclass
class RedisSentinel:
    port: int
    master_port: int
    master_name: str = MASTER_NAME
    host: str = "127.0.0.1"


@dataclass
class RedisClusterNodes:
    ports: list[int]
    password: str
    host: str = "127.0.0.1"
    hosts: dict[str, dict[str, object]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.hosts = {f"N{index}": {"host": self.host, "port": port} for index, port in enumerate(self.ports)}


def _redis_server() -> str:
    return require_binary("redis-server", SERVER_PACKAGE)


def _start(args: list[str], directory: str, log_name: str, port: int) -> subprocess.Popen[bytes]:
    """Start one redis-server/sentinel in ``directory``; return once it answers PING."""
    proc = launch(args, os.path.join(directory, log_name), cwd=directory)
    try:
        wait_until(lambda: _ping(port), proc, timeout=20)
    except BaseException:
        stop(proc)
        raise
    return proc


def _sync_client(port: int, password: str | None = None, **options: Any) -> redis.Redis:
    """A client for the fixtures' own set-up: no retries (a refused connection fails at once)."""
    return redis.Redis(
        host="127.0.0.1",
        port=port,
        password=password,
        socket_timeout=5,
        socket_connect_timeout=1,
        retry=Retry(NoBackoff(), 0),
        **options,
    )


def _ping(port: int) -> bool:
    client = _sync_client(port)
    try:
        return bool(client.ping())
    except redis.exceptions.AuthenticationError:
        return True  # answering NOAUTH is answering
    except redis.exceptions.ConnectionError:
        return False
    finally:
        client.close()


def _server_args(binary: str, directory: str, port: int, *extra: str) -> list[str]:
    return [
        binary,
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--dir",
        directory,
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
        *extra,
    ]


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    binary = _redis_server()
    directory = make_daemon_dir("redis-")
    ca = trustme.CA()
    certificate = ca.issue_cert("localhost", "127.0.0.1")
    cert_file, key_file, ca_file = (
        os.path.join(directory, name) for name in ("cert.pem", "key.pem", "ca.pem")
    )
    certificate.cert_chain_pems[0].write_to_path(cert_file)
    certificate.private_key_pem.write_to_path(key_file)
    ca.cert_pem.write_to_path(ca_file)
    password = "s3cret-redis"
    port, tls_port = free_port(), free_port()
    args = _server_args(
        binary,
        directory,
        port,
        "--requirepass",
        password,
        "--tls-port",
        str(tls_port),
        "--tls-cert-file",
        cert_file,
        "--tls-key-file",
        key_file,
        "--tls-ca-cert-file",
        ca_file,
        "--tls-auth-clients",
        "no",
    )
    try:
        proc = _start(args, directory, "redis.log", port)
        try:
            yield RedisServer(port=port, tls_port=tls_port, password=password, ca_file=ca_file)
        finally:
            stop(proc)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_sentinel() -> Iterator[RedisSentinel]:
    binary = _redis_server()
    sentinel_binary = require_binary("redis-sentinel", SENTINEL_PACKAGE)
    directory = make_daemon_dir("redis-sentinel-")
    master_port, sentinel_port = free_port(), free_port()
    config = os.path.join(directory, "sentinel.conf")  # sentinel rewrites it: our own writable copy
    with open(config, "w") as f:
        f.write(
            f"bind 127.0.0.1\nport {sentinel_port}\ndir {directory}\n"
            f"sentinel monitor {MASTER_NAME} 127.0.0.1 {master_port} 1\n"
        )
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, directory, ignore_errors=True)
        master = _start(_server_args(binary, directory, master_port), directory, "master.log", master_port)
        stack.callback(stop, master)
        sentinel = _start([sentinel_binary, config], directory, "sentinel.log", sentinel_port)
        stack.callback(stop, sentinel)

        def knows_master() -> bool:
            client = _sync_client(sentinel_port, decode_responses=True)
            try:
                address = client.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME)
            finally:
                client.close()
            return bool(address) and int(address[1]) == master_port

        wait_until(knows_master, sentinel, timeout=20)
        yield RedisSentinel(port=sentinel_port, master_port=master_port)


def _cluster_node(
    binary: str, directory: str, name: str, *extra: str
) -> tuple[subprocess.Popen[bytes], int, int]:
    node_dir = os.path.join(directory, name)
    os.mkdir(node_dir)
    port, bus_port = free_port(), free_port()
    args = _server_args(
        binary,
        node_dir,
        port,
        "--cluster-enabled",
        "yes",
        "--cluster-port",
        str(bus_port),
        "--cluster-config-file",
        os.path.join(node_dir, "nodes.conf"),
        *extra,
    )
    return _start(args, node_dir, "redis.log", port), port, bus_port


def _join(
    ports: list[int], bus_ports: list[int], slot_ranges: list[tuple[int, int]], password: str | None
) -> None:
    """Give node i the slots ``slot_ranges[i]`` and introduce every node to the first one."""
    clients = [_sync_client(port, password) for port in ports]
    try:
        for client, (first, last) in zip(clients, slot_ranges, strict=True):
            client.execute_command("CLUSTER", "ADDSLOTSRANGE", first, last)
        for port, bus_port in zip(ports[1:], bus_ports[1:], strict=True):
            clients[0].execute_command("CLUSTER", "MEET", "127.0.0.1", port, bus_port)
    finally:
        for client in clients:
            client.close()


def _cluster_info(port: int, password: str | None = None) -> dict[str, str]:
    client = _sync_client(port, password, decode_responses=True)
    try:
        info: dict[str, str] = client.execute_command("CLUSTER INFO")
        return info
    finally:
        client.close()


def _slots_seen(port: int, password: str | None = None) -> int:
    client = _sync_client(port, password)
    try:
        ranges = client.execute_command("CLUSTER", "SLOTS")
    finally:
        client.close()
    return sum(int(entry[1]) - int(entry[0]) + 1 for entry in ranges)


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisClusterNodes]:
    binary = _redis_server()
    directory = make_daemon_dir("redis-cluster-")
    password = "cluster-pw"
    auth = ("--requirepass", password, "--masterauth", password)
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, directory, ignore_errors=True)
        procs, ports, bus_ports = [], [], []
        for index in range(3):
            proc, port, bus_port = _cluster_node(binary, directory, f"n{index}", *auth)
            stack.callback(stop, proc)
            procs.append(proc)
            ports.append(port)
            bus_ports.append(bus_port)
        third = SLOTS // 3
        _join(ports, bus_ports, [(0, third - 1), (third, 2 * third - 1), (2 * third, SLOTS - 1)], password)
        for proc, port in zip(procs, ports, strict=True):

            def cluster_ok(port: int = port) -> bool:
                return _cluster_info(port, password)["cluster_state"] == "ok"

            wait_until(cluster_ok, proc, timeout=30)
        yield RedisClusterNodes(ports=ports, password=password)


@pytest.fixture(scope="session")
def redis_cluster_minority() -> Iterator[int]:
    binary = _redis_server()
    directory = make_daemon_dir("redis-minority-")
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, directory, ignore_errors=True)
        timeout = ("--cluster-node-timeout", "200")
        survivor, port, bus_port = _cluster_node(binary, directory, "a", *timeout)
        stack.callback(stop, survivor)
        doomed, doomed_port, doomed_bus_port = _cluster_node(binary, directory, "b", *timeout)
        stack.callback(stop, doomed)
        _join(
            [port, doomed_port], [bus_port, doomed_bus_port], [(0, SLOTS - 2), (SLOTS - 1, SLOTS - 1)], None
        )
        wait_until(lambda: _slots_seen(port) == SLOTS, survivor, timeout=20)
        stop(doomed)
        # Alone, the survivor is a minority of the masters that serve slots: it marks the cluster failed.
        wait_until(lambda: _cluster_info(port)["cluster_state"] == "fail", survivor, timeout=20)
        yield port
