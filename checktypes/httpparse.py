"""HTTPPARSE: HTTP(S) GET of JSON (or `key: number` text); tests the configured fields."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import field_validator

from checktypes import _http
from checktypes._common import FieldsMap, Headers, reject_match
from checktypes._fields import evaluate_fields, flatten
from prober.base import (
    BoolIsh,
    CheckContext,
    CheckParams,
    CheckResult,
    ConfigError,
    FieldSpec,
    require_http_url,
)

NAME = "HTTPPARSE"

# "Active connections: 3", "load: 0.25", "uptime:-1": a word, a colon, a number.
_WORD_NUMBER = re.compile(r"\b(\w+):[ \t]*(-?(?:\d+(?:\.\d+)?|\.\d+))(?![\w.])")


class Params(CheckParams):
    fields: FieldsMap | None = None
    """Values to extract (flattened JSON paths) and test against ``min``/``max``. Optional when the check is
    stored (nodeping-api sends ``fields: ""`` by default); a run without any is a configuration error."""
    sendheaders: Headers | None = None
    ipv6: BoolIsh = False

    @field_validator("fields")
    @classmethod
    def _no_match(cls, value: dict[str, FieldSpec] | None) -> dict[str, FieldSpec] | None:
        return reject_match(value) or None

    @classmethod
    def check_target(cls, target: str) -> str:
        return require_http_url(target)


async def run(params: Params, ctx: CheckContext) -> CheckResult:
    if not params.fields:
        raise ConfigError("Missing fields to parse")
    url = _http.parse_target(ctx.target)
    headers = _http.request_headers(ctx, params.sendheaders)
    watch = _http.Stopwatch(ctx)
    text = ""
    try:
        async with _http.request(url, headers, ipv6=params.ipv6, compressed=True) as response:
            status = response.status
            if 200 <= status <= 398:
                text = _http.body_text(response, await _http.read_body(response))
    except _http.HTTPDown as down:
        return down.result()
    if watch.too_slow():
        return CheckResult.down("Timeout", "Timeout")
    if not 200 <= status <= 398:
        return CheckResult.down(status, f"HTTP return status: {status}")
    values = extract_values(text)
    if not values:
        return CheckResult.down("Fail", "No fields found in response")
    return evaluate_fields(params.fields, values)


def extract_values(text: str) -> dict[str, Any]:
    """A JSON object or array flattened to dot paths; otherwise every ``word: number`` (the first wins)."""
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict | list):
        return flatten(data)
    values: dict[str, Any] = {}
    for match in _WORD_NUMBER.finditer(text):
        values.setdefault(match.group(1), match.group(2))
    return values
