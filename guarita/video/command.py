"""The upstream ffmpeg command: pull RTSP, write fragmented MP4 (one fragment per keyframe) to stdout.

A camera without privacy masks is remuxed (``-c:v copy``: no decoding, little CPU). A camera
with masks is decoded, the mask layer scaled to the picture and laid over every frame by
``guarita.privacy_mask.masked_video`` (the same filter the masked clips use), and encoded
again as H.264 with a keyframe every second, so a new viewer waits at most a second for its
first fragment. Audio is left out in this slice. The command carries the source's
credentials: it is never logged.

Covers: BH-04, BH-07, BH-11.
"""

from __future__ import annotations

from pathlib import Path

import ffmpeg  # type: ignore[import-untyped]

from guarita.privacy_mask import masked_video

__all__ = ["FMP4_FLAGS", "upstream_command"]

FMP4_FLAGS = "frag_keyframe+empty_moov+default_base_moof"
"""Init segment first (``ftyp`` + ``moov``), then a ``moof`` + ``mdat`` fragment at each keyframe."""


def upstream_command(url: str, mask_layer: Path | None, *, ffmpeg_binary: str = "ffmpeg") -> list[str]:
    """The argv pulling ``url`` over RTSP/TCP; with ``mask_layer`` (a PNG, any size) it is burned in."""
    source = ffmpeg.input(url, rtsp_transport="tcp")
    video = source.video
    codec: dict[str, str | int]
    if mask_layer is None:
        codec = {"vcodec": "copy"}
    else:
        video = masked_video(video, mask_layer)
        codec = {"vcodec": "libx264", "pix_fmt": "yuv420p", "preset": "veryfast", "tune": "zerolatency",
                 "force_key_frames": "expr:gte(t,n_forced*1)"}
    out = ffmpeg.output(video, "pipe:1", f="mp4", movflags=FMP4_FLAGS, **codec)
    out = out.global_args("-nostdin", "-loglevel", "error")
    command: list[str] = ffmpeg.compile(out, cmd=ffmpeg_binary)
    return command
