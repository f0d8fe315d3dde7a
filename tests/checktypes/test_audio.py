"""AUDIO against an Icecast-like aiohttp server on 127.0.0.1: endless audio/mpeg and PCM WAV streams,
playlists (m3u, pls, HLS), redirects, wrong content types, stalled and empty streams."""

from __future__ import annotations

import asyncio
import math
import struct
from array import array
from typing import Any

import pytest
from aiohttp import web
from pydantic import ValidationError
from servers.checkrun import expect
from servers.httpd import check, read_request, serve_raw, stepping_clock

from prober.registry import CheckType, load_registry
from prober.runner import validation_message

NO_VOLUME = "Unable to get detect volume level - Not a valid audio stream"
MP3_FRAME = b"\xff\xfb\x90\x64" + bytes(413)  # an MPEG-1 Layer III frame header and a silent payload
RATE = 8000


@pytest.fixture(scope="module")
def audio() -> CheckType:
    return load_registry(autoload=False, builtins=["checktypes.audio"]).get("AUDIO")


# --- streams ----------------------------------------------------------------------------------------


def sine(amplitude: float, seconds: float = 1.0, channels: int = 1) -> list[float]:
    count = int(RATE * seconds)
    return [amplitude * math.sin(2 * math.pi * 440 * (i // channels) / RATE) for i in range(count * channels)]


def pcm(samples: list[float], bits: int) -> bytes:
    if bits == 8:
        return bytes(round(128 + s * 127) for s in samples)
    if bits == 24:
        return b"".join(round(s * 8388607).to_bytes(3, "little", signed=True) for s in samples)
    if bits == 32:
        return array("f", samples).tobytes()  # IEEE float
    return array("h", (round(s * 32767) for s in samples)).tobytes()


def wav_header(bits: int, channels: int = 1, tag: int | None = None, data_size: int = 0xFFFFFFFF) -> bytes:
    tag = tag if tag is not None else (3 if bits == 32 else 1)
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", tag, channels, RATE, RATE * block, block, bits)
    info = b"INFOISFT\x06\x00\x00\x00Lavf\x00\x00"  # a LIST chunk before data, as encoders write
    riff_size = 0xFFFFFFFF if data_size == 0xFFFFFFFF else 4 + 24 + 8 + len(info) + 8 + data_size
    return (
        b"RIFF"
        + struct.pack("<I", riff_size)
        + b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"LIST"
        + struct.pack("<I", len(info))
        + info
        + b"data"
        + struct.pack("<I", data_size)
    )


WAVS = {
    "loud": (16, 1, sine(0.5)),
    "quiet": (16, 1, sine(0.001)),
    "silent": (16, 1, [0.0] * RATE),
    "8bit": (8, 1, sine(0.5)),
    "24bit": (24, 1, sine(0.5)),
    "float-stereo": (32, 2, sine(0.25, channels=2)),
}


def make_app() -> web.Application:
    routes = web.RouteTableDef()

    async def endless(
        request: web.Request, content_type: str, head: bytes, chunk: bytes
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": content_type, "icy-name": "Vedette FM"})
        await response.prepare(request)
        await response.write(head)
        while True:  # until the client hangs up, like Icecast
            await response.write(chunk)
            await asyncio.sleep(0.02)

    @routes.get("/stream.mp3")
    async def mp3(request: web.Request) -> web.StreamResponse:
        return await endless(request, "audio/mpeg", b"", MP3_FRAME * 10)

    @routes.get("/seg0.ts")
    async def segment(request: web.Request) -> web.Response:
        return web.Response(body=b"\x47" + bytes(187) * 100, content_type="video/mp2t")

    @routes.get("/wav/{kind}")
    async def wav(request: web.Request) -> web.StreamResponse:
        bits, channels, samples = WAVS[request.match_info["kind"]]
        data = pcm(samples, bits)
        return await endless(request, "audio/wav", wav_header(bits, channels) + data, data[: RATE // 10])

    @routes.get("/short.wav")
    async def short_wav(request: web.Request) -> web.Response:
        data = pcm(sine(0.5, seconds=0.1), 16)
        return web.Response(body=wav_header(16, data_size=len(data)) + data, content_type="audio/x-wav")

    @routes.get("/adpcm.wav")
    async def adpcm(request: web.Request) -> web.Response:
        return web.Response(body=wav_header(4, tag=2) + bytes(4000), content_type="audio/wav")

    @routes.get("/short.mp3")
    async def short_mp3(request: web.Request) -> web.Response:
        return web.Response(body=MP3_FRAME, content_type="audio/mpeg")

    @routes.get("/empty.mp3")
    async def empty(request: web.Request) -> web.Response:
        return web.Response(body=b"", content_type="audio/mpeg")

    @routes.get("/stall.mp3")
    async def stall(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "audio/mpeg"})
        await response.prepare(request)
        await asyncio.sleep(30)
        return response

    @routes.get("/radio")
    async def radio(request: web.Request) -> web.Response:
        raise web.HTTPFound("/stream.mp3")

    @routes.get("/page")
    async def page(request: web.Request) -> web.Response:
        return web.Response(text="<h1>Listen live</h1>", content_type="text/html")

    @routes.get("/status/{code:\\d+}")
    async def status(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]), body=MP3_FRAME, content_type="audio/mpeg")

    playlists = {
        "/listen.m3u": ("audio/x-mpegurl", "#EXTM3U\n#EXTINF:-1,Vedette FM\n\nstream.mp3\n"),
        "/text.m3u": ("text/plain", "# comment\r\n  /stream.mp3  \r\n"),
        "/wav.m3u": ("audio/mpegurl", "wav/loud\n"),
        "/hls/master.m3u8": (
            "application/vnd.apple.mpegurl",
            "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nmedia.m3u8\n",
        ),
        "/hls/media.m3u8": ("application/vnd.apple.mpegurl", "#EXTM3U\n#EXTINF:10,\n/seg0.ts\n"),
        "/loop.m3u": ("audio/x-mpegurl", "loop.m3u\n"),
        "/page.m3u": ("audio/x-mpegurl", "page\n"),
        "/empty.m3u": ("audio/x-mpegurl", "#EXTM3U\n#EXTINF:-1,nothing\n"),
        "/ftp.m3u": ("audio/x-mpegurl", "ftp://example.com/stream.mp3\n"),
    }

    @routes.get("/listen.pls")
    async def pls(request: web.Request) -> web.Response:
        stream = request.url.with_path("/stream.mp3")
        text = f"[playlist]\nNumberOfEntries=2\nFile1={stream}\nTitle1=Vedette FM\nFile2=/page\nVersion=2\n"
        return web.Response(text=text, content_type="audio/x-scpls")

    @routes.get("/big.m3u")
    async def big(request: web.Request) -> web.Response:
        return web.Response(
            body=b"#" * (3 * 1024 * 1024 + 1) + b"\nstream.mp3\n", content_type="audio/x-mpegurl"
        )

    async def playlist(request: web.Request) -> web.Response:
        content_type, text = playlists[request.path]
        return web.Response(body=text.encode(), headers={"Content-Type": content_type})

    app = web.Application()
    app.add_routes(routes)
    for path in playlists:
        app.router.add_get(path, playlist)
    return app


@pytest.fixture
def app() -> web.Application:
    """Served by the ``base`` fixture (servers/httpd.py)."""
    return make_app()


# --- streams that play ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/stream.mp3",  # endless Icecast-like stream
        "/short.mp3",  # a body shorter than the sample: it ended, but data arrived
        "/seg0.ts",  # video/mp2t counts as audio
        "/radio",  # redirects are followed
        "/listen.m3u",
        "/text.m3u",  # a playlist recognised by its name
        "/listen.pls",
        "/hls/master.m3u8",  # master -> media playlist -> segment
    ],
)
async def test_stream_plays(audio: CheckType, base: str, path: str) -> None:
    expect(await check(audio, f"{base}{path}"), "up", 200, "Success")


# --- streams that do not ----------------------------------------------------------------------------


async def test_html_is_not_audio(audio: CheckType, base: str) -> None:
    expect(await check(audio, f"{base}/page"), "down", 200, "Invalid audio stream")


async def test_playlist_entry_that_is_not_audio(audio: CheckType, base: str) -> None:
    expect(await check(audio, f"{base}/page.m3u"), "down", 200, "Invalid audio stream")


@pytest.mark.parametrize("code", [404, 500])
async def test_bad_status(audio: CheckType, base: str, code: int) -> None:
    expect(await check(audio, f"{base}/status/{code}"), "down", code, "Bad HTTP response")


async def test_missing_content_type(audio: CheckType) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 417\r\n\r\n" + MP3_FRAME)
        await writer.drain()

    async with serve_raw(handle) as port:
        expect(await check(audio, f"http://127.0.0.1:{port}/"), "down", 200, "missing content-type header")


async def test_empty_stream(audio: CheckType, base: str) -> None:
    expect(await check(audio, f"{base}/empty.mp3"), "down", 200, "No audio data received")


async def test_stalled_stream_times_out(audio: CheckType, base: str) -> None:
    expect(await check(audio, f"{base}/stall.mp3", threshold=1), "down", "Timeout", "Timeout")


async def test_response_slower_than_threshold(audio: CheckType, base: str) -> None:
    result = await check(audio, f"{base}/stream.mp3", threshold=1, clock=stepping_clock())
    expect(result, "down", "Timeout", "Responded but slower than configured threshold")


@pytest.mark.parametrize(
    ("path", "code", "message"),
    [
        ("/big.m3u", 200, "3MB file size exceeded on playlist"),
        ("/empty.m3u", 200, "No stream found in playlist"),
        ("/ftp.m3u", 200, "Unsupported stream URL in playlist: ftp://example.com/stream.mp3"),
        ("/loop.m3u", "Error", "Too many nested playlists"),
    ],
)
async def test_bad_playlists(audio: CheckType, base: str, path: str, code: str | int, message: str) -> None:
    expect(await check(audio, f"{base}{path}"), "down", code, message)


async def test_refused(audio: CheckType, closed_port: int) -> None:
    result = await check(audio, f"http://127.0.0.1:{closed_port}/stream.mp3")
    expect(result, "down", "Error", f"Cannot connect to 127.0.0.1:{closed_port}: Connection refused")


# --- volume -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "decibels"),
    [("loud", -9.0), ("8bit", -9.1), ("24bit", -9.0), ("float-stereo", -15.1)],
)
async def test_volume_of_pcm_wav(audio: CheckType, base: str, kind: str, decibels: float) -> None:
    result = await check(audio, f"{base}/wav/{kind}", verifyvolume=True)
    expect(result, "up", 200, f"Volume detected: {decibels:.1f} dB")
    assert result.details == {"mean_volume_db": decibels}


async def test_volume_through_a_playlist(audio: CheckType, base: str) -> None:
    expect(await check(audio, f"{base}/wav.m3u", verifyvolume="true"), "up", 200, "Volume detected: -9.0 dB")


async def test_short_wav_file_is_measured_whole(audio: CheckType, base: str) -> None:
    expect(await check(audio, f"{base}/short.wav", verifyvolume=True), "up", 200, "Volume detected: -9.0 dB")


async def test_volume_below_minimum(audio: CheckType, base: str) -> None:
    result = await check(audio, f"{base}/wav/loud", verifyvolume=True, volumemin=-5)
    expect(result, "down", "Volume Failure", "Volume detected: -9.0 dB (minimum -5 dB)")


async def test_quiet_stream_fails_the_default_minimum(audio: CheckType, base: str) -> None:
    result = await check(audio, f"{base}/wav/quiet", verifyvolume=True)
    expect(result, "down", "Volume Failure", "Volume detected: -63.0 dB (minimum -45 dB)")
    result = await check(audio, f"{base}/wav/quiet", verifyvolume=True, volume=-70)  # NodePing's field name
    expect(result, "up", 200, "Volume detected: -63.0 dB")


async def test_dead_air(audio: CheckType, base: str) -> None:
    result = await check(audio, f"{base}/wav/silent", verifyvolume=True, volumemin=-90)
    expect(result, "down", "Volume Failure", "Volume detected: -91.0 dB (minimum -90 dB)")


@pytest.mark.parametrize("path", ["/stream.mp3", "/adpcm.wav", "/seg0.ts"])
async def test_volume_of_a_stream_that_cannot_be_decoded(audio: CheckType, base: str, path: str) -> None:
    expect(await check(audio, f"{base}{path}", verifyvolume=True), "down", "Volume Failure", NO_VOLUME)


async def test_without_verifyvolume_a_silent_stream_passes(audio: CheckType, base: str) -> None:
    expect(await check(audio, f"{base}/wav/silent"), "up", 200, "Success")


# --- parameters -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"volumemin": -91}, "volumemin: Input should be greater than or equal to -90"),
        ({"volumemin": 3}, "volumemin: Input should be less than or equal to 0"),
        (
            {"volume": "loud"},
            "volumemin: Input should be a valid integer, unable to parse string as an integer",
        ),
        (
            {"verifyvolume": "sometimes"},
            "verifyvolume: Input should be a valid boolean, unable to interpret input",
        ),
        ({"follow": True}, "follow: Extra inputs are not permitted"),
    ],
)
def test_invalid_params(audio: CheckType, params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        audio.params.model_validate(params)
    assert validation_message(excinfo.value) == message


async def test_unusable_target(audio: CheckType) -> None:
    result = await check(audio, "icecast.example.com:8000/stream")
    assert (result.status, result.config_error, result.message) == (
        "down",
        True,
        "Invalid or missing protocol for HTTP",
    )
