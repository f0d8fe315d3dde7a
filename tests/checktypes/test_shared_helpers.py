"""The helpers check types share: fields evaluation (§3.3) and certificate expiry."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta

import trustme

from prober.base import FieldSpec

fields_module = importlib.import_module("checktypes._fields")
tls_module = importlib.import_module("checktypes._tls")


def test_flatten_uses_dot_paths_and_indexes() -> None:
    data = {"a": {"b": [{"c": 1}, 2]}, "load": {"1min": 0.3}, "empty": {}, "disk": {"/": 0.9}}
    assert fields_module.flatten(data) == {
        "a.b.0.c": 1,
        "a.b.1": 2,
        "load.1min": 0.3,
        "empty": {},
        "disk./": 0.9,
    }


def test_fields_pass_with_tracking() -> None:
    fields = {"K1": FieldSpec(name="load.1min", min=0, max=1), "K2": FieldSpec(name="name", match="^web")}
    result = fields_module.evaluate_fields(fields, {"load.1min": "0.5", "name": "web-1"}, ok_message="All ok")
    assert result.success and result.message == "All ok"
    assert result.fieldtracking == {"K1": 0.5, "K2": "web-1"}


def test_fields_report_every_error() -> None:
    fields = {
        "a": FieldSpec(name="low", min=10),
        "b": FieldSpec(name="high", max="5"),
        "c": FieldSpec(name="gone"),
        "d": FieldSpec(name="word", match="^x$"),
    }
    result = fields_module.evaluate_fields(fields, {"low": 3, "high": 7.5, "word": "y"})
    assert not result.success
    assert result.message == "low:3 (min 10). high:7.5 (max 5). gone:absent. word:y (match ^x$)"
    snmp = fields_module.evaluate_fields({"a": FieldSpec(name="1.3.6")}, {}, absent_sep=": ")
    assert snmp.message == "1.3.6: absent"


def test_certificate_expiry_window() -> None:
    ca = trustme.CA()
    pem = ca.issue_cert("localhost").cert_chain_pems[0].bytes()
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(pem)
    not_after = cert.not_valid_after_utc
    assert tls_module.expiry_failure(cert, None) is None
    assert tls_module.expiry_failure(cert, 30, now=not_after - timedelta(days=31)) is None
    failure = tls_module.expiry_failure(cert, 30, now=not_after - timedelta(days=29))
    assert failure is not None and not failure.success
    assert failure.message == f"Certificate expires {not_after:%Y-%m-%d %H:%M:%S} UTC"
    assert tls_module.expiry_failure(cert, 1, now=datetime.now(UTC)) is None
