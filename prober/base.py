"""The check-type plugin contract.

A check type is a module in ``checktypes/`` (or any module registered under the entry-point group
``vedette.checktypes``) with three names:

    NAME = "PORT"                       # the NodePing type name, upper case
    class Params(CheckParams): ...      # type-specific fields only; unknown fields are an error
    async def run(params: Params, ctx: CheckContext) -> CheckResult: ...

A type whose ``run`` is not written yet sets ``run = None``; the registry then reports it as
"accepted, not yet runnable".

Plugins never sleep, retry or catch everything: the runner owns the timeout (``threshold``), the
duration and unexpected exceptions; the sens pipeline owns rechecks. A plugin returns
``CheckResult.up(...)`` when it measured a healthy service, ``CheckResult.down(...)`` when it measured a
failing one, and raises ``ConfigError`` when the check cannot run as configured (no rechecks then).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Literal, Protocol

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

HTTP_TIMEOUT_CEILING = 90.0
"""No run may take longer than this, whatever the threshold (check-types.md §2.1)."""

Status = Literal["up", "down", "error"]


class ConfigError(Exception):
    """The check cannot run as configured (missing target, unparseable URL, ...). Never rechecked."""


# --- value coercion shared by every Params model (nodeping-api.md §3.2) -------------------------

_TRUE = {"true", "1", "yes", "on", "active"}
_FALSE = {"false", "0", "no", "off", "inactive", "", "none", "null"}


def coerce_bool(value: Any) -> Any:
    """Booleans arrive as JSON, as strings ("true", "False", "active") or as 0/1."""
    if isinstance(value, bool) or value is None:
        return bool(value)
    if isinstance(value, int | float):
        if value in (0, 1):
            return bool(value)
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    return value


def coerce_int(value: Any) -> Any:
    """Integers arrive as numbers or numeric strings ("5"); a float with no fraction is an integer."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def coerce_str(value: Any) -> Any:
    """Numbers are accepted where a string is expected (``statuscode: 200`` vs ``"200"``)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


BoolIsh = Annotated[bool, BeforeValidator(coerce_bool)]
IntIsh = Annotated[int, BeforeValidator(coerce_int)]
StrIsh = Annotated[str, BeforeValidator(coerce_str)]
Port = Annotated[int, Field(ge=1, le=65535), BeforeValidator(coerce_int)]


class FieldSpec(BaseModel):
    """One entry of a ``fields`` map: a value to extract (``name``) and test (``min``/``max``/``match``)."""

    model_config = ConfigDict(extra="forbid")

    name: StrIsh = Field(min_length=1)
    min: float | None = None
    max: float | None = None
    match: StrIsh | None = None

    @field_validator("min", "max", mode="before")
    @classmethod
    def _number_or_unset(cls, value: Any) -> Any:
        if value in ("", None):
            return None
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                raise ValueError("must be a number") from None
        return value


class CheckParams(BaseModel):
    """Base of every type's ``Params``: unknown fields are an error, values are coerced leniently."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False, validate_default=True)

    # Fields of this type that clients send but the type ignores (nodeping-api sends ``email`` on IMAP4).
    IGNORED_FIELDS: ClassVar[frozenset[str]] = frozenset()
    # Fields whose values are secrets: never logged, never shown to read-only tokens.
    SECRET_FIELDS: ClassVar[frozenset[str]] = frozenset()
    # Other spellings of fields that the model renames before validating (``volume`` for ``volumemin``).
    ALIASES: ClassVar[frozenset[str]] = frozenset()
    # False for types that need no target (AGENT, DNS, PUSH, CLUSTER, SPEC10DNS, SPEC10RDDS).
    TARGET_REQUIRED: ClassVar[bool] = True

    @classmethod
    def check_target(cls, target: str) -> str:
        """Validate and normalise the target for this type; raise ``ValueError`` with the message to show.

        Called by the controller on create/update (only when a target is given) before the check is stored.
        """
        return target


HTTP_SCHEMES = ("http://", "https://")


def require_http_url(target: str) -> str:
    """Shared ``check_target`` for the HTTP family (nodeping-api.md §6.3)."""
    if not target.lower().startswith(HTTP_SCHEMES):
        raise ValueError("Target must begin with http:// or https://")
    return target


# --- what a run gets and returns ------------------------------------------------------------------


@dataclass(frozen=True)
class CheckContext:
    """Everything about a run that is not a type-specific parameter."""

    target: str
    threshold: int = 5
    """The raw threshold: seconds for most types, members for CLUSTER, loss % for MTR."""
    timeout: float = 5.0
    """Seconds this run may take (the runner enforces it; plugins may use it for their own budgets)."""
    check_id: str = ""
    probe_id: str = "local"
    member_states: Mapping[str, int | None] = field(default_factory=dict)
    """CLUSTER-like types: the confirmed state (1, 0 or None) of each member check."""
    user_agent: str = "Vedette"
    monotonic: Callable[[], float] | None = None
    """A monotonic clock in seconds; plugins that compare durations against ``threshold`` use it."""


@dataclass
class CheckResult:
    """The outcome of one run, as a plugin reports it. The runner fills in ``start``/``end``."""

    status: Status
    code: str | int
    """Short status (``sc``): an HTTP status for HTTP types, otherwise a word such as ``Connected``."""
    message: str
    """Human message (``m``): what passed or what failed."""
    value: float | None = None
    """The charted value (``rt``) when it is not the run time (PING latency, MTR loss %)."""
    fieldtracking: dict[str, Any] | None = None
    details: dict[str, Any] | None = None
    config_error: bool = False
    start: float = 0.0
    """Wall-clock start, seconds since the epoch (set by the runner)."""
    end: float = 0.0
    duration_ms: float = 0.0

    @property
    def success(self) -> bool:
        return self.status == "up"

    @classmethod
    def up(cls, code: str | int, message: str, **extra: Any) -> CheckResult:
        return cls(status="up", code=code, message=message, **extra)

    @classmethod
    def down(cls, code: str | int, message: str, **extra: Any) -> CheckResult:
        return cls(status="down", code=code, message=message, **extra)

    def inverted(self, invert: bool) -> CheckResult:
        """Swap up and down when ``invert`` is set (measurement errors stay errors)."""
        if not invert or self.status == "error":
            return self
        self.status = "down" if self.status == "up" else "up"
        return self


class RunFunction(Protocol):
    def __call__(self, params: Any, ctx: CheckContext, /) -> Awaitable[CheckResult]: ...


class CheckTypeModule(Protocol):
    """What the registry expects of a check-type module."""

    NAME: str
    Params: type[CheckParams]
    run: RunFunction | None
