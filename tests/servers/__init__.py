"""Real server daemons for the tests, imported as the top-level package ``servers``.

tests/ itself must never become a package: the PyPI package nodeping-api installs a top-level
package named ``tests``. tests/conftest.py puts tests/ on sys.path so this imports as ``servers``.
"""
