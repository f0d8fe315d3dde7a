"""Secrets in check parameters (passwords, keys, communities, URL userinfo, push tokens) never reach a
read-only token and never reach the logs or the stored result, whatever the check type."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from prober.base import CheckContext
from prober.registry import load_registry
from prober.runner import run_check, timeout_for

SECRET = "Sw0rdf1sh-s3cret"
PEM_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\n" + SECRET + "\n-----END OPENSSH PRIVATE KEY-----"

# (type, target, fields): each carries SECRET somewhere a careless renderer would show it.
SECRET_BEARING: list[tuple[str, str, dict[str, Any]]] = [
    ("SMTP", "127.0.0.1", {"username": "u", "password": SECRET}),
    ("IMAP4", "127.0.0.1", {"username": "u", "password": SECRET}),
    ("POP3", "127.0.0.1", {"username": "u", "password": SECRET}),
    ("FTP", "127.0.0.1", {"username": "u", "password": SECRET}),
    ("SSH", "127.0.0.1", {"username": "u", "password": SECRET}),
    ("SSH", "127.0.0.1", {"username": "u", "sshkey": PEM_KEY}),
    ("MYSQL", "127.0.0.1", {"username": "u", "password": SECRET, "database": "d"}),
    ("PGSQL", f"postgres://u:{SECRET}@127.0.0.1:1/db", {}),
    ("MONGODB", f"mongodb://u:{SECRET}@127.0.0.1:1/db", {}),
    ("REDIS", f"redis://:{SECRET}@127.0.0.1:1/0", {}),
    ("REDIS", "redis://127.0.0.1:1/0", {"redistype": "sentinel", "sentinelname": "m",
                                        "hosts": {"A": {"host": "127.0.0.1", "port": 1, "password": SECRET}}}),
    ("SNMP", "127.0.0.1", {"snmpcom": SECRET, "fields": {"A": {"name": "1.3.6.1.2.1.1.3.0"}}}),
    ("SNMP", "127.0.0.1", {"snmpv": "3", "snmpuser": "u", "snmpauthpass": SECRET, "snmpprivpass": SECRET,
                           "fields": {"A": {"name": "1.3.6.1.2.1.1.3.0"}}}),
    ("HTTP", f"http://u:{SECRET}@127.0.0.1:1/", {}),
]  # fmt: skip
IDS = [f"{t}-{i}" for i, (t, _, _) in enumerate(SECRET_BEARING)]


@pytest.mark.parametrize(("check_type", "target", "fields"), SECRET_BEARING, ids=IDS)
async def test_read_only_tokens_never_see_secrets(
    api: Any, check_type: str, target: str, fields: dict[str, Any]
) -> None:
    created = await api.create(type=check_type, target=target, **fields)
    assert SECRET in json.dumps(created)  # the read-write owner does see what it stored
    check_id = created["_id"]
    for path, params in (
        (f"checks/{check_id}", {}),
        ("checks", {"lastresult": "true"}),
        ("checks", {"uptime": 1}),
    ):
        body = await api.call("GET", path, token=api.ro_token, params=params, expect=200)
        assert SECRET not in json.dumps(body), (path, body)
    assert SECRET not in created["label"]  # a label defaulted from the target never holds it


@pytest.mark.parametrize(("check_type", "target", "fields"), SECRET_BEARING, ids=IDS)
async def test_runs_never_log_or_report_secrets(
    caplog: pytest.LogCaptureFixture, check_type: str, target: str, fields: dict[str, Any], closed_port: int
) -> None:
    registry = load_registry(autoload=False)
    plugin = registry.get(check_type)
    params = dict(fields)
    if "port" in plugin.params.model_fields and "://" not in target:
        params["port"] = closed_port
    target = target.replace(":1/", f":{closed_port}/")
    ctx = CheckContext(target=target, threshold=2, timeout=timeout_for(plugin, 2))
    with caplog.at_level(logging.DEBUG):
        result = await run_check(plugin, params, ctx)
    assert not result.success
    assert SECRET not in caplog.text
    assert SECRET not in result.message
    assert SECRET not in json.dumps(result.details or {}, default=str)
