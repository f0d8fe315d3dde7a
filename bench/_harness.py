"""Shared pieces for the benchmarks: a real ``vedette serve`` subprocess, /proc sampling, a throwaway
PostgreSQL cluster, percentiles. Everything talks to 127.0.0.1 only."""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PG_BIN = "/usr/lib/postgresql/15/bin"
CLK_TCK = os.sysconf("SC_CLK_TCK")
TOKEN_LINE = re.compile(r"read-write token:\s*([0-9A-Za-z]+)")
READY_LINE = re.compile(r"vedette controller ready: (\d+) checks scheduled")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of an unsorted list; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(p / 100 * len(ordered))))
    return ordered[rank - 1]


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of one process, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of stat(5)


def proc_status_kb(pid: int, key: str) -> int:
    """A ``kB`` line of /proc/<pid>/status (VmHWM = peak RSS, VmRSS = current RSS)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


@dataclass
class VedetteServer:
    """``python -m api.cli serve`` in ``workdir``; stdout and stderr are drained by threads into files."""

    workdir: str
    db_url: str
    port: int = field(default_factory=free_port)
    probe: bool = False
    concurrency: int = 500
    log_level: str = "INFO"
    extra_args: list[str] = field(default_factory=list)
    token: str | None = None
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0  # time.monotonic() at Popen
    ready_at: float | None = None  # the "controller ready" log line
    listening_at: float | None = None  # first successful GET /health
    ready_checks: int | None = None
    _threads: list[threading.Thread] = field(default_factory=list)
    _starts: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120.0) -> VedetteServer:
        args = [
            sys.executable,
            "-m",
            "api.cli",
            "serve",
            "--port",
            str(self.port),
            "--db",
            self.db_url,
            "--log-level",
            self.log_level,
            "--concurrency",
            str(self.concurrency),
            *self.extra_args,
        ]
        if not self.probe:
            args.append("--no-probe")
        env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
        env.pop("VEDETTE_DATABASE_URL", None)
        self.ready_at = self.listening_at = None
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(
            args, cwd=self.workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self._starts += 1
        n = self._starts
        self._threads = [
            threading.Thread(target=self._drain, args=(self.proc.stdout, f"stdout{n}.log"), daemon=True),
            threading.Thread(target=self._drain, args=(self.proc.stderr, f"stderr{n}.log"), daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"vedette serve exited with {self.proc.returncode}; see {self.workdir}")
            if self.ready_at is not None and self.token is not None:
                try:
                    with urllib.request.urlopen(self.base + "/health", timeout=2) as response:
                        response.read()
                    self.listening_at = time.monotonic()
                    return self
                except OSError:
                    pass
            time.sleep(0.02)
        self.stop()
        raise TimeoutError(f"vedette serve not ready after {timeout}s; see {self.workdir}")

    def _drain(self, stream: Any, name: str) -> None:
        with open(os.path.join(self.workdir, name), "wb") as out:
            for line in iter(stream.readline, b""):
                out.write(line)
                text = line.decode("utf-8", "replace")
                if self.token is None and (m := TOKEN_LINE.search(text)):
                    self.token = m.group(1)
                if self.ready_at is None and (m := READY_LINE.search(text)):
                    self.ready_at = time.monotonic()
                    self.ready_checks = int(m.group(1))

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def cpu_seconds(self) -> float:
        return proc_cpu_seconds(self.pid)

    def peak_rss_mb(self) -> float:
        return proc_status_kb(self.pid, "VmHWM") / 1024

    def health(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.base + "/health", timeout=5) as response:
            result: dict[str, Any] = json.loads(response.read())
            return result

    def stop(self, timeout: float = 60.0) -> float:
        """SIGTERM (graceful: running checks finish, results are stored); SIGKILL after ``timeout``.
        Returns the seconds the shutdown took."""
        began = time.monotonic()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for thread in self._threads:
            thread.join(5)
        return time.monotonic() - began


# --- PostgreSQL: a throwaway cluster, as tests/servers/postgres.py starts it ------------------------------


def postgres_available() -> bool:
    return all(os.access(f"{PG_BIN}/{name}", os.X_OK) for name in ("postgres", "initdb", "psql"))


@contextlib.contextmanager
def postgres_cluster() -> Iterator[Any]:
    """Yield a ``tests/servers/postgres.PostgresServer`` (fsync off, 127.0.0.1, free port)."""
    import secrets

    sys.path.insert(0, os.path.join(ROOT, "tests"))
    from servers.common import make_daemon_dir, stop
    from servers.postgres import PostgresServer, _start

    daemon_dir = make_daemon_dir("pg-bench-")
    as_pg: dict[str, Any] = {}
    if os.geteuid() == 0:  # postgres refuses to run as root
        as_pg = {"user": "postgres", "group": "postgres", "extra_groups": []}
        shutil.chown(daemon_dir, "postgres", "postgres")
    password = secrets.token_urlsafe(16)
    try:
        proc, port = _start(daemon_dir, as_pg, password)
        try:
            yield PostgresServer(port=port, password=password, socket_dir=daemon_dir)
        finally:
            stop(proc, signal.SIGINT)
    finally:
        shutil.rmtree(daemon_dir, ignore_errors=True)
