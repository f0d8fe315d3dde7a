"""The registry: built-ins through the same path as entry-point plugins, autoload switch, sources."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import textwrap
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from prober.base import CheckParams
from prober.registry import (
    AUTOLOAD_ENV,
    BUILTIN_CHECKTYPES,
    ENTRY_POINT_GROUP,
    PluginError,
    Registry,
    UnknownCheckType,
    check_type_from_module,
    load_registry,
)


def _available(module_name: str) -> bool:
    return importlib.util.find_spec(module_name) is not None


MISSING_BUILTINS = [name for name in BUILTIN_CHECKTYPES if not _available(name)]


# --- built-ins ------------------------------------------------------------------------------------


def test_there_are_32_builtins() -> None:
    assert len(BUILTIN_CHECKTYPES) == len(set(BUILTIN_CHECKTYPES)) == 32


def test_every_builtin_loads() -> None:
    if MISSING_BUILTINS:
        pytest.skip(f"check-type modules not written yet: {', '.join(MISSING_BUILTINS)}")
    registry = load_registry(autoload=False)
    assert len(registry) == 32
    assert all(check_type.source == "builtin" for check_type in registry)
    assert {check_type.name for check_type in registry} == {
        name.rsplit(".", 1)[1].upper() for name in BUILTIN_CHECKTYPES
    }


@pytest.mark.parametrize("module_name", BUILTIN_CHECKTYPES)
def test_builtin_name_is_its_module_name(module_name: str) -> None:
    if not _available(module_name):
        pytest.skip(f"{module_name} not written yet")
    # Module-level NAME as written, not the registry's upper-cased copy.
    module = importlib.import_module(module_name)
    assert module.NAME == module_name.rsplit(".", 1)[1].upper()
    check_type = load_registry(autoload=False, builtins=[module_name]).get(module.NAME)
    assert issubclass(check_type.params, CheckParams)
    assert check_type.description, f"{module_name} needs a one-line docstring"


# --- third-party plugins through entry points -----------------------------------------------------

PLUGIN_MODULE = "vedette_test_plugin"
PLUGIN_DIST = "vedette-test-plugin"


def make_distribution(root: Path, module_source: str, entry_value: str = PLUGIN_MODULE) -> None:
    """An installed-looking distribution: a module plus ``<name>.dist-info`` with its entry points."""
    (root / f"{PLUGIN_MODULE}.py").write_text(textwrap.dedent(module_source))
    dist_info = root / "vedette_test_plugin-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {PLUGIN_DIST}\nVersion: 1.0\n")
    (dist_info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\ntestplug = {entry_value}\n")


PLUGIN_SOURCE = '''
    """TESTPLUG: a third-party check type."""
    from prober.base import CheckContext, CheckParams, CheckResult

    NAME = "TESTPLUG"

    class Params(CheckParams):
        greeting: str = "hello"

    async def run(params: Params, ctx: CheckContext) -> CheckResult:
        return CheckResult.up("ok", params.greeting)
'''


@pytest.fixture
def plugin_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.delenv(AUTOLOAD_ENV, raising=False)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    sys.modules.pop(PLUGIN_MODULE, None)


def test_entry_point_plugin_is_loaded_with_its_source(plugin_path: Path) -> None:
    make_distribution(plugin_path, PLUGIN_SOURCE)
    registry = load_registry(builtins=["checktypes.port"])
    plugin = registry.get("testplug")
    assert (plugin.name, plugin.source, plugin.description) == (
        "TESTPLUG",
        PLUGIN_DIST,
        "TESTPLUG: a third-party check type.",
    )
    assert plugin.runnable
    assert set(plugin.params.model_fields) == {"greeting"}
    assert registry.get("PORT").source == "builtin"


async def test_entry_point_plugin_runs(plugin_path: Path) -> None:
    from prober.base import CheckContext
    from prober.runner import run_check

    make_distribution(plugin_path, PLUGIN_SOURCE)
    plugin = load_registry(builtins=[]).get("TESTPLUG")
    result = await run_check(plugin, {"greeting": "hi"}, CheckContext(target="x"))
    assert (result.status, result.message) == ("up", "hi")


def test_entry_point_plugin_overrides_a_builtin(plugin_path: Path) -> None:
    make_distribution(plugin_path, PLUGIN_SOURCE.replace('NAME = "TESTPLUG"', 'NAME = "port"'))
    registry = load_registry(builtins=["checktypes.port"])
    assert registry.get("PORT").source == PLUGIN_DIST
    assert len(registry) == 1


@pytest.mark.parametrize("value", ["1", "true", "yes"])
def test_env_var_disables_autoload(plugin_path: Path, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    make_distribution(plugin_path, PLUGIN_SOURCE)
    monkeypatch.setenv(AUTOLOAD_ENV, value)
    registry = load_registry(builtins=["checktypes.port"])
    assert "TESTPLUG" not in registry
    assert PLUGIN_MODULE not in sys.modules  # not even imported


@pytest.mark.parametrize("value", ["", "0"])
def test_env_var_off_keeps_autoload(plugin_path: Path, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    make_distribution(plugin_path, PLUGIN_SOURCE)
    monkeypatch.setenv(AUTOLOAD_ENV, value)
    assert "TESTPLUG" in load_registry(builtins=[])


def test_explicit_autoload_false_wins(plugin_path: Path) -> None:
    make_distribution(plugin_path, PLUGIN_SOURCE)
    assert "TESTPLUG" not in load_registry(autoload=False, builtins=[])


def test_entry_point_must_name_a_module(plugin_path: Path) -> None:
    make_distribution(plugin_path, PLUGIN_SOURCE, entry_value=f"{PLUGIN_MODULE}:run")
    with pytest.raises(PluginError, match="must name a module"):
        load_registry(builtins=[])


# --- the contract ---------------------------------------------------------------------------------


def test_module_without_params_is_rejected() -> None:
    module = types.ModuleType("broken")
    module.NAME = "BROKEN"  # type: ignore[attr-defined]
    with pytest.raises(PluginError, match="broken: missing Params"):
        check_type_from_module(module, "test")


def test_params_must_subclass_check_params() -> None:
    module = types.ModuleType("broken")
    module.NAME = "BROKEN"  # type: ignore[attr-defined]
    module.Params = dict  # type: ignore[attr-defined]
    with pytest.raises(PluginError, match="must subclass"):
        check_type_from_module(module, "test")


def test_module_without_run_is_accepted_but_not_runnable() -> None:
    module = types.ModuleType("later", "LATER: written next week.")
    module.NAME = "later"  # type: ignore[attr-defined]
    module.Params = CheckParams  # type: ignore[attr-defined]
    check_type = check_type_from_module(module, "test")
    assert (check_type.name, check_type.runnable, check_type.description) == (
        "LATER",
        False,
        "LATER: written next week.",
    )


def test_lookup_is_case_insensitive_and_unknown_names_raise() -> None:
    registry = load_registry(autoload=False, builtins=["checktypes.port"])
    assert registry.get("port") is registry.get("PORT")
    assert "Port" in registry
    assert 42 not in registry
    with pytest.raises(UnknownCheckType):
        registry.get("NOPE")


def test_registries_do_not_share_state() -> None:
    first = load_registry(autoload=False, builtins=["checktypes.port"])
    second = Registry()
    assert len(first) == 1
    assert len(second) == 0
    assert "port" in first.all_field_names()
    assert second.all_field_names() == frozenset()
