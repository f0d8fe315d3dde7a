"""The ``vedette`` command line, as real subprocesses: serve (graceful SIGTERM, restart on the same
database), token create/list/revoke against a running server, --help, and ``check run``."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.error import HTTPError

import pytest
from servers.common import free_port, wait_until
from servers.vedette_serve import (
    REPO,
    TOKEN_LINE,
    Served,
    TcpListener,
    first_start,
    start_serve,
    subprocess_env,
)


def vedette(*args: str) -> subprocess.CompletedProcess[str]:
    (done,) = vedette_many(args)
    return done


def vedette_many(*commands: tuple[str, ...], timeout: float = 30) -> list[subprocess.CompletedProcess[str]]:
    """Run ``python -m api.cli`` commands concurrently (each start costs a second of imports)."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "api.cli", *args],
            cwd=REPO,
            env=subprocess_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in commands
    ]
    done = []
    for args, proc in zip(commands, procs, strict=True):
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        done.append(subprocess.CompletedProcess(list(args), proc.returncode, out, err))
    return done


# --- a real `vedette serve` -----------------------------------------------------------------------


_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def call(
    base: str, method: str, path: str, token: str, body: dict[str, Any] | None = None
) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{base}{path}?token={token}", data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with _NO_PROXY.open(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except HTTPError as err:
        with err:
            return err.code, json.loads(err.read())


@pytest.fixture
def listener() -> Iterator[TcpListener]:
    with TcpListener() as tcp:
        yield tcp


# --- serve: graceful SIGTERM and restart ----------------------------------------------------------


def result_ids(base: str, token: str, check_id: str) -> set[str]:
    status, body = call(base, "GET", f"results/{check_id}", token)
    assert status == 200 and isinstance(body, list), body
    return {record["doc"]["_id"] if "doc" in record else record["_id"] for record in body}


def test_serve_sigterm_keeps_results_and_restart_prints_no_tokens(
    tmp_path: Path, listener: TcpListener
) -> None:
    db_url = f"sqlite+aiosqlite:///{tmp_path}/v.db"
    served, rw, ro = first_start(tmp_path, db_url)
    try:
        assert served.output().startswith("Vedette listening on http://127.0.0.1:")
        # A check's first run is spread over its interval (15 s here); with several checks one comes soon.
        check_ids = []
        for n in range(8):
            status, check = call(
                served.base,
                "POST",
                "checks",
                rw,
                {"type": "PORT", "target": "127.0.0.1", "port": listener.port, "interval": 0.25}
                | {"enabled": True, "sens": 0, "label": f"graceful-{n}"},
            )
            assert status == 200, check
            check_ids.append(check["_id"])
        wait_until(
            lambda: any(result_ids(served.base, ro, c) for c in check_ids),
            served.proc,
            timeout=30,
            interval=0.2,
        )
        before = {check_id: result_ids(served.base, ro, check_id) for check_id in check_ids}
    finally:
        code = served.stop()
    assert code == 0, f"exit status {code} on SIGTERM\n{served.logs()}"
    assert sum(len(ids) for ids in before.values()) >= 1

    again = start_serve(tmp_path, db_url)
    try:
        after = {check_id: result_ids(again.base, ro, check_id) for check_id in check_ids}
        status, body = call(again.base, "GET", "checks", rw)  # the first start's tokens still work
        assert status == 200 and set(check_ids) <= set(body), body
    finally:
        code = again.stop()
    assert code == 0, f"exit status {code} on SIGTERM after restart\n{again.logs()}"
    for check_id in check_ids:
        assert before[check_id] <= after[check_id], check_id
    assert "token" not in again.output().lower(), again.output()
    assert not TOKEN_LINE.search(again.output())


# --- token management -----------------------------------------------------------------------------


@dataclass
class Server:
    served: Served
    db_url: str
    rw: str
    ro: str
    created: dict[str, str]
    """Tokens made with ``vedette token create`` while the server runs, by label."""


def token_from(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    assert re.fullmatch(r"[0-9A-Za-z_-]{16,}", token), done.stdout
    return token


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("vedette-cli")
    db_url = f"sqlite+aiosqlite:///{workdir}/v.db"
    served, rw, ro = first_start(workdir, db_url)
    try:
        made = vedette_many(
            ("token", "create", "--db", db_url, "--label", "automation"),
            ("token", "create", "--read-only", "--db", db_url),
            ("token", "create", "--label", "to-revoke", "--db", db_url),
        )
        created = dict(zip(("automation", "read-only", "to-revoke"), map(token_from, made), strict=True))
        yield Server(served, db_url, rw, ro, created)
    finally:
        code = served.stop()
    assert code == 0, f"exit status {code} on SIGTERM\n{served.logs()}"


def test_token_create_authenticates(server: Server) -> None:
    token = server.created["automation"]
    assert token not in (server.rw, server.ro)
    status, body = call(server.served.base, "GET", "accounts", token)
    assert status == 200 and "error" not in body, body
    status, check = call(server.served.base, "POST", "checks", token, {"type": "PING", "target": "192.0.2.1"})
    assert status == 200 and check["type"] == "PING", check


def test_token_create_read_only(server: Server) -> None:
    token = server.created["read-only"]
    status, body = call(server.served.base, "GET", "checks", token)
    assert status == 200 and isinstance(body, dict), body
    status, body = call(server.served.base, "POST", "checks", token, {"type": "PING", "target": "192.0.2.1"})
    assert (status, body) == (403, {"error": "Insufficient permissions"})


def test_token_list_shows_prefixes_never_tokens(server: Server) -> None:
    done = vedette("token", "list", "--db", server.db_url)
    assert done.returncode == 0, done.stderr
    listing = done.stdout
    for full in (server.rw, server.ro, *server.created.values()):
        assert full[:8] in listing
        assert full not in listing
    line = next(line for line in listing.splitlines() if "automation" in line)
    assert server.created["automation"][:8] in line and "read-write" in line
    line = next(line for line in listing.splitlines() if server.created["read-only"][:8] in line)
    assert "read-only" in line


def test_token_revoke_by_prefix(server: Server) -> None:
    token = server.created["to-revoke"]
    assert call(server.served.base, "GET", "checks", token)[0] == 200
    done = vedette("token", "revoke", token[:8], "--db", server.db_url)
    assert done.returncode == 0, done.stderr
    assert call(server.served.base, "GET", "checks", token) == (403, {"error": "Invalid token"})
    assert call(server.served.base, "GET", "checks", server.rw)[0] == 200  # others are untouched
    again = vedette("token", "--db", server.db_url, "revoke", token[:8])  # --db before the action works too
    assert again.returncode == 1 and "no such token" in again.stderr


# --- help and check run ---------------------------------------------------------------------------


def test_help() -> None:
    done, serve = vedette_many(("--help",), ("serve", "--help"))
    assert done.returncode == 0, done.stderr
    for command in ("serve", "check", "token"):
        assert command in done.stdout
    assert serve.returncode == 0, serve.stderr
    for flag in (
        "--host",
        "--port",
        "--db",
        "--probes",
        "--no-probe",
        "--shutdown-grace",
        "--retention-days",
    ):
        assert flag in serve.stdout, flag
    assert "VEDETTE_DATABASE_URL" in serve.stdout and "tokens" in serve.stdout


def test_check_run_port(listener: TcpListener) -> None:
    up, down = vedette_many(
        ("check", "run", "PORT", "127.0.0.1", "--param", f"port={listener.port}"),
        ("check", "run", "PORT", "127.0.0.1", "--param", f"port={free_port()}"),
    )
    assert up.returncode == 0, (up.stdout, up.stderr)
    assert "UP" in up.stdout.split()
    assert down.returncode == 1, (down.stdout, down.stderr)
    assert "DOWN" in down.stdout.split()
