"""TLS helpers shared by the check types that speak TLS (SSL, SMTP, IMAP4, POP3, FTP, MYSQL, ...)."""

from __future__ import annotations

import functools
import os
import ssl
from datetime import UTC, datetime

from cryptography import x509

from prober.base import CheckResult


def client_context(verify: bool) -> ssl.SSLContext:
    """Certificate and host name verified with ``verify``; otherwise any certificate is accepted.

    Contexts are shared (loading the system CA store costs about 20 ms of CPU per run): callers must not
    change them; build a new one for per-check settings such as a client certificate.
    """
    if verify:
        # Keyed on where OpenSSL looks for the trust store, so a changed SSL_CERT_FILE is honoured.
        return _verifying_context(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
    return _UNVERIFIED


@functools.lru_cache(maxsize=8)
def _verifying_context(_cert_file: str | None, _cert_dir: str | None) -> ssl.SSLContext:
    return ssl.create_default_context()


def _unverified_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # no CA store: it would never be consulted
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


_UNVERIFIED = _unverified_context()


def peer_certificate(ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> x509.Certificate | None:
    """The peer's leaf certificate, also when it was not verified (``getpeercert()`` is empty then)."""
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    return x509.load_der_x509_certificate(der) if der else None


def expiry_failure(
    certificate: x509.Certificate | None, warningdays: int | None, now: datetime | None = None
) -> CheckResult | None:
    """A failing result when the certificate expires within ``warningdays`` days, else None."""
    if not warningdays or certificate is None:
        return None
    now = now or datetime.now(UTC)
    not_after = certificate.not_valid_after_utc
    if (not_after - now).total_seconds() <= warningdays * 86_400:
        return CheckResult.down("Certificate", f"Certificate expires {not_after:%Y-%m-%d %H:%M:%S} UTC")
    return None
