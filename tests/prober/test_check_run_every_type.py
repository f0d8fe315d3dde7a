"""``vedette check run`` works for every runnable type through the same registry and runner: a real local
listener for the up cases, a closed port for the down cases."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from prober.cli import main
from prober.registry import load_registry

PASSIVE = {"AGENT", "PUSH"}


def invocation(check_type: str, port: int) -> list[str]:
    """A down check for each type: its server is a closed port on 127.0.0.1 (or an unknown member)."""
    host = "127.0.0.1"
    target: dict[str, str] = {
        "HTTP": f"http://{host}:{port}/", "HTTPADV": f"http://{host}:{port}/",
        "HTTPCONTENT": f"http://{host}:{port}/", "HTTPPARSE": f"http://{host}:{port}/",
        "AUDIO": f"http://{host}:{port}/stream", "DOHDOT": f"https://{host}:{port}/dns-query",
        "WEBSOCKET": f"ws://{host}:{port}/", "SSL": f"https://{host}:{port}/",
        "PGSQL": f"postgres://u:p@{host}:{port}/db", "MONGODB": f"mongodb://{host}:{port}/",
        "REDIS": f"redis://{host}:{port}/0", "SIP": f"{host}:{port}", "RDP": f"{host}:{port}",
        "WHOIS": "example.test", "RBL": host, "PING": "127.0.0.1", "MTR": "127.0.0.1",
    }  # fmt: skip
    params: dict[str, Any] = {
        "PORT": {"port": port}, "FTP": {"port": port}, "SSH": {"port": port}, "SMTP": {"port": port},
        "IMAP4": {"port": port}, "POP3": {"port": port}, "MYSQL": {"port": port}, "NTP": {"port": port},
        "DNS": {"port": port, "transport": "tcp"},
        "SNMP": {"port": port, "fields": {"A": {"name": "1.3.6.1.2.1.1.3.0"}}},
        "HTTPPARSE": {"fields": {"A": {"name": "x"}}}, "WHOIS": {"whoisserver": f"{host}:{port}"},
        "CLUSTER": {"data": {"NO-SUCH-CHECK": "1"}}, "SPEC10DNS": {"data": {"NO-SUCH-CHECK": "1"}},
        "SPEC10RDDS": {"data": {"NO-SUCH-CHECK": "1"}},
    }  # fmt: skip
    args = [check_type]
    if check_type not in ("CLUSTER", "SPEC10DNS", "SPEC10RDDS"):
        args.append(target.get(check_type, host))
    for key, value in params.get(check_type, {}).items():
        args += ["--param", f"{key}={json.dumps(value) if isinstance(value, dict) else value}"]
    return [*args, "--threshold", "2", "--json"]


ACTIVE = sorted(t.name for t in load_registry(autoload=False) if t.name not in PASSIVE)


@pytest.mark.parametrize("check_type", ACTIVE)
def test_check_run_reports_a_result_for_every_type(
    check_type: str, closed_port: int, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VEDETTE_RBL_LISTS", "bl.invalid")
    monkeypatch.setenv("VEDETTE_RBL_RESOLVER", f"127.0.0.1:{closed_port}")
    code = main(invocation(check_type, closed_port))
    out = capsys.readouterr()
    result = json.loads(out.out)
    assert result["type"] == check_type
    if check_type in ("PING", "MTR"):  # 127.0.0.1 answers; without ICMP rights it is a config error (2)
        assert code == (0 if os.geteuid() == 0 else code) and code in (0, 2), out
        return
    if check_type == "RBL":  # the only blocklist cannot be asked: not listed, so up
        assert (code, result["status"]) == (0, "up"), out
        return
    assert code == 1, out
    assert result["status"] in ("down", "error") and result["su"] is False
