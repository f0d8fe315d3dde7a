"""A real ``vedette serve`` subprocess and a TCP target for the tests that drive the whole program."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .common import die_with_parent, free_port, tcp_open, wait_until

REPO = Path(__file__).resolve().parents[2]
STOP_TIMEOUT = 30
TOKEN_LINE = re.compile(r"^\s*(read-write|read-only) token:\s*(\S+)\s*$", re.MULTILINE)


def subprocess_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VEDETTE_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["no_proxy"] = env["NO_PROXY"] = "127.0.0.1,localhost"
    return env


@dataclass
class Served:
    proc: subprocess.Popen[str]
    port: int
    workdir: Path
    lines: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/1/"

    def output(self) -> str:
        return "".join(self.lines)

    def tokens(self) -> dict[str, str]:
        return dict(TOKEN_LINE.findall(self.output()))

    def logs(self) -> str:
        log = self.workdir / "serve.log"
        return log.read_text(errors="replace")[-4000:] if log.exists() else ""

    def stop(self) -> int:
        """SIGTERM, then the exit status (SIGKILL and fail when it takes longer than STOP_TIMEOUT)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"vedette serve did not stop within {STOP_TIMEOUT}s of SIGTERM\n{self.logs()}")
        if self.reader is not None:
            self.reader.join(5)
        return code


def start_serve(workdir: Path, db_url: str, *extra: str) -> Served:
    port = free_port()
    log = (workdir / "serve.log").open("a")
    command = [sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(
        [*command, "--db", db_url, *extra],
        cwd=workdir,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        preexec_fn=die_with_parent(),
    )
    log.close()
    served = Served(proc, port, workdir)

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            served.lines.append(line)

    served.reader = threading.Thread(target=read, daemon=True)
    served.reader.start()
    try:
        wait_until(lambda: tcp_open(port), proc, timeout=30)
    except (RuntimeError, TimeoutError):
        served.stop()
        pytest.fail(f"vedette serve did not start\n{served.output()}\n{served.logs()}")
    return served


def first_start(workdir: Path, db_url: str) -> tuple[Served, str, str]:
    served = start_serve(workdir, db_url)
    try:
        wait_until(lambda: len(served.tokens()) == 2, served.proc, timeout=10)
    except (RuntimeError, TimeoutError):
        served.stop()
        pytest.fail(f"no tokens printed on first start:\n{served.output()}")
    tokens = served.tokens()
    return served, tokens["read-write"], tokens["read-only"]


class TcpListener:
    """A TCP port on 127.0.0.1 that accepts (and closes) every connection, served by a thread."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port: int = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()

    def __enter__(self) -> TcpListener:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
