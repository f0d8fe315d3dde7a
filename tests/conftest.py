"""Root conftest.

There is deliberately no tests/__init__.py: nodeping-api installs a top-level package named ``tests``,
so the project's tests must not be importable as ``tests``. The server fixtures live in the package
``servers`` (tests/servers/), importable because tests/ is put on sys.path here.
"""

import os
import sys

_TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)

from servers.postgres import postgres_server, postgres_url  # noqa: E402, F401
