"""``vedette check run``: one-off checks from the command line against local listeners."""

from __future__ import annotations

import argparse
import http.server
import importlib.util
import json
import re
import threading
from collections.abc import Iterator

import pytest
from servers.ports import backlog_listener

from prober import cli
from prober.registry import BUILTIN_CHECKTYPES, Registry, load_registry


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry(autoload=False, builtins=["checktypes.http", "checktypes.port"])


@pytest.fixture
def listening_port() -> Iterator[int]:
    """A listening socket: the kernel completes the handshake, no accept loop needed."""
    with backlog_listener() as port:
        yield port


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def web_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_port_up(registry: Registry, listening_port: int, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["PORT", "--target", "127.0.0.1", "--param", f"port={listening_port}"], registry=registry)
    out = capsys.readouterr().out
    assert code == 0
    assert re.fullmatch(r"UP  PORT 127\.0\.0\.1 Connected Resolved: 127\.0\.0\.1 \d+\.\d ms\n", out), out


def test_port_refused(registry: Registry, closed_port: int, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["port", "-t", "127.0.0.1", "-p", f"port={closed_port}"], registry=registry)
    out = capsys.readouterr().out
    assert code == 1
    assert out.startswith("DOWN PORT 127.0.0.1 error Error: Connection refused ")


def test_invert_makes_refused_up(registry: Registry, closed_port: int) -> None:
    argv = ["PORT", "127.0.0.1", "--param", f"port={closed_port}", "--param", "invert=true"]
    assert cli.main(argv, registry=registry) == 0


def test_http_up_with_positional_target(
    registry: Registry, web_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["HTTP", f"{web_url}/", "--threshold", "3"], registry=registry)
    out = capsys.readouterr().out
    assert code == 0
    assert re.fullmatch(rf"UP  HTTP {re.escape(web_url)}/ 200 Success \d+\.\d ms\n", out), out


def test_http_down(registry: Registry, web_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["HTTP", "--target", f"{web_url}/missing"], registry=registry)
    assert code == 1
    assert "DOWN HTTP" in capsys.readouterr().out


def test_json_output(registry: Registry, listening_port: int, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["PORT", "--target", "127.0.0.1", "--param", f"port={listening_port}", "--json"]
    assert cli.main(argv, registry=registry) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["type"] == "PORT"
    assert (document["status"], document["su"], document["sc"]) == ("up", True, "Connected")
    assert document["rt"] > 0
    assert document["e"] >= document["s"] > 0


LOCAL_PORT = ("PORT", "--target", "127.0.0.1")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([*LOCAL_PORT], "port: Field required"),
        ([*LOCAL_PORT, "--param", "port=0"], "port: Input should be greater than or equal to 1"),
        ([*LOCAL_PORT, "-p", "port=22", "-p", "colour=red"], "colour: Extra inputs are not permitted"),
        ([*LOCAL_PORT, "--param", "port"], "--param expects KEY=VALUE, got 'port'"),
        (["PORT", "--param", "port=22"], "target: PORT checks need a target (--target)"),
        (["HTTP", "--target", "example.com"], "target: Target must begin with http:// or https://"),
        (["HTTP", "http://a/", "--target", "http://b/"], "two different targets given"),
        (["HTTP", "http://a/", "--param", 'follow={"deep": 1}'], "follow: Input should be a valid boolean"),
    ],
)
def test_usage_errors_exit_2_naming_the_field(
    registry: Registry, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(argv, registry=registry) == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert captured.out == ""


def test_unknown_type_lists_the_known_ones(registry: Registry, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["GOPHER", "--target", "x"], registry=registry) == 2
    assert "unknown check type 'GOPHER'; known types: HTTP, PORT" in capsys.readouterr().err


def test_unknown_type_with_the_default_registry(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = [name for name in BUILTIN_CHECKTYPES if importlib.util.find_spec(name) is None]
    if missing:
        pytest.skip(f"check-type modules not written yet: {', '.join(missing)}")
    monkeypatch.setenv("VEDETTE_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert cli.main(["GOPHER", "--target", "x"]) == 2
    err = capsys.readouterr().err
    assert "known types: AGENT, AUDIO, CLUSTER" in err
    assert "WHOIS" in err


def test_json_values_are_decoded_and_strings_kept(registry: Registry, closed_port: int) -> None:
    # "true" is JSON; a port given as a quoted JSON string still coerces.
    argv = ["PORT", "--target", "127.0.0.1", "--param", f'port="{closed_port}"', "--param", "invert=true"]
    assert cli.main(argv, registry=registry) == 0


def test_config_error_during_the_run_exits_2(registry: Registry, capsys: pytest.CaptureFixture[str]) -> None:
    # Passes check_target (the scheme is right) but the plugin cannot run it.
    assert cli.main(["HTTP", "--target", "http:///nohost"], registry=registry) == 2
    assert "Invalid URL - missing hostname" in capsys.readouterr().out


def test_arguments_mount_on_a_subcommand(registry: Registry, listening_port: int) -> None:
    """How ``vedette check run`` wires it: the arguments on a sub-parser, ``check_run`` as the handler."""
    parser = argparse.ArgumentParser(prog="vedette")
    check = parser.add_subparsers(dest="command").add_parser("check").add_subparsers(dest="action")
    run = check.add_parser("run")
    cli.add_check_run_arguments(run)
    args = parser.parse_args(
        ["check", "run", "PORT", "--target", "127.0.0.1", "--param", f"port={listening_port}"]
    )
    assert cli.check_run(args, registry=registry) == 0
