"""``vedette``: the command line.

vedette serve                     start the controller with an in-process probe (SQLite by default)
vedette check run TYPE --target T run one check once through the same registry and runner
vedette token create|list|revoke  manage API tokens
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import time
from typing import Any

from aiohttp import web

from api.services import Settings
from api.storage.store import DEFAULT_DATABASE_URL, Store

log = logging.getLogger("vedette")


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


def build_parser() -> argparse.ArgumentParser:
    from prober.cli import add_check_run_arguments

    parser = argparse.ArgumentParser(
        prog="vedette", description="Self-hosted, distributed active monitoring."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="run the controller and an in-process probe",
        description="Run the NodePing-compatible controller with an in-process probe. "
        "On first start it creates "
        "the primary account and prints its tokens once.",
    )
    serve.add_argument(
        "--host",
        default=os.environ.get("VEDETTE_HOST", "127.0.0.1"),
        help="address to listen on (VEDETTE_HOST; default 127.0.0.1)",
    )
    serve.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("VEDETTE_PORT", "8080")),
        help="port to listen on (VEDETTE_PORT; default 8080)",
    )
    serve.add_argument(
        "--db",
        default=os.environ.get("VEDETTE_DATABASE_URL", DEFAULT_DATABASE_URL),
        help="database URL (VEDETTE_DATABASE_URL): sqlite:///vedette.db (default) or "
        "postgresql://user:pw@host/db",
    )
    serve.add_argument(
        "--probes",
        default=os.environ.get("VEDETTE_PROBES"),
        help="probes.yaml naming regions and probes (VEDETTE_PROBES; default ./probes.yaml)",
    )
    serve.add_argument("--no-probe", action="store_true", help="do not run the in-process probe")
    serve.add_argument(
        "--concurrency",
        type=int,
        default=int(os.environ.get("VEDETTE_PROBE_CONCURRENCY", "500")),
        help="checks the in-process probe runs at once (default 500)",
    )
    serve.add_argument(
        "--retention-days",
        type=float,
        default=_env_float("VEDETTE_RESULT_RETENTION_DAYS", 31),
        help="days of results to keep (VEDETTE_RESULT_RETENTION_DAYS; default 31)",
    )
    serve.add_argument(
        "--shutdown-grace",
        type=float,
        default=_env_float("VEDETTE_SHUTDOWN_GRACE", 30),
        help="seconds running checks may take to finish on SIGTERM (default 30)",
    )
    serve.add_argument("--log-level", default=os.environ.get("VEDETTE_LOG_LEVEL", "INFO"))

    check = commands.add_parser("check", help="one-off checks")
    check_commands = check.add_subparsers(dest="check_command", required=True, metavar="ACTION")
    run = check_commands.add_parser("run", help="run one check once and print the result (exit 0 up, 1 down)")
    add_check_run_arguments(run)

    token = commands.add_parser("token", help="manage API tokens")
    token.add_argument(
        "--db",
        default=os.environ.get("VEDETTE_DATABASE_URL", DEFAULT_DATABASE_URL),
        help="database URL (VEDETTE_DATABASE_URL)",
    )
    token_commands = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    create = token_commands.add_parser("create", help="create a token and print it once")
    create.add_argument("--read-only", action="store_true", help="a token that can read but never write")
    create.add_argument("--label", default="", help="a note to recognise the token by")
    create.add_argument("--account", help="account id (default: the primary account)")
    listing = token_commands.add_parser("list", help="list tokens (prefix, access, label; never the token)")
    revoke = token_commands.add_parser("revoke", help="revoke a token by the token or its 8-character prefix")
    revoke.add_argument("token")
    for action in (create, listing, revoke):  # `vedette token create --db URL` works as well
        action.add_argument("--db", default=argparse.SUPPRESS, help="database URL (VEDETTE_DATABASE_URL)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    if args.command == "check":
        from prober.cli import check_run

        return check_run(args)
    return asyncio.run(manage_tokens(args))


def serve(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    settings = Settings(
        database_url=args.db,
        host=args.host,
        port=args.port,
        run_probe=not args.no_probe,
        probe_concurrency=args.concurrency,
        retention_days=args.retention_days,
        shutdown_grace=args.shutdown_grace,
        probes_file=args.probes,
    )
    from api.app import create_app

    def announce(text: str) -> None:
        print(text, flush=True)  # printed, never logged: the tokens must not end up in log files

    app = create_app(settings, announce=announce)
    try:
        import uvloop

        loop_factory: Any = uvloop.new_event_loop
    except ImportError:
        loop_factory = None
    print(f"Vedette listening on http://{settings.host}:{settings.port}/api/1/", flush=True)
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(_serve_until_signal(app, settings))
    return 0


async def _serve_until_signal(app: web.Application, settings: Settings) -> None:
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("stopping: finishing running checks and storing their results")
    await runner.cleanup()  # runs the app's cleanup_ctx: scheduler, probe, consumer, store
    log.info("stopped")


async def manage_tokens(args: argparse.Namespace) -> int:
    store = await Store.open(args.db)
    try:
        now = int(time.time() * 1000)
        if args.token_command == "create":
            account = args.account
            if account is None:
                primaries = await store.primary_accounts()
                if not primaries:
                    from api.accounts import ensure_primary_account

                    print(await ensure_primary_account(store, now))
                    return 0
                account = primaries[0]["id"]
            elif await store.get_account(account) is None:
                print(f"no account {account}", file=sys.stderr)
                return 2
            token = await store.create_token(account, "ro" if args.read_only else "rw", args.label, now)
            print(token)
            return 0
        if args.token_command == "list":
            for row in await store.list_tokens():
                access = "read-write" if row["access"] == "rw" else "read-only"
                print(f"{row['prefix']}…  {row['account_id']}  {access:10}  {row['label']}")
            return 0
        revoked = await store.revoke_token(args.token)
        if not revoked:
            print("no such token", file=sys.stderr)
            return 1
        print(f"revoked {revoked} token(s)")
        return 0
    finally:
        await store.close()


if __name__ == "__main__":
    sys.exit(main())
