"""Field types and helpers shared by several built-in check types (not a check type itself)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator

from prober.base import (
    CheckContext,
    CheckParams,
    CheckResult,
    FieldSpec,
    StrIsh,
    coerce_bool,
    coerce_int,
    coerce_str,
)

# --- small normalisers ----------------------------------------------------------------------------


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


NonNegInt = Annotated[int, Field(ge=0), BeforeValidator(coerce_int)]
"""``warningdays`` and friends: a non-negative integer, also sent as a numeric string."""

StatusCode = Annotated[int, Field(ge=100, le=599), BeforeValidator(coerce_int)]
"""An HTTP status code (``statuscode``), also sent as a numeric string (``"200"``)."""

DnsType = Annotated[
    Literal["ANY", "A", "AAAA", "CNAME", "MX", "NS", "PTR", "SOA", "SRV", "TXT"], BeforeValidator(_upper)
]
"""A DNS query type (``dnstype``); lower case is accepted and normalised to upper case."""

Headers = dict[str, StrIsh]
"""A ``header: value`` (or form ``key: value``) object; numeric values become strings."""


def upper_enum(value: Any) -> Any:
    """Before-validator for case-insensitive enums stored upper case (``method``)."""
    return _upper(value)


def lower_enum(value: Any) -> Any:
    """Before-validator for case-insensitive enums stored lower case (``transport``, ``redistype``)."""
    return _lower(value)


# --- secure: false | ssl | starttls -----------------------------------------------------------------

_IMPLICIT_TLS = {"ssl", "tls", "true", "1", "yes", "on"}


def coerce_secure(value: Any) -> Any:
    """``secure``: ``false``/``"false"``, ``"ssl"``/``"tls"``/``true`` (implicit TLS) or ``"starttls"``."""
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _IMPLICIT_TLS:
            return "ssl"
        if lowered == "starttls":
            return "starttls"
    coerced = coerce_bool(value)
    if coerced is True:
        return "ssl"
    return coerced


Secure = Annotated[Literal[False, "ssl", "starttls"], BeforeValidator(coerce_secure)]
"""``False`` (plain), ``"ssl"`` (implicit TLS; also sent as ``tls``/``true``) or ``"starttls"``."""


# --- fields ---------------------------------------------------------------------------------------

FieldsMap = dict[str, FieldSpec]
"""``{"<random key>": {"name", "min"?, "max"?, "match"?}}`` (check-types.md §3.3)."""


def reject_match(fields: dict[str, FieldSpec] | None) -> dict[str, FieldSpec] | None:
    """``match`` is only meaningful for the database types (MYSQL, PGSQL, MONGODB)."""
    for key, spec in (fields or {}).items():
        if spec.match is not None:
            raise ValueError(f"match is only supported by MYSQL, PGSQL and MONGODB checks (entry {key!r})")
    return fields


# --- member lists (CLUSTER, SPEC10DNS, SPEC10RDDS) ------------------------------------------------


def _member_flag(value: Any) -> Any:
    coerced = coerce_bool(coerce_str(value))
    if coerced is True:
        return "1"
    if coerced is False:
        return "0"
    return value


MemberFlag = Annotated[Literal["1", "0"], BeforeValidator(_member_flag)]
"""``"1"`` lists a member check, ``"0"`` removes it (``1``/``0``/``true``/``false`` are accepted too)."""


def keep_members(data: dict[str, Literal["1", "0"]]) -> dict[str, Literal["1", "0"]]:
    """Drop the ``"0"`` entries and require at least one member."""
    members: dict[str, Literal["1", "0"]] = {key: "1" for key, flag in data.items() if flag == "1" and key}
    if not members:
        raise ValueError('must list at least one member check id with the value "1"')
    return members


class MemberParams(CheckParams):
    """Params of the aggregate types (CLUSTER, SPEC10DNS, SPEC10RDDS): a member list, no target."""

    TARGET_REQUIRED = False

    data: dict[str, MemberFlag]
    """Member checks: ``{"<check id>": "1"}``; ``"0"`` entries (removals) are dropped."""

    @field_validator("data")
    @classmethod
    def _members(cls, value: dict[str, Literal["1", "0"]]) -> dict[str, Literal["1", "0"]]:
        return keep_members(value)


def evaluate_members(members: dict[str, Literal["1", "0"]], ctx: CheckContext) -> CheckResult:
    """Pass iff at least ``threshold`` members are in state 1 (check-types.md §2.6).

    Members that are missing from ``ctx.member_states`` (deleted, disabled, never run) count as not passing.
    """
    total = len(members)
    passing = sum(1 for member in members if ctx.member_states.get(member) == 1)
    code = f"{passing}/{total}"
    message = f"{passing} of {total} checks passing (threshold {ctx.threshold})"
    if passing >= ctx.threshold:
        return CheckResult.up(code, message)
    return CheckResult.down(code, message)


# --- misc -----------------------------------------------------------------------------------------

_HEX = re.compile(r"[0-9A-Fa-f]*")


def is_hex(value: str) -> bool:
    return _HEX.fullmatch(value) is not None


def rename_alias(data: Any, alias: str, name: str) -> Any:
    """Before-validator helper: accept ``alias`` as another spelling of field ``name`` (``name`` wins)."""
    if isinstance(data, dict) and alias in data:
        data = dict(data)
        value = data.pop(alias)
        if value not in (None, ""):
            data.setdefault(name, value)
    return data


def drop_fields(data: Any, names: frozenset[str]) -> Any:
    """Before-validator helper: remove fields the type accepts but ignores (``IGNORED_FIELDS``)."""
    if isinstance(data, dict) and names.intersection(data):
        return {key: value for key, value in data.items() if key not in names}
    return data
