"""``fields`` evaluation (check-types.md §3.3), shared by HTTPPARSE, PUSH, SNMP, MYSQL, PGSQL and MONGODB."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from prober.base import CheckResult, FieldSpec

FIELDS_OK = "All fields within parameters"
QUERY_OK = "All query results within parameters"


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Nested objects become dot paths, arrays use the index: ``{"a": {"b": [{"c": 1}]}}`` -> ``a.b.0.c``."""
    flat: dict[str, Any] = {}
    if isinstance(data, Mapping):
        items: Any = data.items()
    elif isinstance(data, list | tuple):
        items = enumerate(data)
    else:
        return {prefix: data} if prefix else {}
    for key, value in items:
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping | list | tuple) and value:
            flat.update(flatten(value, path))
        else:
            flat[path] = value
    return flat


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _matches(value: Any, pattern: str) -> bool:
    text = str(value)
    if text == pattern:
        return True
    try:
        return re.search(pattern, text) is not None
    except re.error:
        return False


def evaluate_fields(
    fields: Mapping[str, FieldSpec],
    values: Mapping[str, Any],
    *,
    ok_message: str = FIELDS_OK,
    absent_sep: str = ":",
) -> CheckResult:
    """Test each field against ``values`` (already flattened); every error is reported, joined by ". "."""
    errors: list[str] = []
    tracking: dict[str, Any] = {}
    for key, spec in fields.items():
        if spec.name not in values:
            errors.append(f"{spec.name}{absent_sep}absent")  # SNMP writes "<oid>: absent"
            continue
        value = values[spec.name]
        number = _number(value)
        tracking[key] = number if number is not None else str(value)[:99]
        if spec.min is not None and (number is None or number < spec.min):
            errors.append(f"{spec.name}:{value} (min {_plain(spec.min)})")
        if spec.max is not None and (number is None or number > spec.max):
            errors.append(f"{spec.name}:{value} (max {_plain(spec.max)})")
        if spec.match is not None and not _matches(value, spec.match):
            errors.append(f"{spec.name}:{str(value)[:100]} (match {spec.match})")
    if errors:
        return CheckResult.down("Fail", ". ".join(errors), fieldtracking=tracking)
    return CheckResult.up("OK", ok_message, fieldtracking=tracking)


def _plain(number: float) -> str:
    return str(int(number)) if number.is_integer() else str(number)
