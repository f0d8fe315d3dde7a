"""Secrets in check parameters: what read-only tokens see instead of passwords, tokens and URL userinfo."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from api.nodeping.request import is_empty

MASK = "********"


def mask_url_password(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:{MASK}@{parts.hostname or ''}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def mask_secrets(value: Any, secret_fields: frozenset[str]) -> Any:
    """Replace passwords, tokens and URL userinfo passwords for read-only tokens (at any depth)."""
    if isinstance(value, dict):
        return {
            key: MASK
            if (key in secret_fields or key == "password") and not is_empty(item)
            else mask_secrets(item, secret_fields)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [mask_secrets(item, secret_fields) for item in value]
    if isinstance(value, str) and "@" in value and "://" in value:
        return mask_url_password(value)
    return value
