"""Root conftest.

There is deliberately no tests/__init__.py: nodeping-api installs a top-level package named ``tests``,
so the project's tests must not be importable as ``tests``. The server fixtures live in the package
``servers`` (tests/servers/), importable because tests/ is put on sys.path here.

Every fixture defined in a ``tests/servers/<daemon>.py`` module is registered here automatically, so adding
a daemon means adding one module, nothing else.
"""

import importlib
import os
import pkgutil
import sys

import pytest

_TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)

# Shared assertion helpers live there (servers/checkrun.py): give their asserts pytest's detailed messages.
pytest.register_assert_rewrite("servers")

import servers  # noqa: E402


def _server_fixtures() -> dict[str, object]:
    found: dict[str, object] = {}
    for module_info in pkgutil.iter_modules(servers.__path__):
        if module_info.name.startswith("test_") or module_info.name == "common":
            continue
        module = importlib.import_module(f"servers.{module_info.name}")
        for name, value in vars(module).items():
            if (
                hasattr(value, "_fixture_function_marker")
                or type(value).__name__ == "FixtureFunctionDefinition"
            ):
                found[name] = value
    return found


globals().update(_server_fixtures())
