"""Certificate trust and host name matching (the SSL check; reusable by any type that verifies names).

Trust store: the system's (OpenSSL's default paths, which honour ``SSL_CERT_FILE`` and ``SSL_CERT_DIR``)
plus, when the environment variable ``VEDETTE_SSL_CA_FILE`` names a PEM bundle, the CAs in it: a private
PKI that only the probes should trust, or a test CA.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import ssl

from cryptography import x509
from cryptography.x509.oid import NameOID

from prober.base import ConfigError

CA_FILE_ENV = "VEDETTE_SSL_CA_FILE"

_ENV_KEYS = (CA_FILE_ENV, "SSL_CERT_FILE", "SSL_CERT_DIR")


class _Contexts:
    """Verifying contexts, built once per trust configuration (loading a CA store takes milliseconds)."""

    def __init__(self) -> None:
        self._built: dict[tuple[str, ...], ssl.SSLContext] = {}

    async def get(self) -> ssl.SSLContext:
        key = tuple(os.environ.get(name, "") for name in _ENV_KEYS)
        context = self._built.get(key)
        if context is None:
            context = await asyncio.to_thread(_build_context, key[0] or None)
            self._built[key] = context
        return context


_contexts = _Contexts()


async def verifying_context() -> ssl.SSLContext:
    """A client context that verifies the chain against the trust store; the name is checked separately
    (``matches_hostname``), so that an untrusted chain and a name mismatch are told apart."""
    return await _contexts.get()


def _build_context(cafile: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    if cafile:
        try:
            context.load_verify_locations(cafile=cafile)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"{CA_FILE_ENV}: cannot load {cafile}: {exc}") from None
    return context


def matches_hostname(certificate: x509.Certificate, name: str) -> bool:
    """Whether ``name`` matches a subjectAltName entry or the subject CN (``*.`` wildcards in the left-most
    label only; IP addresses against IP entries)."""
    wanted = _normalise(name)
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        san = None
    common_names = [
        _normalise(value.decode() if isinstance(value, bytes) else value)
        for value in (attr.value for attr in certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME))
    ]
    try:
        address = ipaddress.ip_address(wanted)
    except ValueError:
        address = None
    if address is not None:
        addresses = san.get_values_for_type(x509.IPAddress) if san is not None else []
        return address in addresses or wanted in common_names
    patterns = [_normalise(dns) for dns in san.get_values_for_type(x509.DNSName)] if san is not None else []
    return any(_dns_matches(pattern, wanted) for pattern in patterns + common_names)


def _normalise(name: str) -> str:
    name = name.strip().strip("[]").rstrip(".").lower()
    try:
        return name.encode("idna").decode("ascii")
    except UnicodeError:
        return name


def _dns_matches(pattern: str, name: str) -> bool:
    if pattern == name:
        return True
    if not pattern.startswith("*.") or len(pattern) < 3:
        return False
    first, dot, rest = name.partition(".")
    return bool(first and dot) and rest == pattern[2:]
