"""Pushing a live view out to the centre's ingest, for a Guarita behind NAT that the centre cannot reach.

The centre asks over MQTT (``guarita.video.mqtt_requests``); Guarita opens the view through
the same ``VideoHub`` as the HTTP viewers (gate, agency area, limits, audit, expiry), takes a
``Subscriber`` of the camera's single upstream (masks already burned in there) and pipes its
fragmented MP4 into ``ffmpeg -f mp4 -i pipe:0 -c copy`` publishing to
``<video_ingest.url>/<provider>/<camera>/<view>``: RTSP (``-f rtsp``, over TCP) or SRT
(``-f mpegts``, caller mode). The address is the one in Guarita's YAML, never one from a
request; its password (RTSP userinfo) and SRT passphrase (ffmpeg's srt ``-passphrase`` option)
go only into ffmpeg's argv, and logs show ``IngestTarget.shown``. The config refuses an
unencrypted ingest (plain ``rtsp://``, or ``srt://`` without a passphrase) unless it is loopback.

When the view ends (its holder stops it, it expires, the camera stops being shared: the
hub's watcher ends it within a second) the subscriber ends, ffmpeg's stdin is closed so it
tears the session down, and ``PushOutcome`` says why. An ingest that refuses or drops the
push is tried again ``PUSH_ATTEMPTS`` times with a growing pause (fragments arriving meanwhile
are dropped, so a retry starts live at a keyframe, after the init segment); then the push
ends as ``ingest_unreachable``.

Covers: BH-11, BH-03, BH-05, BH-07, BH-09.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

from guarita.adapters.rtsp import mask_credentials, with_credentials
from guarita.config import VideoIngestConfig
from guarita.video.upstream import Subscriber

__all__ = ["PUSH_ATTEMPTS", "IngestTarget", "Push", "PushOutcome", "ingest_target", "push_command"]

log = logging.getLogger(__name__)

PUSH_ATTEMPTS = 3
"""Attempts in a row that deliver nothing before the push ends as ``ingest_unreachable``."""
RETRY_S = 0.5
"""The first pause before a retry; each further one doubles."""
HEALTHY_S = 5.0
"""A push that ran this long before failing starts its count of attempts afresh."""
CLOSE_S = 2.0
"""How long ffmpeg gets to tear the session down after its stdin closes, before it is killed."""


@dataclass(frozen=True)
class IngestTarget:
    """Where one view is pushed: ``url`` may carry credentials (argv only); ``shown`` never does."""

    url: str = field(repr=False)
    shown: str
    path: str  # <provider>/<camera>/<view>, relative to the configured ingest URL
    muxer: str  # ffmpeg's output format: rtsp or mpegts
    passphrase: str | None = field(default=None, repr=False)  # SRT encryption (argv only, never in the address)


def ingest_target(ingest: VideoIngestConfig, provider: str, camera: str, view: str) -> IngestTarget:
    """The push address of ``view`` of ``camera`` at the configured ingest."""
    path = f"{provider}/{camera}/{view}"
    base = ingest.url.rstrip("/")
    password = ingest.password.get_secret_value() if ingest.password is not None else None
    if base.startswith("srt://"):
        parts = urlsplit(base)
        resource = f"{parts.path.strip('/')}/{path}".lstrip("/")
        stream_id = f"#!::r={resource},m=publish" + (f",u={ingest.username}" if ingest.username else "")
        query = f"mode=caller&streamid={quote(stream_id, safe='')}"
        shown = f"srt://{parts.netloc}?{query}"
        passphrase = ingest.passphrase.get_secret_value() if ingest.passphrase is not None else None
        return IngestTarget(shown, shown, path, "mpegts", passphrase)
    shown = f"{base}/{path}"
    return IngestTarget(with_credentials(shown, ingest.username, password), shown, path, "rtsp")


def push_command(target: IngestTarget, *, ffmpeg_binary: str = "ffmpeg") -> list[str]:
    """ffmpeg reading fragmented MP4 on stdin and publishing it, copied, to ``target`` (carries credentials)."""
    output = ["-f", "rtsp", "-rtsp_transport", "tcp"] if target.muxer == "rtsp" else ["-f", "mpegts"]
    if target.passphrase is not None:
        output += ["-passphrase", target.passphrase]  # the srt protocol's option: the address stays without it
    return [ffmpeg_binary, "-hide_banner", "-loglevel", "error", "-f", "mp4", "-i", "pipe:0",
            "-map", "0:v", "-c", "copy", *output, target.url]


@dataclass(frozen=True)
class PushOutcome:
    """How a push ended: ``failed`` when the ingest could not be reached (else the view ended)."""

    failed: bool
    detail: str


class Push:
    """One view's subscriber piped into ffmpeg publishing to the ingest, until the view ends."""

    def __init__(self, view_id: str, subscriber: Subscriber, target: IngestTarget, *,
                 ffmpeg_binary: str = "ffmpeg", on_bytes: Callable[[int], None] | None = None) -> None:
        self.view_id = view_id
        self.subscriber = subscriber
        self.target = target
        self.attempts = 0  # failed attempts in a row
        self._ffmpeg = ffmpeg_binary
        self._on_bytes = on_bytes
        self._init: bytes | None = None
        self.view_ended = asyncio.Event()  # set as soon as the subscriber ends, before ffmpeg is stopped

    async def run(self) -> PushOutcome:
        """Push until the subscriber ends (``failed`` False) or the ingest keeps refusing (``failed`` True)."""
        while True:
            started = time.monotonic()
            problem = await self._push_once()
            if problem is None:
                return PushOutcome(False, self.subscriber.ended or "the view ended")
            self.attempts = 1 if time.monotonic() - started >= HEALTHY_S else self.attempts + 1
            log.warning("live view %s: the push to %s failed (attempt %d of %d): %s", self.view_id,
                        self.target.shown, self.attempts, PUSH_ATTEMPTS, problem)
            if self.attempts >= PUSH_ATTEMPTS:
                return PushOutcome(True, problem)
            if not await self._skip_for(RETRY_S * 2 ** (self.attempts - 1)):
                return PushOutcome(False, self.subscriber.ended or "the view ended")

    async def _skip_for(self, seconds: float) -> bool:
        """Drop fragments for ``seconds`` (a retry starts live); False if the view ended meanwhile."""
        deadline = asyncio.get_running_loop().time() + seconds
        while (left := deadline - asyncio.get_running_loop().time()) > 0:
            try:
                chunk = await asyncio.wait_for(self.subscriber.next(), left)
            except TimeoutError:
                break
            if chunk is None:
                self.view_ended.set()
                return False
            if self._init is None:
                self._init = chunk
        return self.subscriber.ended is None

    async def _push_once(self) -> str | None:
        """One ffmpeg; None when the view ended, else what went wrong with the ingest."""
        process = await asyncio.create_subprocess_exec(
            *push_command(self.target, ffmpeg_binary=self._ffmpeg),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )
        assert process.stdin is not None and process.stderr is not None
        errors: collections.deque[str] = collections.deque(maxlen=10)
        drain = asyncio.create_task(_drain(process.stderr, errors))
        exited = asyncio.create_task(process.wait())
        view_ended = False
        try:
            if self._init is not None and not await self._write(process, self._init):
                pass
            else:
                while True:
                    wanted = asyncio.create_task(self.subscriber.next())
                    await asyncio.wait({wanted, exited}, return_when=asyncio.FIRST_COMPLETED)
                    if not wanted.done():
                        wanted.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await wanted
                        break
                    chunk = wanted.result()
                    if chunk is None:
                        view_ended = True
                        self.view_ended.set()
                        break
                    if self._init is None:
                        self._init = chunk
                    if not await self._write(process, chunk):
                        break
        finally:
            await self._stop(process, graceful=view_ended)
            exited.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await exited
            await drain
        return None if view_ended else self._problem(process, errors)

    async def _write(self, process: asyncio.subprocess.Process, chunk: bytes) -> bool:
        assert process.stdin is not None
        try:
            process.stdin.write(chunk)
            await process.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            return False
        if self._on_bytes is not None:
            self._on_bytes(len(chunk))
        return True

    @staticmethod
    async def _stop(process: asyncio.subprocess.Process, *, graceful: bool) -> None:
        """Close ffmpeg's input so it ends the session (TEARDOWN); kill it if it lingers."""
        if process.stdin is not None and not process.stdin.is_closing():
            process.stdin.close()
        if process.returncode is None:
            try:
                await asyncio.wait_for(asyncio.shield(process.wait()), CLOSE_S if graceful else 0.1)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()

    def _problem(self, process: asyncio.subprocess.Process, errors: collections.deque[str]) -> str:
        said = " / ".join(errors)
        # ffmpeg repeats the address it could not open: never print the credentials.
        said = mask_credentials(said.replace(self.target.url, self.target.shown))
        if self.target.passphrase:
            said = said.replace(self.target.passphrase, "***")
        code = process.returncode
        return (f"ffmpeg exited ({code})" if code is not None else "ffmpeg stopped reading") + (f": {said[-300:]}"
                                                                                                if said else "")


async def _drain(stream: asyncio.StreamReader, lines: collections.deque[str]) -> None:
    while line := await stream.readline():
        lines.append(line.decode(errors="replace").strip())
