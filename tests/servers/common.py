"""Helpers for fixtures that run real server daemons (see /work/shared/test-servers.md).

A daemon fixture follows one shape::

    binary = require_binary("/usr/sbin/foo", "foo-package")   # skip locally, FAIL under CI=true
    d = make_daemon_dir()                                       # 0755 dir under /tmp, not tmp_path
    port = free_port()
    proc = subprocess.Popen([binary, ...], stdout=log, stderr=subprocess.STDOUT,
                            preexec_fn=die_with_parent())
    try:
        wait_until(lambda: tcp_open(port), proc)
        yield ...
    finally:
        stop(proc)
        shutil.rmtree(d, ignore_errors=True)

Most daemons fit ``run_daemon``, which does the Popen/wait_until/stop part and starts the daemon again on
fresh ports when it exits early (someone took a port between ``free_port()`` and the daemon's bind)::

    binary = require_binary("/usr/sbin/foo", "foo-package")
    with daemon_dir("foo-") as d:

        def command(port: int) -> list[str]:
            ...  # write the configuration for this port into d
            return [binary, ...]

        with run_daemon("foo", d, free_port, command, tcp_open) as port:
            yield port

Never stop a daemon by name (pkill/killall): other workers run daemons with the same name.
"""

from __future__ import annotations

import ctypes
import functools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

__all__ = [
    "ServerAddress",
    "all_tcp_open",
    "daemon_dir",
    "die_with_parent",
    "distinct_free_ports",
    "dns_answers",
    "free_port",
    "free_port_tcp_udp",
    "in_ci",
    "launch",
    "make_daemon_dir",
    "read_logs",
    "require_binary",
    "run_daemon",
    "stop",
    "tcp_open",
    "wait_until",
]

Ports = TypeVar("Ports")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def require_binary(path_or_name: str, package: str) -> str:
    """Return the binary's path; when it is missing, skip the test locally but fail it under CI=true.

    ``path_or_name`` is an absolute path or a command name looked up on PATH.
    """
    if os.sep in path_or_name:
        found: str | None = path_or_name if os.access(path_or_name, os.X_OK) else None
    else:
        found = shutil.which(path_or_name)
    if found is not None:
        return found
    reason = (
        f"{path_or_name} not found: install the Debian package {package!r} "
        f"(scripts/test installs it: add `need_debian_package <path> {package}` there)"
    )
    if in_ci():
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


def free_port(udp: bool = False) -> int:
    """A port on 127.0.0.1 that was free a moment ago (TCP, or UDP with udp=True)."""
    kind = socket.SOCK_DGRAM if udp else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def distinct_free_ports(count: int) -> list[int]:
    """``count`` different TCP ports on 127.0.0.1, each free a moment ago."""
    while True:
        ports = [free_port() for _ in range(count)]
        if len(set(ports)) == count:
            return ports


def free_port_tcp_udp() -> int:
    """A port number free for both TCP and UDP (SIP, DNS)."""
    for _ in range(50):
        with socket.socket() as t:
            t.bind(("127.0.0.1", 0))
            port: int = t.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                try:
                    u.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no port free for both TCP and UDP")


def wait_until(
    pred: Callable[[], Any],
    proc: subprocess.Popen[Any] | None,
    timeout: float = 30.0,
    interval: float = 0.05,
) -> None:
    """Poll ``pred`` until it returns true; OSError counts as "not yet".

    Raises RuntimeError when ``proc`` exits first, TimeoutError after ``timeout`` seconds.
    """
    end = time.monotonic() + timeout
    name = _proc_name(proc)
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{name} exited early with {proc.returncode}")
        try:
            if pred():
                return
        except OSError:
            pass
        time.sleep(interval)
    raise TimeoutError(f"{name} not ready after {timeout}s")


def tcp_open(port: int, host: str = "127.0.0.1") -> bool:
    """True when a TCP connection to host:port succeeds (raises OSError otherwise)."""
    socket.create_connection((host, port), 0.2).close()
    return True


def all_tcp_open(ports: Iterable[int]) -> bool:
    """True when every port accepts a TCP connection (raises OSError otherwise)."""
    return all(tcp_open(port) for port in ports)


def dns_answers(name: str, port: int) -> bool:
    """True when an A query for ``name`` over UDP to 127.0.0.1:port gets an answer within 0.5 s."""
    import dns.exception
    import dns.message
    import dns.query

    query = dns.message.make_query(name, "A")
    try:
        response = dns.query.udp(query, "127.0.0.1", timeout=0.5, port=port)
    except dns.exception.Timeout:
        return False
    return bool(response.answer)


@dataclass
class ServerAddress:
    """Where a daemon listens; ``address`` is ``host:port``, as resolver settings take it."""

    port: int
    host: str = "127.0.0.1"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def stop(proc: subprocess.Popen[Any], sig: int = signal.SIGTERM, timeout: float = 10) -> None:
    """Send ``sig`` and wait up to ``timeout`` seconds, then SIGKILL."""
    if proc.poll() is None:
        try:
            proc.send_signal(sig)
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def make_daemon_dir(prefix: str = "srv-") -> str:
    """A fresh 0755 directory under /tmp (pytest's tmp_path is 0700, unusable for daemons that drop
    privileges). The caller removes it (shutil.rmtree(d, ignore_errors=True))."""
    d = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    os.chmod(d, 0o755)
    return d


@contextmanager
def daemon_dir(prefix: str = "srv-") -> Iterator[str]:
    """``make_daemon_dir(prefix)``, removed with everything in it on exit."""
    d = make_daemon_dir(prefix)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def read_logs(*paths: str) -> str:
    """The text of each of ``paths`` that exists, each after a ``--- path`` line (for error messages)."""
    texts = []
    for path in paths:
        if os.path.exists(path):
            with open(path, errors="replace") as f:
                texts.append(f"--- {path}\n{f.read()}")
    return "\n".join(texts)


def launch(
    argv: Sequence[str],
    log_path: str,
    *,
    death_signal: int = signal.SIGKILL,
    **popen: Any,
) -> subprocess.Popen[bytes]:
    """Start a daemon in the foreground: stdout and stderr to ``log_path``, no stdin, and ``death_signal``
    when the test process dies (``die_with_parent``). ``popen`` goes to Popen (cwd=, env=, user=, ...)."""
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent(death_signal),
            **popen,
        )


@contextmanager
def run_daemon(
    name: str,
    directory: str,
    pick_ports: Callable[[], Ports],
    command: Callable[[Ports], Sequence[str]],
    ready: Callable[[Ports], Any],
    *,
    timeout: float = 30.0,
    attempts: int = 5,
    cwd: str | None = None,
    death_signal: int = signal.SIGKILL,
    logs: Sequence[str] = (),
) -> Iterator[Ports]:
    """Run the daemon ``command(ports)`` on ``ports = pick_ports()`` and yield the ports once ``ready(ports)``
    is true (``wait_until`` with ``timeout``); stop it on exit.

    Its output goes to ``<directory>/<name>-<attempt>.log``. A daemon that exits before it is ready was most
    likely beaten to a port between ``pick_ports()`` and its bind: it is started again on fresh ports, up to
    ``attempts`` times; then RuntimeError quotes its last output and the daemon's own ``logs`` files.
    """
    last_logs = ""
    for attempt in range(attempts):
        ports = pick_ports()
        log_path = os.path.join(directory, f"{name}-{attempt}.log")
        proc = launch(command(ports), log_path, death_signal=death_signal, cwd=cwd)
        try:
            wait_until(functools.partial(ready, ports), proc, timeout=timeout)
        except RuntimeError:  # exited early: most likely a port was taken meanwhile
            last_logs = read_logs(log_path, *logs)
            continue
        except BaseException:
            stop(proc)
            raise
        try:
            yield ports
        finally:
            stop(proc)
        return
    raise RuntimeError(f"{name} did not start after {attempts} attempts:\n{last_logs}")


_PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGKILL) -> Callable[[], None]:
    """A ``preexec_fn`` for Popen: the daemon gets ``sig`` when the test process dies (e.g. an xdist
    worker is killed), so no daemon outlives the test run. Use as ``preexec_fn=die_with_parent()``.

    Popen runs preexec_fn after switching user=/group=, so the setting survives the exec."""
    libc = ctypes.CDLL(None, use_errno=True)

    def _set() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)

    return _set


def _proc_name(proc: subprocess.Popen[Any] | None) -> str:
    if proc is None:
        return "server"
    args = proc.args
    if isinstance(args, (list, tuple)) and args:
        return os.path.basename(str(args[0]))
    return str(args)
