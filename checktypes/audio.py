"""AUDIO: HTTP(S) audio stream; content type check, stream data, optional volume detection.

The stream is fetched following redirects; playlists (.m3u, .m3u8, .pls) are read (at most 3 MB) and their
first entry followed. A stream passes with a 2xx/3xx status, a ``Content-Type`` that contains ``audio`` or
is ``video/mp2t``, and at least some data actually arriving (``STREAM_SAMPLE`` bytes, or the whole body
when it is shorter).

``verifyvolume``: NodePing decodes a sample with ffmpeg (``volumedetect``). Vedette does not ship a
decoder, so it measures the mean volume of uncompressed PCM WAV streams only (8/16/24/32-bit integer or
32-bit float; ffmpeg's formula: the mean of the squared samples relative to full scale, in dB, -91 dB for
digital silence) over the first ``VOLUME_SECONDS`` of audio. Any other stream with ``verifyvolume`` fails
with "Unable to get detect volume level - Not a valid audio stream".
"""

from __future__ import annotations

import asyncio
import math
import operator
import re
import struct
import sys
from array import array
from dataclasses import dataclass
from typing import Annotated, Any

import aiohttp
from pydantic import BeforeValidator, Field, model_validator
from yarl import URL

from checktypes import _http
from checktypes._common import rename_alias
from prober.base import BoolIsh, CheckContext, CheckParams, CheckResult, coerce_int, require_http_url

NAME = "AUDIO"

STREAM_SAMPLE = 8 * 1024
"""Bytes of stream data that must arrive for the stream to count as playing."""
VOLUME_SECONDS = 1.0
"""Seconds of audio whose mean volume is measured with ``verifyvolume``."""
MAX_PLAYLISTS = 3
"""Playlists followed in a row (an HLS master playlist, its media playlist, ...)."""

NO_VOLUME = "Unable to get detect volume level - Not a valid audio stream"
SLOW = "Responded but slower than configured threshold"
PLAYLIST_TOO_LARGE = "3MB file size exceeded on playlist"

_PLAYLIST_TYPES = frozenset(
    {
        "audio/x-mpegurl",
        "audio/mpegurl",
        "application/x-mpegurl",
        "application/vnd.apple.mpegurl",
        "audio/x-scpls",
        "audio/scpls",
        "application/pls+xml",
    }
)
_PLAYLIST_SUFFIXES = (".m3u", ".m3u8", ".pls")
_PLS_ENTRY = re.compile(r"^\s*File\d+\s*=\s*(\S.*?)\s*$", re.IGNORECASE | re.MULTILINE)
_MAX_VOLUME_BYTES = 4 * 1024 * 1024
_MAX_SKIPPED_CHUNK = 1024 * 1024
_SILENCE_DB = -91.0


class Params(CheckParams):
    ALIASES = frozenset({"volume"})
    verifyvolume: BoolIsh = False
    """Decode a sample of the stream and require a mean volume of at least ``volumemin`` dB."""
    volumemin: Annotated[int, Field(ge=-90, le=0), BeforeValidator(coerce_int)] = -45
    """Minimum mean volume in dB (-90..0). NodePing's field table calls it ``volume``; both are accepted."""

    @model_validator(mode="before")
    @classmethod
    def _volume_alias(cls, data: Any) -> Any:
        return rename_alias(data, "volume", "volumemin")

    @classmethod
    def check_target(cls, target: str) -> str:
        return require_http_url(target)


async def run(params: Params, ctx: CheckContext) -> CheckResult:
    url = _http.parse_target(ctx.target)
    headers = _http.request_headers(ctx)
    watch = _http.Stopwatch(ctx)
    try:
        for _ in range(MAX_PLAYLISTS + 1):
            async with _http.request(url, headers, follow=True) as response:
                content_type = response.headers.get("Content-Type", "").strip().lower()
                if not (200 <= response.status <= 399 and _is_playlist(response.url, content_type)):
                    result = await _listen(response, content_type, params)
                    break
                playlist = await _http.read_body(response, PLAYLIST_TOO_LARGE)
                url = _first_entry(response.url, playlist, response.status)
        else:
            result = CheckResult.down("Error", "Too many nested playlists")
    except _http.HTTPDown as down:
        return down.result()
    if watch.too_slow():
        return CheckResult.down("Timeout", SLOW)
    return result


async def _listen(response: aiohttp.ClientResponse, content_type: str, params: Params) -> CheckResult:
    status = response.status
    if not 200 <= status <= 399:
        return CheckResult.down(status, "Bad HTTP response")
    if not content_type:
        return CheckResult.down(status, "missing content-type header")
    if not _is_audio(content_type):
        return CheckResult.down(status, "Invalid audio stream")
    if params.verifyvolume:
        volume = await _mean_volume(response.content)
        if volume is None:
            return CheckResult.down("Volume Failure", NO_VOLUME)
        details = {"mean_volume_db": volume}
        if volume < params.volumemin:
            message = f"Volume detected: {volume:.1f} dB (minimum {params.volumemin} dB)"
            return CheckResult.down("Volume Failure", message, details=details)
        return CheckResult.up(status, f"Volume detected: {volume:.1f} dB", details=details)
    if not await _http.read_some(response.content, STREAM_SAMPLE):
        return CheckResult.down(status, "No audio data received")
    return CheckResult.up(status, "Success")


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip()


def _is_audio(content_type: str) -> bool:
    return "audio" in content_type or _media_type(content_type) == "video/mp2t"


def _is_playlist(url: URL, content_type: str) -> bool:
    if _media_type(content_type) in _PLAYLIST_TYPES:
        return True
    return not _is_audio(content_type) and url.path.lower().endswith(_PLAYLIST_SUFFIXES)


def _first_entry(base: URL, playlist: bytes, status: int) -> URL:
    """The first stream of an M3U (first line that is not a comment) or PLS (``File1=``) playlist."""
    text = playlist.decode("utf-8", "replace")
    pls = _PLS_ENTRY.search(text)
    if pls is not None:
        entry = pls.group(1)
    else:
        lines = (line.strip() for line in text.splitlines())
        entry = next((line for line in lines if line and not line.startswith("#")), "")
    if not entry:
        raise _http.HTTPDown(status, "No stream found in playlist")
    try:
        url = base.join(URL(entry))
    except (ValueError, TypeError):
        url = None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        raise _http.HTTPDown(status, f"Unsupported stream URL in playlist: {entry[:200]}")
    return url


# --- PCM WAV volume ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _PcmFormat:
    floating: bool
    channels: int
    rate: int
    block_align: int
    bits: int


async def _mean_volume(stream: aiohttp.StreamReader) -> float | None:
    """Mean volume in dB of the first ``VOLUME_SECONDS`` of a PCM WAV stream; None when it is not one."""
    try:
        riff = await stream.readexactly(12)
        if riff[:4] != b"RIFF" or riff[8:] != b"WAVE":
            return None
        pcm: _PcmFormat | None = None
        for _ in range(32):
            chunk_id, size = struct.unpack("<4sI", await stream.readexactly(8))
            if chunk_id == b"data":
                break
            if size > _MAX_SKIPPED_CHUNK:
                return None
            body = await stream.readexactly(size + (size & 1))
            if chunk_id == b"fmt ":
                pcm = _pcm_format(body)
        else:
            return None
    except asyncio.IncompleteReadError:
        return None
    if pcm is None:
        return None
    wanted = int(pcm.rate * VOLUME_SECONDS) * pcm.block_align
    if 0 < size < 0xFFFFFFFF:  # streams write 0 or 0xFFFFFFFF: unknown length
        wanted = min(wanted, size)
    wanted = min(wanted, _MAX_VOLUME_BYTES)
    data = await _http.read_some(stream, wanted)
    data = data[: len(data) - len(data) % pcm.block_align]
    if not data:
        return None
    return _decibels(_mean_square(data, pcm))


def _pcm_format(body: bytes) -> _PcmFormat | None:
    if len(body) < 16:
        return None
    tag, channels, rate, _, block_align, bits = struct.unpack("<HHIIHH", body[:16])
    if tag == 0xFFFE and len(body) >= 26:  # WAVE_FORMAT_EXTENSIBLE: the sub-format GUID starts with the tag
        tag = struct.unpack("<H", body[24:26])[0]
    floating = tag == 3
    if tag not in (1, 3) or channels < 1 or rate < 1 or block_align != channels * bits // 8:
        return None
    if (floating and bits != 32) or (not floating and bits not in (8, 16, 24, 32)):
        return None
    return _PcmFormat(floating, channels, rate, block_align, bits)


def _mean_square(data: bytes, pcm: _PcmFormat) -> float:
    """The mean of the squared samples, each scaled to -1..1 of full scale, over all channels."""
    if pcm.bits == 24:
        samples: Any = [
            int.from_bytes(data[i : i + 3], "little", signed=True) for i in range(0, len(data), 3)
        ]
        scale = float(1 << 23)
    elif pcm.bits == 8:
        samples = [byte - 128 for byte in data]  # 8-bit WAV is unsigned
        scale = 128.0
    else:
        samples = array("f" if pcm.floating else ("h" if pcm.bits == 16 else "i"), data)
        if sys.byteorder == "big":
            samples.byteswap()
        scale = 1.0 if pcm.floating else float(1 << (pcm.bits - 1))
    total = sum(map(operator.mul, samples, samples))
    return float(total) / len(samples) / (scale * scale)


def _decibels(mean_square: float) -> float:
    if mean_square <= 0 or math.isnan(mean_square):
        return _SILENCE_DB
    return round(max(10 * math.log10(mean_square), _SILENCE_DB), 1)
