"""The plugin registry: one map from check-type name to the module that implements it.

Built-in types are a tuple of module names loaded through the same path as third-party ones, which
register under the entry-point group ``vedette.checktypes`` (``NAME = "module:object"`` or a module).
``VEDETTE_DISABLE_PLUGIN_AUTOLOAD=1`` turns entry-point loading off. Registries are objects, never
module-level state, so tests do not leak into each other.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any

from prober.base import CheckParams, RunFunction

ENTRY_POINT_GROUP = "vedette.checktypes"
AUTOLOAD_ENV = "VEDETTE_DISABLE_PLUGIN_AUTOLOAD"

BUILTIN_CHECKTYPES: tuple[str, ...] = tuple(
    f"checktypes.{name}"
    for name in (
        "agent",
        "audio",
        "cluster",
        "dns",
        "dohdot",
        "ftp",
        "http",
        "httpadv",
        "httpcontent",
        "httpparse",
        "imap4",
        "mongodb",
        "mtr",
        "mysql",
        "ntp",
        "pgsql",
        "ping",
        "pop3",
        "port",
        "push",
        "rbl",
        "rdp",
        "redis",
        "sip",
        "smtp",
        "snmp",
        "spec10dns",
        "spec10rdds",
        "ssh",
        "ssl",
        "websocket",
        "whois",
    )
)


class UnknownCheckType(KeyError):
    """No plugin is registered under that name."""


class PluginError(Exception):
    """A module does not follow the check-type contract."""


@dataclass(frozen=True)
class CheckType:
    name: str
    params: type[CheckParams]
    run: RunFunction | None
    source: str
    """Which package supplied the plugin ("builtin" or the distribution name)."""
    passive: bool = False
    """Results arrive from outside (PUSH, AGENT); the scheduler evaluates lateness instead of running."""
    description: str = ""
    threshold_is_timeout: bool = True
    """False where ``threshold`` means something else (CLUSTER: members, MTR: loss %)."""

    @property
    def runnable(self) -> bool:
        return self.run is not None

    def schema(self) -> dict[str, Any]:
        return self.params.model_json_schema()


def check_type_from_module(module: ModuleType, source: str) -> CheckType:
    try:
        name = module.NAME
        params = module.Params
    except AttributeError as exc:
        raise PluginError(f"{module.__name__}: missing {exc.name}") from None
    if not (isinstance(params, type) and issubclass(params, CheckParams)):
        raise PluginError(f"{module.__name__}: Params must subclass prober.base.CheckParams")
    run = getattr(module, "run", None)
    doc = (module.__doc__ or "").strip().splitlines()
    return CheckType(
        name=str(name).upper(),
        params=params,
        run=run,
        source=source,
        passive=bool(getattr(module, "PASSIVE", False)),
        description=doc[0] if doc else "",
        threshold_is_timeout=bool(getattr(module, "THRESHOLD_IS_TIMEOUT", True)),
    )


class Registry:
    def __init__(self, types: Iterable[CheckType] = ()) -> None:
        self._types: dict[str, CheckType] = {}
        for check_type in types:
            self.add(check_type)

    def add(self, check_type: CheckType) -> None:
        self._types[check_type.name] = check_type

    def get(self, name: str) -> CheckType:
        try:
            return self._types[name.upper()]
        except KeyError:
            raise UnknownCheckType(name) from None

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.upper() in self._types

    def __iter__(self) -> Iterator[CheckType]:
        return iter(sorted(self._types.values(), key=lambda t: t.name))

    def __len__(self) -> int:
        return len(self._types)

    def all_field_names(self) -> frozenset[str]:
        """Every type-specific field any registered type knows (used to spot fields of another type)."""
        names: set[str] = set()
        for check_type in self._types.values():
            names.update(check_type.params.model_fields)
            names.update(check_type.params.IGNORED_FIELDS)
        return frozenset(names)


def load_registry(*, autoload: bool | None = None, builtins: Iterable[str] = BUILTIN_CHECKTYPES) -> Registry:
    """Load the built-in types, then (unless disabled) the entry-point plugins, which may override them."""
    registry = Registry()
    for module_name in builtins:
        registry.add(check_type_from_module(importlib.import_module(module_name), "builtin"))
    if autoload is None:
        autoload = os.environ.get(AUTOLOAD_ENV, "") in ("", "0", "false", "no")
    if autoload:
        for entry in entry_points(group=ENTRY_POINT_GROUP):
            loaded = entry.load()
            source = entry.dist.name if entry.dist is not None else entry.value
            if isinstance(loaded, ModuleType):
                registry.add(check_type_from_module(loaded, source))
            else:
                raise PluginError(f"entry point {entry.name} must name a module, got {loaded!r}")
    return registry
