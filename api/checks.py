"""Checks as the NodePing API sees them: validating a create or update into a stored row, and rendering a
stored row as the check object (nodeping-api.md §6, check-types.md §1).

Validation is two-step: the common fields here, then the type's own ``Params`` from the registry. The
first error wins and names its field; nothing is written unless everything validates.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from api import ids
from api.errors import ApiError
from api.nodeping.request import as_bool, is_empty
from api.probes import ProbeMap
from api.secrets import mask_secrets, mask_url_password
from prober.registry import CheckType, Registry
from prober.runner import validation_message

COMMON_FIELDS = frozenset(
    {
        "type",
        "target",
        "label",
        "interval",
        "enabled",
        "enable",
        "public",
        "autodiag",
        "runlocations",
        "homeloc",
        "threshold",
        "sens",
        "notifications",
        "dep",
        "mute",
        "description",
        "tags",
    }
)
REQUEST_FIELDS = frozenset({"token", "customerid", "id", "action", "json", "url", "_id", "disableall"})
VALID_SUB_MINUTE = (0.25, 0.5)
MAX_INTERVAL = 1440
MAX_SENS = 10
MAX_DESCRIPTION = 1000
CANNOT_RUN_ON_AGENT = frozenset({"AGENT", "PUSH", "CLUSTER", "SPEC10DNS", "SPEC10RDDS"})

ExistsCheck = Callable[[str], Awaitable[str | None]]
"""Given a check id of the same account, its type, or None when there is no such check."""


def _number(value: Any, field: str) -> float:
    if isinstance(value, bool):
        raise ApiError(f"Invalid {field}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ApiError(f"Invalid {field}") from None


def validate_interval(value: Any) -> float | int:
    number = _number(value, "interval")
    if number in VALID_SUB_MINUTE:
        return number
    if not number.is_integer() or not 1 <= number <= MAX_INTERVAL:
        raise ApiError("Invalid interval: must be 0.25, 0.5 or a whole number of minutes from 1 to 1440")
    return int(number)


def _bounded_int(value: Any, field: str, low: int, high: int | None) -> int:
    number = _number(value, field)
    if not number.is_integer() or number < low or (high is not None and number > high):
        bounds = f"from {low} to {high}" if high is not None else f"of at least {low}"
        raise ApiError(f"Invalid {field}: must be a whole number {bounds}")
    return int(number)


def validate_mute(value: Any) -> bool | int:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"\d+", text):
            return int(text)
        if text.lower() in ("true", "false", "1", "0", ""):
            return as_bool(text)
    raise ApiError("Invalid mute: must be true, false or a timestamp in milliseconds")


def validate_notifications(value: Any) -> list[dict[str, Any]]:
    """The array form, with the legacy object form ``{"KEY": "All"}`` normalised (nodeping-api.md §6.5)."""
    if isinstance(value, dict):
        value = [
            {
                key: item
                if isinstance(item, dict)
                else ("None" if item == "None" else {"delay": 0, "schedule": str(item)})
            }
            for key, item in value.items()
        ]
    if not isinstance(value, list):
        raise ApiError("Invalid notifications: must be an array of {contact id: {delay, schedule}}")
    entries: list[dict[str, Any]] = []
    for entry in value:
        if not isinstance(entry, dict) or len(entry) != 1:
            raise ApiError("Invalid notifications: each entry must be {contact id: {delay, schedule}}")
        ((key, spec),) = entry.items()
        if not isinstance(key, str) or not key:
            raise ApiError("Invalid notifications: empty contact id")
        if spec == "None":
            entries.append({key: "None"})
            continue
        if not isinstance(spec, dict):
            raise ApiError(f"Invalid notifications: {key} must map to {{delay, schedule}}")
        unknown = set(spec) - {"delay", "schedule"}
        if unknown:
            raise ApiError(f"Invalid notifications: unknown key {sorted(unknown)[0]} for {key}")
        delay = _bounded_int(spec.get("delay", 0) or 0, "notifications delay", 0, 10080)
        schedule = spec.get("schedule") or "All"
        if not isinstance(schedule, str):
            raise ApiError(f"Invalid notifications: schedule for {key} must be a name")
        entries.append({key: {"delay": delay, "schedule": schedule}})
    return entries


def merge_notifications(current: list[dict[str, Any]], update: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Any ``"None"`` entry means merge (remove those, add or replace the rest); otherwise replace."""
    removals = {key for entry in update for key, spec in entry.items() if spec == "None"}
    if not removals:
        return update
    changed = {key: spec for entry in update for key, spec in entry.items() if spec != "None"}
    kept = [entry for entry in current if not (set(entry) & (removals | set(changed)))]
    return kept + [{key: spec} for key, spec in changed.items()]


@dataclass
class CheckValidator:
    registry: Registry
    probes: ProbeMap

    def check_type(self, name: Any) -> CheckType:
        if not isinstance(name, str) or name.upper() not in self.registry:
            raise ApiError("Invalid check type")
        return self.registry.get(name)

    def split_fields(self, check_type: CheckType, params: Mapping[str, Any]) -> dict[str, Any]:
        """The type-specific fields of a request. A known field of another type is an error unless blank."""
        own = set(check_type.params.model_fields) | check_type.params.ALIASES
        others = self.registry.all_field_names() - own - check_type.params.IGNORED_FIELDS - COMMON_FIELDS
        specific: dict[str, Any] = {}
        for key, value in params.items():
            if key in own:
                specific[key] = value
            elif key in others and not is_empty(value) and value is not False and value != "false":
                raise ApiError(f"{key} is not valid for {check_type.name} checks")
        return specific

    def validate_params(self, check_type: CheckType, specific: Mapping[str, Any]) -> dict[str, Any]:
        try:
            model = check_type.params.model_validate(specific)
        except ValidationError as exc:
            raise ApiError(validation_message(exc)) from None
        return model.model_dump(mode="json", exclude_none=True)

    def validate_target(self, check_type: CheckType, target: Any) -> str:
        if is_empty(target):
            if check_type.params.TARGET_REQUIRED:
                raise ApiError("Target is required")
            return ""
        if not isinstance(target, str):
            raise ApiError("Invalid target: must be a string")
        try:
            return check_type.params.check_target(target.strip())
        except ValueError as exc:
            raise ApiError(str(exc)) from None

    async def validate_locations(
        self, check_type: CheckType, runlocations: Any, homeloc: Any, account_check_type: ExistsCheck
    ) -> tuple[Any, Any]:
        if is_empty(runlocations) or runlocations is False or runlocations == "false":
            runlocations = None
        elif isinstance(runlocations, str):
            if runlocations not in self.probes.regions and runlocations not in self.probes.probes:
                if await account_check_type(runlocations) != "AGENT":
                    raise ApiError(f"Invalid runlocations: unknown region, probe or AGENT {runlocations}")
                if check_type.name in CANNOT_RUN_ON_AGENT:
                    raise ApiError(f"{check_type.name} checks cannot be run on an AGENT")
        elif isinstance(runlocations, list):
            unknown = [code for code in runlocations if code not in self.probes.probes]
            if unknown:
                raise ApiError(f"Invalid runlocations: unknown probe {unknown[0]}")
        else:
            raise ApiError("Invalid runlocations: must be a region, a list of probes or an AGENT id")
        if is_empty(homeloc) or homeloc is False or homeloc == "false":
            homeloc = None
        elif homeloc != "roam" and homeloc not in self.probes.probes:
            raise ApiError(f"Invalid homeloc: must be false, roam or a probe id, not {homeloc}")
        return runlocations, homeloc

    async def build(
        self,
        params: Mapping[str, Any],
        account_check_type: ExistsCheck,
        current: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Validate a create (``current`` None) or an update of ``current`` into the values to write."""
        creating = current is None
        if creating:
            check_type = self.check_type(params.get("type"))
        else:
            assert current is not None
            check_type = self.registry.get(current["type"])
            if not is_empty(params.get("type")) and str(params["type"]).upper() != current["type"]:
                raise ApiError("Check type cannot be changed")
        stored: dict[str, Any] = dict(current["parameters"]) if current else {}
        values: dict[str, Any] = {}

        # type-specific parameters: on update, merge into what is stored (dicts key by key)
        specific = self.split_fields(check_type, params)
        if creating:
            merged = {k: v for k, v in specific.items() if not is_empty(v)}
        else:
            merged = {k: v for k, v in stored.items() if k not in ("target", "threshold", "sens")}
            for key, value in specific.items():
                if is_empty(value) or value == "None":
                    merged.pop(key, None)
                elif isinstance(value, dict) and isinstance(merged.get(key), dict):
                    combined = {**merged[key], **value}
                    merged[key] = {k: v for k, v in combined.items() if v is not None and v != "None"}
                else:
                    merged[key] = value
        parameters = self.validate_params(check_type, merged)

        if creating or ("target" in params and not is_empty(params["target"])):
            target = self.validate_target(check_type, params.get("target"))
        else:
            target = stored.get("target", "")
        threshold = stored.get("threshold", 5)
        if not is_empty(params.get("threshold")):
            threshold = _bounded_int(
                params["threshold"], "threshold", 1, 100 if check_type.name == "MTR" else None
            )
        sens = stored.get("sens", 2)
        if not is_empty(params.get("sens")):
            sens = _bounded_int(params["sens"], "sens", 0, MAX_SENS)
        values["parameters"] = {"target": target, "threshold": threshold, "sens": sens, **parameters}

        if creating or "label" in params:
            label = params.get("label")
            if not is_empty(label) and not isinstance(label, str | int | float):
                raise ApiError("Invalid label: must be a string")
            # A target's URL password never becomes the label, which every token can read.
            values["label"] = str(label) if not is_empty(label) else mask_url_password(target)
        if creating or not is_empty(params.get("interval")):
            raw_interval = params.get("interval")
            values["interval"] = validate_interval(raw_interval if not is_empty(raw_interval) else 15)
        for flag, column in (("public", "public"), ("autodiag", "autodiag")):
            if creating or flag in params:
                values[column] = as_bool(params.get(flag))
        enabled_raw = params.get("enabled", params.get("enable"))
        if creating or enabled_raw is not None:
            values["enabled"] = as_bool(enabled_raw)
        if creating or "runlocations" in params or "homeloc" in params:
            runlocations, homeloc = await self.validate_locations(
                check_type,
                params.get("runlocations", current.get("runlocations") if current else None),
                params.get("homeloc", current.get("homeloc") if current else None),
                account_check_type,
            )
            values["runlocations"], values["homeloc"] = runlocations, homeloc
        if creating or "dep" in params:
            dep = params.get("dep")
            if is_empty(dep) or dep is False or dep == "false":
                values["dep"] = None
            else:
                if not isinstance(dep, str) or (current is not None and dep == current["id"]):
                    raise ApiError("Invalid dep: must be the id of another check")
                if await account_check_type(dep) is None:
                    raise ApiError(f"Invalid dep: no check {dep} in this account")
                values["dep"] = dep
        if creating or "mute" in params:
            mute = params.get("mute")
            values["mute"] = False if is_empty(mute) else validate_mute(mute)
        if creating or "description" in params:
            description = params.get("description")
            description = "" if is_empty(description) else str(description)
            if len(description) > MAX_DESCRIPTION:
                raise ApiError("description is limited to 1000 characters")
            values["description"] = description
        if creating or "tags" in params:
            tags = params.get("tags")
            if is_empty(tags):
                tags = []
            if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
                raise ApiError("Invalid tags: must be an array of strings")
            values["tags"] = tags
        notifications = params.get("notifications")
        if creating:
            values["notifications"] = [] if is_empty(notifications) else validate_notifications(notifications)
            values["notifications"] = [e for e in values["notifications"] if "None" not in e.values()]
        elif notifications is not None and notifications != "":
            assert current is not None
            values["notifications"] = merge_notifications(
                current["notifications"], validate_notifications(notifications)
            )

        if check_type.passive and (creating or specific.get("checktoken") == "reset"):
            values["parameters"]["checktoken"] = ids.check_token()
        elif check_type.passive and current is not None:
            values["parameters"]["checktoken"] = stored.get("checktoken") or ids.check_token()
        if creating:
            values["type"] = check_type.name
        return values


def _json_number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def render_check(
    row: Mapping[str, Any],
    *,
    status: str = "assigned",
    registry: Registry | None = None,
    readonly: bool = False,
) -> dict[str, Any]:
    """The NodePing check object (nodeping-api.md §6.1) for a stored row joined with its state."""
    parameters = dict(row["parameters"])
    if readonly:
        secret = (
            registry.get(row["type"]).params.SECRET_FIELDS
            if registry and row["type"] in registry
            else frozenset()
        )
        parameters = mask_secrets(parameters, secret | {"checktoken"})
    revision = hashlib.md5(f"{row['id']}:{row['rev']}:{row['modified']}".encode(), usedforsecurity=False)
    active = row["enabled"] and not row["acctdisable"]
    check: dict[str, Any] = {
        "_id": row["id"],
        "_rev": f"{row['rev']}-{revision.hexdigest()}",
        "customer_id": row["account_id"],
        "label": row["label"],
        "interval": _json_number(row["interval"]),
        "notifications": row["notifications"],
        "type": row["type"],
        "status": status,
        "modified": row["modified"],
        "enable": "active" if active else "inactive",
        "public": row["public"],
        "parameters": parameters,
        "runlocations": row["runlocations"] if row["runlocations"] is not None else False,
        "homeloc": row["homeloc"] if row["homeloc"] is not None else False,
        "dep": row["dep"] or False,
        "mute": row["mute"] if row["mute"] is not None else False,
        "autodiag": row["autodiag"],
        "description": row["description"],
        "tags": row["tags"],
        "created": row["created"],
        "queue": row["queue"],
        "uuid": row["uuid"],
        "firstdown": row.get("firstdown") or False,
        "acctdisable": row["acctdisable"],
        "suspacct": False,
    }
    if row.get("state") is not None:
        check["state"] = row["state"]
    return check
