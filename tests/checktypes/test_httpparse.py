"""HTTPPARSE against a real aiohttp server on 127.0.0.1: JSON and ``word: number`` bodies, §3.3 evaluation."""

from __future__ import annotations

import asyncio
import gzip
import json
from typing import Any

import pytest
from aiohttp import web
from pydantic import ValidationError
from servers.checkrun import expect
from servers.httpd import SEEN, check, recording_app, stepping_clock

from prober.registry import CheckType, load_registry
from prober.runner import validation_message

DOC = {
    "status": "ok",
    "load": 0.75,
    "queue": {"depth": 12, "workers": [{"busy": 3}, {"busy": 0}]},
    "up": True,
}
STUB_STATUS = (
    "Active connections: 3 \nserver accepts handled requests\n 10 10 31 \nReading: 0 Writing: 1 Waiting: 2 \n"
)


@pytest.fixture(scope="module")
def httpparse() -> CheckType:
    return load_registry(autoload=False, builtins=["checktypes.httpparse"]).get("HTTPPARSE")


def make_app() -> web.Application:
    routes = web.RouteTableDef()

    @routes.get("/json")
    async def document(request: web.Request) -> web.Response:
        return web.json_response(DOC)

    @routes.get("/list")
    async def listing(request: web.Request) -> web.Response:
        return web.json_response([{"n": 1}, {"n": 2}])

    @routes.get("/gzip")
    async def gzipped(request: web.Request) -> web.Response:
        body = gzip.compress(json.dumps(DOC).encode())
        return web.Response(body=body, content_type="application/json", headers={"Content-Encoding": "gzip"})

    @routes.get("/stub_status")
    async def stub(request: web.Request) -> web.Response:
        return web.Response(text=STUB_STATUS)

    @routes.get("/html")
    async def html(request: web.Request) -> web.Response:
        return web.Response(text="<html><body>nothing to see</body></html>", content_type="text/html")

    @routes.get("/scalar")
    async def scalar(request: web.Request) -> web.Response:
        return web.json_response(42)

    @routes.get("/private")
    async def private(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != "Bearer s3cret":
            return web.Response(status=401)
        return web.json_response({"secret": 1})

    @routes.get("/status/{code:\\d+}")
    async def status(request: web.Request) -> web.Response:
        return web.json_response(DOC, status=int(request.match_info["code"]))

    @routes.get("/large")
    async def large(request: web.Request) -> web.Response:
        return web.Response(body=b" " * (3 * 1024 * 1024 + 1) + b"{}", content_type="application/json")

    @routes.get("/slow")
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(1.5)
        return web.json_response(DOC)

    return recording_app(routes)  # app[SEEN]: the headers of every request, in order


@pytest.fixture
def app() -> web.Application:
    return make_app()


def fields(*specs: dict[str, Any]) -> dict[str, Any]:
    return {f"K{i}": spec for i, spec in enumerate(specs)}


# --- up -------------------------------------------------------------------------------------------


async def test_json_fields_within_parameters(httpparse: CheckType, base: str) -> None:
    result = await check(
        httpparse,
        f"{base}/json",
        fields=fields(
            {"name": "load", "min": 0, "max": "1"},
            {"name": "queue.depth", "max": 100},
            {"name": "queue.workers.0.busy", "min": 1},
            {"name": "status"},
        ),
    )
    expect(result, "up", "OK", "All fields within parameters")
    assert result.fieldtracking == {"K0": 0.75, "K1": 12.0, "K2": 3.0, "K3": "ok"}


async def test_json_array_paths(httpparse: CheckType, base: str) -> None:
    result = await check(httpparse, f"{base}/list", fields=fields({"name": "1.n", "min": 2, "max": 2}))
    expect(result, "up", "OK", "All fields within parameters")


async def test_gzipped_json(httpparse: CheckType, base: str, app: web.Application) -> None:
    result = await check(httpparse, f"{base}/gzip", fields=fields({"name": "queue.depth", "min": 10}))
    expect(result, "up", "OK", "All fields within parameters")
    assert app[SEEN][0]["Accept-Encoding"] == "gzip, deflate"


async def test_word_number_text(httpparse: CheckType, base: str) -> None:
    result = await check(
        httpparse,
        f"{base}/stub_status",
        fields=fields({"name": "connections", "max": 10}, {"name": "Waiting", "min": 1}, {"name": "Writing"}),
    )
    expect(result, "up", "OK", "All fields within parameters")
    assert result.fieldtracking == {"K0": 3.0, "K1": 2.0, "K2": 1.0}


async def test_sendheaders(httpparse: CheckType, base: str) -> None:
    params = {"fields": fields({"name": "secret", "min": 1})}
    expect(await check(httpparse, f"{base}/private", **params), "down", 401, "HTTP return status: 401")
    result = await check(
        httpparse, f"{base}/private", sendheaders={"Authorization": "Bearer s3cret"}, **params
    )
    expect(result, "up", "OK", "All fields within parameters")


# --- down -----------------------------------------------------------------------------------------


async def test_out_of_range_and_absent_are_all_reported(httpparse: CheckType, base: str) -> None:
    result = await check(
        httpparse,
        f"{base}/json",
        fields=fields(
            {"name": "load", "max": 0.5},
            {"name": "queue.depth", "min": 20},
            {"name": "missing.value", "min": 1},
            {"name": "status", "min": 1},
        ),
    )
    expect(
        result,
        "down",
        "Fail",
        "load:0.75 (max 0.5). queue.depth:12 (min 20). missing.value:absent. status:ok (min 1)",
    )
    assert result.fieldtracking == {"K0": 0.75, "K1": 12.0, "K3": "ok"}


async def test_text_out_of_range(httpparse: CheckType, base: str) -> None:
    result = await check(httpparse, f"{base}/stub_status", fields=fields({"name": "connections", "max": 2}))
    expect(result, "down", "Fail", "connections:3 (max 2)")


@pytest.mark.parametrize("path", ["/html", "/scalar"])
async def test_no_fields_found(httpparse: CheckType, base: str, path: str) -> None:
    result = await check(httpparse, f"{base}{path}", fields=fields({"name": "x"}))
    expect(result, "down", "Fail", "No fields found in response")


@pytest.mark.parametrize("code", [404, 500, 399])
async def test_bad_status(httpparse: CheckType, base: str, code: int) -> None:
    result = await check(httpparse, f"{base}/status/{code}", fields=fields({"name": "load"}))
    expect(result, "down", code, f"HTTP return status: {code}")


async def test_body_over_3mb(httpparse: CheckType, base: str) -> None:
    result = await check(httpparse, f"{base}/large", fields=fields({"name": "x"}))
    expect(result, "down", 200, "3MB file size exceeded")


async def test_slow_response_times_out(httpparse: CheckType, base: str) -> None:
    result = await check(httpparse, f"{base}/slow", threshold=1, fields=fields({"name": "load"}))
    expect(result, "down", "Timeout", "Timeout")


async def test_response_slower_than_threshold_fails(httpparse: CheckType, base: str) -> None:
    result = await check(
        httpparse,
        f"{base}/json",
        threshold=1,
        clock=stepping_clock(),
        fields=fields({"name": "load"}),
    )
    expect(result, "down", "Timeout", "Timeout")


async def test_refused(httpparse: CheckType) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = await check(httpparse, f"http://127.0.0.1:{port}/json", fields=fields({"name": "load"}))
    expect(result, "down", "Error", f"Cannot connect to 127.0.0.1:{port}: Connection refused")


# --- parameters -----------------------------------------------------------------------------------

FIELDS_OK = {"K": {"name": "load"}}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"fields": {"K": {"min": 1}}}, "fields.K.name: Field required"),
        ({"fields": {"K": {"name": "a", "max": "lots"}}}, "fields.K.max: Value error, must be a number"),
        (
            {"fields": {"K": {"name": "a", "match": "x"}}},
            "fields: Value error, match is only supported by MYSQL, PGSQL and MONGODB checks (entry 'K')",
        ),
        ({"fields": FIELDS_OK, "follow": True}, "follow: Extra inputs are not permitted"),
    ],
)
def test_invalid_params(httpparse: CheckType, params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        httpparse.params.model_validate(params)
    assert validation_message(excinfo.value) == message


async def test_missing_fields_through_the_runner_is_a_config_error(httpparse: CheckType, base: str) -> None:
    result = await check(httpparse, f"{base}/json")
    assert (result.status, result.config_error, result.message) == (
        "down",
        True,
        "Missing fields to parse",
    )
