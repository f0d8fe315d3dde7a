"""``vedette check run``: run one check once, right here, and print its result.

    vedette check run HTTP --target https://example.com/ --threshold 5
    vedette check run PORT --target db.example.com --param port=5432 --json
    vedette check run HTTPPARSE --target https://example.com/stats --param fields='{"a":{"name":"x"}}'

Exit status: 0 when the check is up, 1 when it is down or could not measure, 2 for a usage or
configuration error (unknown type, bad parameter, bad target).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any, TextIO

from pydantic import ValidationError

from prober.base import CheckContext, CheckParams, CheckResult
from prober.registry import CheckType, Registry, UnknownCheckType, load_registry
from prober.runner import run_check, timeout_for, validation_message

EXIT_UP = 0
EXIT_DOWN = 1
EXIT_USAGE = 2


class UsageError(Exception):
    """The command line cannot become a check; the message is shown as is."""


def add_check_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("type", metavar="TYPE", help="check type, e.g. HTTP, PORT, DNS (case-insensitive)")
    parser.add_argument(
        "target_positional", metavar="TARGET", nargs="?", default=None, help="same as --target"
    )
    parser.add_argument("--target", "-t", default=None, help="URL, host name or IP the check runs against")
    parser.add_argument(
        "--param",
        "-p",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="a type-specific field; VALUE is parsed as JSON when it is JSON (port=5432, "
        'follow=true, fields=\'{"a":{"name":"x"}}\'), otherwise kept as a string; repeatable',
    )
    parser.add_argument(
        "--threshold",
        type=int,
        default=5,
        help="seconds before the run fails with Timeout (capped at 90; default 5); "
        "members for CLUSTER, loss %% for MTR",
    )
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")


def build_parser(prog: str = "vedette check run") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Run one check once from this machine and print the result.",
        epilog="Exit status: 0 up, 1 down or error, 2 usage or configuration error.",
    )
    add_check_run_arguments(parser)
    return parser


def check_run(args: argparse.Namespace, *, registry: Registry | None = None) -> int:
    """Run the check the parsed ``args`` describe; print the result; return the exit status."""
    try:
        if registry is None:
            registry = load_registry()
        check_type = _check_type(registry, args.type)
        target = _target(check_type, args.target, args.target_positional)
        params = _params(check_type, args.param)
    except UsageError as exc:
        print(f"vedette check run: {exc}", file=sys.stderr)
        return EXIT_USAGE
    ctx = CheckContext(
        target=target,
        threshold=args.threshold,
        timeout=timeout_for(check_type, args.threshold),
        check_id="cli",
        user_agent=_user_agent(),
    )
    result = asyncio.run(run_check(check_type, params, ctx))
    _print_result(check_type, target, result, as_json=args.json, out=sys.stdout)
    if result.config_error:
        return EXIT_USAGE
    return EXIT_UP if result.success else EXIT_DOWN


def main(argv: list[str] | None = None, *, registry: Registry | None = None) -> int:
    args = build_parser().parse_args(argv)
    return check_run(args, registry=registry)


def _check_type(registry: Registry, name: str) -> CheckType:
    try:
        return registry.get(name)
    except UnknownCheckType:
        known = ", ".join(check_type.name for check_type in registry)
        raise UsageError(f"unknown check type {name!r}; known types: {known}") from None


def _target(check_type: CheckType, option: str | None, positional: str | None) -> str:
    if option is not None and positional is not None and option != positional:
        raise UsageError(f"two different targets given: {positional!r} and --target {option!r}")
    target = option if option is not None else (positional or "")
    if not target:
        if check_type.params.TARGET_REQUIRED:
            raise UsageError(f"target: {check_type.name} checks need a target (--target)")
        return target
    try:
        return check_type.params.check_target(target)
    except ValueError as exc:
        raise UsageError(f"target: {exc}") from None


def _params(check_type: CheckType, pairs: Sequence[str]) -> CheckParams:
    raw: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"--param expects KEY=VALUE, got {pair!r}")
        raw[key] = _decode(value)
    try:
        return check_type.params.model_validate(raw)
    except ValidationError as exc:
        raise UsageError(validation_message(exc)) from None


def _decode(value: str) -> Any:
    """JSON when it parses (numbers, booleans, objects), else the string itself (host names, regexes)."""
    try:
        return json.loads(value)
    except ValueError:
        return value


def _user_agent() -> str:
    try:
        return f"Vedette/{version('vedette')}"
    except PackageNotFoundError:
        return "Vedette"


def _print_result(
    check_type: CheckType, target: str, result: CheckResult, *, as_json: bool, out: TextIO
) -> None:
    if as_json:
        document: dict[str, Any] = {
            "type": check_type.name,
            "target": target,
            "status": result.status,
            "su": result.success,
            "sc": result.code,
            "m": result.message,
            "rt": result.duration_ms,
            "s": round(result.start * 1000),
            "e": round(result.end * 1000),
        }
        if result.value is not None:
            document["value"] = result.value
        if result.fieldtracking is not None:
            document["fieldtracking"] = result.fieldtracking
        if result.details is not None:
            document["details"] = result.details
        if result.config_error:
            document["config_error"] = True
        print(json.dumps(document, default=str), file=out)
        return
    line = f"{result.status.upper():<3} {check_type.name} {target} {result.code} {result.message}"
    print(f"{line} {result.duration_ms:.1f} ms", file=out)
