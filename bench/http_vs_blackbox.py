"""HTTP checks per CPU-second: Vedette's HTTP check type against prometheus-blackbox-exporter's http prober,
same target (a Debian nginx serving a small static file on 127.0.0.1), same number of probes, same
concurrency, in one run.

    python bench/http_vs_blackbox.py                          # 20,000 probes, concurrency 50, 3 rounds
    python bench/http_vs_blackbox.py --count 5000 --concurrency 20 --rounds 1

Vedette: a separate Python process (uvloop when installed) runs the checks through
``prober.runner.run_check`` (parameter validation, timeout, result envelope included) and reports its
own CPU seconds (``getrusage(RUSAGE_SELF)``: all its threads, user + system). blackbox_exporter: this
process sends ``GET /probe?module=http_2xx&target=...`` over keep-alive connections; only the exporter's
CPU (``/proc/<pid>/stat`` utime + stime, before and after) is counted, not the load generator's. Both
sides open a new TCP connection to nginx for every probe. nginx's own CPU is counted for neither.

Rounds alternate Vedette and blackbox; the median round of each is reported. Every probe must succeed
(status 200 / ``probe_success 1``) or the run fails. The last line of output is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Any

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)
from _harness import ROOT, free_port, proc_cpu_seconds  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "tests"))
from servers.common import wait_until  # noqa: E402

NGINX = "/usr/sbin/nginx"
BLACKBOX = "/usr/bin/prometheus-blackbox-exporter"
GOAL = 2.0
"""Vedette should do at least this many times blackbox_exporter's probes per CPU-second."""


# --- the daemons ------------------------------------------------------------------------------------


def http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as response:
        response.read()
        return bool(response.status == 200)


def start_nginx(workdir: str, daemons: list[subprocess.Popen[bytes]]) -> str:
    """nginx on 127.0.0.1:<free port> serving a small index.html (test-servers.md section 14)."""
    os.makedirs(os.path.join(workdir, "www"), mode=0o755)  # workers run as nobody
    os.makedirs(os.path.join(workdir, "tmp"))
    with open(os.path.join(workdir, "www", "index.html"), "w") as f:
        f.write("<h1>hello</h1>\n")
    port = free_port()
    conf = os.path.join(workdir, "nginx.conf")
    with open(conf, "w") as f:
        f.write(
            f"""worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {workdir}/tmp/body;
  proxy_temp_path {workdir}/tmp/proxy;
  fastcgi_temp_path {workdir}/tmp/fastcgi;
  uwsgi_temp_path {workdir}/tmp/uwsgi;
  scgi_temp_path {workdir}/tmp/scgi;
  server {{
    listen 127.0.0.1:{port} backlog=4096;
    root {workdir}/www;
  }}
}}
"""
        )
    args = [NGINX, "-p", workdir, "-c", conf, "-e", os.path.join(workdir, "error.log")]
    subprocess.run([*args, "-t", "-q"], check=True)
    with open(os.path.join(workdir, "nginx.out"), "wb") as log:
        proc = subprocess.Popen(
            [*args, "-g", "daemon off;"], stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
        )
    daemons.append(proc)
    url = f"http://127.0.0.1:{port}/index.html"
    wait_until(lambda: http_ok(url), proc, timeout=20)
    return url


def start_blackbox(workdir: str, daemons: list[subprocess.Popen[bytes]]) -> tuple[int, str]:
    """blackbox_exporter with an ``http_2xx`` module (test-servers.md section 15)."""
    conf = os.path.join(workdir, "blackbox.yml")
    with open(conf, "w") as f:
        f.write("modules:\n  http_2xx:\n    prober: http\n    timeout: 5s\n")
    port = free_port()
    with open(os.path.join(workdir, "blackbox.log"), "wb") as log:
        proc = subprocess.Popen(
            [BLACKBOX, f"--config.file={conf}", f"--web.listen-address=127.0.0.1:{port}"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    daemons.append(proc)
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: http_ok(base + "/-/healthy"), proc, timeout=20)
    return proc.pid, base


def stop(proc: subprocess.Popen[bytes], sig: int = 15) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- (a) Vedette: a worker process running the HTTP check type -------------------------------------


async def vedette_worker(
    target: str, count: int, concurrency: int, warmup: int, module: str
) -> dict[str, Any]:
    sys.path.insert(0, ROOT)
    from prober.base import CheckContext
    from prober.registry import load_registry
    from prober.runner import run_check, timeout_for

    http = load_registry(autoload=False, builtins=[module]).get("HTTP")
    ctx = CheckContext(target=target, threshold=5, timeout=timeout_for(http, 5), user_agent="Vedette/bench")
    failures: list[str] = []

    async def run_many(n: int) -> None:
        todo = iter(range(n))

        async def client() -> None:
            for _ in todo:
                # A dict, as a job carries it: validation is part of the cost of a check.
                result = await run_check(http, {"follow": False, "ipv6": False}, ctx)
                if result.status != "up" or result.code != 200:
                    failures.append(f"{result.status} {result.code} {result.message}")

        await asyncio.gather(*(client() for _ in range(concurrency)))

    await run_many(warmup)
    failures.clear()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = usage.ru_utime + usage.ru_stime
    began = time.perf_counter()
    await run_many(count)
    wall = time.perf_counter() - began
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - cpu_before
    return {"count": count, "cpu_s": cpu, "wall_s": wall, "failures": len(failures), "first": failures[:1]}


def worker_main(target: str, count: int, concurrency: int, warmup: int, module: str) -> None:
    work = vedette_worker(target, count, concurrency, warmup, module)
    try:
        import uvloop
    except ImportError:
        loop_name = "asyncio"
        report = asyncio.run(work)
    else:
        loop_name = "uvloop"
        report = uvloop.run(work)
    report["loop"] = loop_name
    print(json.dumps(report))


def run_vedette(target: str, count: int, concurrency: int, warmup: int, module: str) -> dict[str, Any]:
    out = subprocess.run(
        [
            sys.executable,
            os.path.abspath(__file__),
            "--module",
            module,
            "--worker",
            target,
            str(count),
            str(concurrency),
            str(warmup),
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    report: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return report


# --- (b) blackbox_exporter -------------------------------------------------------------------------


async def drive_blackbox(base: str, target: str, count: int, concurrency: int) -> list[str]:
    import aiohttp

    url = f"{base}/probe"
    query = {"module": "http_2xx", "target": target}
    failures: list[str] = []
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        todo = iter(range(count))

        async def client() -> None:
            for _ in todo:
                async with session.get(url, params=query) as response:
                    body = await response.text()
                if response.status != 200 or "\nprobe_success 1\n" not in body:
                    failures.append(f"{response.status} {body[:200]!r}")

        await asyncio.gather(*(client() for _ in range(concurrency)))
    return failures


def run_blackbox(
    pid: int, base: str, target: str, count: int, concurrency: int, warmup: int
) -> dict[str, Any]:
    asyncio.run(drive_blackbox(base, target, warmup, concurrency))
    cpu_before = proc_cpu_seconds(pid)
    began = time.perf_counter()
    failures = asyncio.run(drive_blackbox(base, target, count, concurrency))
    wall = time.perf_counter() - began
    cpu = proc_cpu_seconds(pid) - cpu_before
    return {"count": count, "cpu_s": cpu, "wall_s": wall, "failures": len(failures), "first": failures[:1]}


# --- report ----------------------------------------------------------------------------------------


def per_cpu_second(r: dict[str, Any]) -> float:
    return float(r["count"] / r["cpu_s"]) if r["cpu_s"] > 0 else float("inf")


def describe(name: str, r: dict[str, Any]) -> str:
    return (
        f"  {name:16} {r['count']:6d} probes  CPU {r['cpu_s']:6.2f} s  wall {r['wall_s']:6.2f} s  "
        f"{per_cpu_second(r):8.0f} probes/CPU-s  {r['count'] / r['wall_s']:7.0f} probes/s  "
        f"failures {r['failures']}{' ' + str(r['first'][0]) if r['first'] else ''}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=20000, help="probes per side per round (default 20000)")
    parser.add_argument("--concurrency", type=int, default=50, help="probes in flight (default 50)")
    parser.add_argument(
        "--rounds", type=int, default=3, help="alternating rounds; medians reported (default 3)"
    )
    parser.add_argument("--warmup", type=int, default=500, help="unmeasured probes before each round")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (configs, logs)")
    parser.add_argument(
        "--module",
        default="checktypes.http",
        help="module implementing the HTTP type (default checktypes.http; another one to compare)",
    )
    parser.add_argument(
        "--worker", nargs=4, metavar=("TARGET", "COUNT", "CONCURRENCY", "WARMUP"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.worker:
        target, count, concurrency, warmup = args.worker
        worker_main(target, int(count), int(concurrency), int(warmup), args.module)
        return 0

    for binary, package in ((NGINX, "nginx"), (BLACKBOX, "prometheus-blackbox-exporter")):
        if not os.access(binary, os.X_OK):
            print(f"{binary} not found: apt-get install {package}", file=sys.stderr)
            return 2
    tmp = tempfile.mkdtemp(prefix="vedette-bench-http-")
    os.chmod(tmp, 0o755)  # nginx workers (nobody) traverse it
    daemons: list[subprocess.Popen[bytes]] = []
    # SIGTERM (e.g. from `timeout`) unwinds through the finally below, so no daemon is left behind.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
    vedette_rounds: list[dict[str, Any]] = []
    blackbox_rounds: list[dict[str, Any]] = []
    try:
        target = start_nginx(os.path.join(tmp, "nginx"), daemons)
        os.makedirs(os.path.join(tmp, "blackbox"))
        blackbox_pid, base = start_blackbox(os.path.join(tmp, "blackbox"), daemons)
        print(
            f"HTTP GET {target}: {args.count} probes per side per round, concurrency {args.concurrency}, "
            f"{args.rounds} round(s)"
        )
        for round_no in range(1, args.rounds + 1):
            v = run_vedette(target, args.count, args.concurrency, args.warmup, args.module)
            vedette_rounds.append(v)
            print(describe(f"vedette ({v['loop']})", v) + f"  [round {round_no}]", flush=True)
            b = run_blackbox(blackbox_pid, base, target, args.count, args.concurrency, args.warmup)
            blackbox_rounds.append(b)
            print(describe("blackbox", b) + f"  [round {round_no}]", flush=True)
    finally:
        for proc in reversed(daemons):
            stop(proc)
        if args.keep:
            print(f"  kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    vedette_rate = statistics.median(per_cpu_second(r) for r in vedette_rounds)
    blackbox_rate = statistics.median(per_cpu_second(r) for r in blackbox_rounds)
    ratio = vedette_rate / blackbox_rate
    failures = sum(r["failures"] for r in vedette_rounds + blackbox_rounds)
    print(f"  Vedette:  {vedette_rate:8.0f} checks per CPU-second (median of {len(vedette_rounds)})")
    print(f"  blackbox: {blackbox_rate:8.0f} probes per CPU-second (median of {len(blackbox_rounds)})")
    print(f"  Vedette/blackbox: {ratio:.2f}x (goal >= {GOAL}x)")
    report = {
        "benchmark": "http_vs_blackbox",
        "count": args.count,
        "concurrency": args.concurrency,
        "module": args.module,
        "vedette_per_cpu_s": round(vedette_rate, 1),
        "blackbox_per_cpu_s": round(blackbox_rate, 1),
        "ratio": round(ratio, 2),
        "goal_met": ratio >= GOAL,
        "failures": failures,
        "vedette_rounds": vedette_rounds,
        "blackbox_rounds": blackbox_rounds,
    }
    print(json.dumps(report))
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
