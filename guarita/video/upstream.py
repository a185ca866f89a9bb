"""One upstream ffmpeg per camera, its fMP4 fragments fanned out to every viewer of that camera.

``Upstream.subscribe`` adds a viewer and starts ffmpeg if none runs; a new viewer gets the
init segment and then fragments from the next one on (each fragment starts at a keyframe).
``unsubscribe`` of the last viewer stops ffmpeg. A viewer that falls more than
``MAX_PENDING_BYTES`` behind is ended, not waited for, so one slow viewer never holds back
the others.

A source that ends, stalls (no box within ``start_timeout_s``) or fails is reported (a
warning naming the camera and the masked address, ffmpeg's last message with any credentials
masked, and ``on_failure``, which counts it in ``guarita_video_source_failures_total``): viewers already watching are ended with the reason (their HTTP
body ends: never a hung viewer); viewers still waiting for a first fragment wait for the next
attempt, and after ``START_ATTEMPTS`` attempts without a fragment they are ended too. A viewer
opening the stream again starts the source again.

Covers: BH-07, BH-11.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import tempfile
from collections.abc import Callable
from pathlib import Path

from guarita.adapters.rtsp import mask_credentials
from guarita.privacy_mask import save_layer
from guarita.video.command import upstream_command
from guarita.video.fmp4 import Fmp4Error, Fmp4Splitter, read_box
from guarita.video.source import VideoSource

__all__ = ["MAX_PENDING_BYTES", "START_ATTEMPTS", "Subscriber", "Upstream"]

log = logging.getLogger(__name__)

MAX_PENDING_BYTES = 16 * 1024 * 1024
START_ATTEMPTS = 3
_RETRY_S = 1.0
_STDERR_LINES = 20


class Subscriber:
    """One viewer's queue of fMP4 pieces; ``ended`` holds why it ended (it then yields nothing more)."""

    def __init__(self, camera: str, max_pending_bytes: int = MAX_PENDING_BYTES) -> None:
        self.camera = camera
        self.ended: str | None = None
        self.started = False  # it has been given the init segment
        self._chunks: collections.deque[bytes] = collections.deque()
        self._pending = 0
        self._max_pending = max_pending_bytes
        self._wake = asyncio.Event()

    def offer(self, chunk: bytes) -> None:
        """Queue ``chunk``; a viewer too far behind is ended instead."""
        if self.ended is not None:
            return
        if self._pending + len(chunk) > self._max_pending:
            self.end("the viewer fell too far behind the live stream")
            return
        self._chunks.append(chunk)
        self._pending += len(chunk)
        self._wake.set()

    def end(self, reason: str) -> None:
        """End this viewer now (what is still queued is dropped)."""
        if self.ended is None:
            self.ended = reason
            self._chunks.clear()
            self._pending = 0
        self._wake.set()

    async def next(self) -> bytes | None:
        """The next piece, or None once ended."""
        while True:
            if self.ended is not None:
                return None
            if self._chunks:
                chunk = self._chunks.popleft()
                self._pending -= len(chunk)
                return chunk
            self._wake.clear()
            await self._wake.wait()


class Upstream:
    """The single ffmpeg pulling one camera, while it has viewers."""

    def __init__(self, camera: str, source: VideoSource, masks: list[str], *, start_timeout_s: float,
                 on_stopped: Callable[[Upstream], None], on_failure: Callable[[str], None] | None = None,
                 ffmpeg_binary: str = "ffmpeg") -> None:
        self.camera = camera
        self.source = source
        self.masks = list(masks)
        self.start_timeout_s = start_timeout_s
        self.failures = 0
        self.closing = False
        self.process: asyncio.subprocess.Process | None = None
        self._on_stopped = on_stopped
        self._on_failure = on_failure
        self._ffmpeg = ffmpeg_binary
        self._subscribers: set[Subscriber] = set()
        self._init: bytes | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def viewers(self) -> int:
        return len(self._subscribers)

    def subscribe(self) -> Subscriber:
        """A new viewer; starts ffmpeg when it is the first."""
        subscriber = Subscriber(self.camera)
        self._subscribers.add(subscriber)
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"video upstream {self.camera}")
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Remove a viewer; the last one leaving stops ffmpeg."""
        self._subscribers.discard(subscriber)
        if not self._subscribers:
            self.stop()

    def stop(self) -> None:
        """Stop ffmpeg and end every viewer."""
        self.closing = True
        for subscriber in list(self._subscribers):
            subscriber.end("the live view was stopped")
        self._subscribers.clear()
        if self._task is not None and not self._task.done():
            self._task.cancel()
        elif self._task is None:
            self._on_stopped(self)

    async def wait_stopped(self) -> None:
        """Wait until ffmpeg has exited."""
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self._task)

    def _end_all(self, reason: str, *, only_started: bool) -> None:
        for subscriber in list(self._subscribers):
            if subscriber.started or not only_started:
                subscriber.end(reason)
                self._subscribers.discard(subscriber)

    async def _run(self) -> None:
        attempts = 0
        try:
            with tempfile.TemporaryDirectory(prefix="guarita-live-") as scratch:
                while self._subscribers:
                    delivered, problem = await self._pull_once(Path(scratch))
                    if not self._subscribers:
                        break
                    self.failures += 1
                    if self._on_failure is not None:
                        self._on_failure(self.camera)
                    log.warning("live view of camera %s: the source %s %s", self.camera, self.source.shown, problem)
                    # Viewers hear what happened, not where: the address and ffmpeg's words stay in the log.
                    self._end_all("the camera's video source stopped; open the stream again", only_started=True)
                    attempts = 0 if delivered else attempts + 1
                    if attempts >= START_ATTEMPTS:
                        self._end_all(f"the camera's video source is not answering after {attempts} attempts; "
                                      "try again later", only_started=False)
                        break
                    await asyncio.sleep(_RETRY_S * attempts)
        except Exception:  # noqa: BLE001 - a bug or a missing ffmpeg must not leave viewers waiting
            log.exception("live view of camera %s: the upstream failed", self.camera)
            if self._on_failure is not None:
                self._on_failure(self.camera)
        finally:
            self.closing = True
            self._end_all("the live view stopped", only_started=False)
            self._on_stopped(self)

    async def _layer(self, scratch: Path) -> Path | None:
        """The mask layer, or None without masks: drawn once per upstream, at ``LAYER_SIZE``.

        ffmpeg scales it to the picture itself (``masked_video``), so no probe of the source (one
        more RTSP session and keyframe wait) precedes the start.
        """
        if not self.masks:
            return None
        path = scratch / "mask.png"
        if not path.exists():
            await asyncio.to_thread(save_layer, path, self.masks)
        return path

    def _masked(self, stderr: bytes | str) -> str:
        text = stderr.decode(errors="replace") if isinstance(stderr, bytes) else stderr
        return mask_credentials(text.replace(self.source.url, self.source.shown)).strip()[-300:] or "no message"

    async def _pull_once(self, scratch: Path) -> tuple[bool, str]:
        """Run ffmpeg until it ends or stalls; (whether a fragment was delivered, what went wrong)."""
        delivered = False
        layer = await self._layer(scratch)
        process = await asyncio.create_subprocess_exec(
            *upstream_command(self.source.url, layer, ffmpeg_binary=self._ffmpeg),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            limit=1024 * 1024,
        )
        self.process = process
        assert process.stdout is not None and process.stderr is not None
        errors: collections.deque[str] = collections.deque(maxlen=_STDERR_LINES)
        drain = asyncio.create_task(self._drain(process.stderr, errors))
        splitter = Fmp4Splitter()
        problem = "ended"
        try:
            while True:
                try:
                    box = await asyncio.wait_for(read_box(process.stdout), self.start_timeout_s)
                except TimeoutError:
                    problem = f"gave no video for {self.start_timeout_s:g} s"
                    break
                if box is None:
                    break
                piece = splitter.add(*box)
                if piece is None:
                    continue
                if piece.init:
                    self._init = piece.data
                    continue
                delivered = True
                for subscriber in list(self._subscribers):
                    if not subscriber.started:
                        subscriber.started = True
                        subscriber.offer(self._init or b"")
                    subscriber.offer(piece.data)
                    if subscriber.ended is not None:
                        self._subscribers.discard(subscriber)
                if not self._subscribers:
                    break
        except Fmp4Error as exc:
            problem = str(exc)
        finally:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
            await process.wait()
            await drain
            self.process = None
        if errors:
            problem += f": {self._masked(' / '.join(errors))}"
        return delivered, problem

    @staticmethod
    async def _drain(stream: asyncio.StreamReader, lines: collections.deque[str]) -> None:
        while line := await stream.readline():
            lines.append(line.decode(errors="replace").strip())
