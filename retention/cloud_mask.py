"""Burn a camera's privacy masks into each recording segment before the cloud copy uploads it.

The cloud copy of a camera with ``privacy_masks`` must never hold its private areas (BH-07): the
uploader passes each of its segments through ffmpeg first, off the event loop (a subprocess),
and uploads the masked file. The mask layer is drawn once per camera (``save_layer``, at
``LAYER_SIZE``) and scaled to the segment's picture by ``masked_video`` (``scale2ref``), the
filter the live view uses. Out: H.264 MP4, a keyframe at least every ``KEYFRAME_S`` seconds
(the playback's player can start anywhere), every frame kept (the segment keeps its duration);
audio copied. A segment that cannot be masked is not uploaded (the pass counts it failed and a
later pass tries again): an unmasked copy never goes out in its place.

Covers: BH-06, BH-07, BH-10.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

import ffmpeg  # type: ignore[import-untyped]

from guarita.privacy_mask import PrivacyMaskError, _run, masked_video, parse_polygon, save_layer

__all__ = ["KEYFRAME_S", "SegmentMasker"]

KEYFRAME_S = 2
"""The longest stretch between two keyframes of a masked segment."""


_AUDIO_MAP = re.compile(r"^\d+:a$")


class SegmentMasker:
    """Masks the segments of the cameras in ``masks`` (camera → its ``privacy_masks``); a context manager
    owning the scratch folder of the layers and the files ffmpeg reads and writes."""

    def __init__(self, masks: Mapping[str, Sequence[str]], *, crf: int = 23) -> None:
        self.masks = {camera: list(polygons) for camera, polygons in masks.items() if polygons}
        self.crf = crf
        self._scratch: tempfile.TemporaryDirectory[str] | None = None
        self._layers: dict[str, Path] = {}

    def masked(self, camera: str) -> bool:
        """True if ``camera``'s segments are masked before they go up."""
        return camera in self.masks

    def __enter__(self) -> SegmentMasker:
        self._scratch = tempfile.TemporaryDirectory(prefix="guarita-cloudmask-")
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._scratch is not None:
            self._scratch.cleanup()
        self._scratch, self._layers = None, {}

    async def _layer(self, camera: str) -> Path:
        layer = self._layers.get(camera)
        if layer is None:
            assert self._scratch is not None, "use SegmentMasker as a context manager"
            for polygon in self.masks[camera]:
                parse_polygon(polygon)
            layer = Path(self._scratch.name) / f"{len(self._layers)}.png"
            await asyncio.to_thread(save_layer, layer, self.masks[camera])
            self._layers[camera] = layer
        return layer

    async def mask(self, camera: str, name: str, body: bytes) -> bytes:
        """``body`` (an MP4 segment of ``camera``) with its masks burnt into every frame.

        Raises:
            PrivacyMaskError: a mask is malformed, or ffmpeg could not read or write the segment
                (the message names ``name``).
        """
        layer = await self._layer(camera)
        assert self._scratch is not None
        with tempfile.TemporaryDirectory(dir=self._scratch.name) as folder:
            source, dest = Path(folder) / "in.mp4", Path(folder) / "out.mp4"
            await asyncio.to_thread(source.write_bytes, body)
            clip = ffmpeg.input(str(source))
            picture = masked_video(clip.video, layer)
            out = ffmpeg.output(picture, clip.audio, str(dest), vcodec="libx264", pix_fmt="yuv420p", crf=self.crf,
                                preset="veryfast", acodec="copy", movflags="+faststart", fps_mode="passthrough",
                                force_key_frames=f"expr:gte(t,n_forced*{KEYFRAME_S})"
                                ).global_args("-nostdin", "-loglevel", "error")
            command = ffmpeg.compile(out, overwrite_output=True)
            # `N:a?`: a segment without audio is fine (ffmpeg-python cannot say "optional" itself).
            command = [f"{part}?" if _AUDIO_MAP.match(part) else part for part in command]
            try:
                await _run(command)
            except PrivacyMaskError as exc:
                raise PrivacyMaskError(f"segment {name}: {exc}") from None
            return await asyncio.to_thread(dest.read_bytes)
