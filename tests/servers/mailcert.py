"""A self-signed TLS certificate for the mail daemons (dovecot, exim) of the mail check-type tests.

Fixture:

- ``mail_certificate`` (session): a P-256 certificate for ``localhost`` and ``127.0.0.1`` that is its own
  issuer (so clients with the default trust store reject it as "self-signed"), valid for two days (so
  ``warningdays`` 3 fails and 1 passes). Trusting it is a matter of pointing ``SSL_CERT_FILE`` at
  ``cert_path``. Files live in a 0755 directory with a 0644 key: exim reads it as Debian-exim.
- ``trust_mail_certificate`` (function): makes that certificate a trusted root for one test.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from .common import make_daemon_dir

VALID_DAYS = 2


@dataclass(frozen=True)
class MailCertificate:
    cert_path: str
    key_path: str
    not_after: datetime.datetime


def write_self_signed(directory: str, days: int = VALID_DAYS) -> MailCertificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    not_after = now + datetime.timedelta(days=days)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(not_after)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = os.path.join(directory, "cert.pem")
    key_path = os.path.join(directory, "key.pem")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    os.chmod(cert_path, 0o644)
    os.chmod(key_path, 0o644)
    return MailCertificate(cert_path=cert_path, key_path=key_path, not_after=not_after)


@pytest.fixture(scope="session")
def mail_certificate() -> Iterator[MailCertificate]:
    directory = make_daemon_dir("mailcert-")
    try:
        yield write_self_signed(directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def trust_mail_certificate(monkeypatch: pytest.MonkeyPatch, mail_certificate: MailCertificate) -> None:
    """Make the self-signed certificate a trusted root for this test (OpenSSL reads SSL_CERT_FILE)."""
    monkeypatch.setenv("SSL_CERT_FILE", mail_certificate.cert_path)
