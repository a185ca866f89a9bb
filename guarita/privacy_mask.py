"""Privacy masks: blank private areas, as solid fill, in every still or clip that leaves the provider.

Frigate has no mask that blanks pixels (its motion and object masks only steer detection), so
Guarita applies each camera's ``privacy_masks`` itself before an image goes out: the snapshot of a
public-facing attestation now, evidence exports later. A mask is a polygon in Frigate's relative
format, ``"x1,y1,x2,y2,..."`` with every value in 0-1 of the picture's width and height.

* ``mask_image`` / ``mask_jpeg``: a still, with Pillow (polygons filled, no anti-aliasing, so no
  private pixel bleeds through the edge).
* ``mask_clip``: a clip, with ffmpeg: a mask image (opaque polygons on transparency, drawn by
  Pillow) is laid over every frame (``overlay``, built by ``masked_video``, which the live view
  uses too); audio is copied.
* ``masked_video`` scales the mask image to the picture inside ffmpeg's filter graph
  (``scale2ref``, nearest neighbour: the layer stays opaque or transparent, no soft edge). A clip
  draws it at the clip's own size (the scale changes nothing); the live view, which must not spend
  an RTSP session learning the picture size, draws it once at ``LAYER_SIZE`` (``save_layer``,
  larger than the cameras it serves, so scaling only shrinks it): the masked pixels then differ
  from a drawing at the picture's size only on the polygon's boundary pixels (within one pixel).

Covers: BH-02, BH-04, BH-07.
"""

from __future__ import annotations

import asyncio
import io
import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ffmpeg  # type: ignore[import-untyped]
from PIL import Image, ImageDraw

from guarita.config import polygon_points
from guarita.errors import GuaritaError
from guarita.quiet_ffmpeg import run_quietly

__all__ = ["DEFAULT_FILL", "LAYER_SIZE", "PrivacyMaskError", "mask_clip", "mask_image", "mask_jpeg", "mask_layer",
           "masked_video", "parse_polygon", "save_layer"]

log = logging.getLogger(__name__)

DEFAULT_FILL = (0, 0, 0)
"""Solid black: the colour of a blanked area."""

LAYER_SIZE = (3840, 2160)
"""The size ``save_layer`` draws at: 4K UHD, at least the size of the cameras' pictures, so ffmpeg only
shrinks the layer (masks are relative, so its shape does not depend on the picture's)."""


class PrivacyMaskError(GuaritaError):
    """A mask is malformed, or an image or clip could not be masked."""


def parse_polygon(mask: str) -> list[tuple[float, float]]:
    """``"x1,y1,x2,y2,..."`` (relative 0-1) as a list of points (the config's own rule).

    Raises:
        PrivacyMaskError: not numbers, fewer than three points, odd count, or a value outside 0-1.
    """
    try:
        return polygon_points(mask)
    except ValueError as exc:
        raise PrivacyMaskError(str(exc)) from None


def _pixels(points: list[tuple[float, float]], size: tuple[int, int]) -> list[tuple[float, float]]:
    width, height = size
    return [(x * (width - 1), y * (height - 1)) for x, y in points] if width > 1 and height > 1 else \
        [(x * width, y * height) for x, y in points]


def mask_layer(size: tuple[int, int], masks: Sequence[str], fill: tuple[int, int, int] = DEFAULT_FILL) -> Image.Image:
    """An RGBA image of ``size``: the polygons opaque in ``fill``, the rest fully transparent."""
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    for mask in masks:
        draw.polygon(_pixels(parse_polygon(mask), size), fill=(*fill, 255))
    return layer


def save_layer(path: Path, masks: Sequence[str], size: tuple[int, int] = LAYER_SIZE,
               fill: tuple[int, int, int] = DEFAULT_FILL) -> Path:
    """Write the mask layer of ``masks`` at ``size`` to ``path`` as a PNG, for ``masked_video``.

    A two-colour palette image (transparent, ``fill``): drawn and written in a tenth of the time of
    the RGBA one at 4K, and the same layer once ffmpeg has read it.
    """
    layer = Image.new("P", size, 0)
    layer.putpalette([0, 0, 0, *fill])
    draw = ImageDraw.Draw(layer)
    for mask in masks:
        draw.polygon(_pixels(parse_polygon(mask), size), fill=1)
    layer.save(path, format="PNG", transparency=0, compress_level=1)
    return path


def mask_image(image: Image.Image, masks: Sequence[str], fill: tuple[int, int, int] = DEFAULT_FILL) -> Image.Image:
    """A copy of ``image`` (as RGB) with every polygon filled solid."""
    masked = image.convert("RGB")
    if masks:
        layer = mask_layer(masked.size, masks, fill)
        masked.paste(layer.convert("RGB"), (0, 0), layer)
    return masked


def mask_jpeg(data: bytes, masks: Sequence[str], *, fill: tuple[int, int, int] = DEFAULT_FILL,
              quality: int = 90) -> bytes:
    """Mask a JPEG (or any image Pillow reads) and return it as JPEG.

    Raises:
        PrivacyMaskError: ``data`` is not an image.
    """
    try:
        with Image.open(io.BytesIO(data)) as image:
            masked = mask_image(image, masks, fill)
    except (OSError, Image.DecompressionBombError) as exc:
        raise PrivacyMaskError(f"cannot read the image to mask ({exc})") from None
    out = io.BytesIO()
    masked.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def masked_video(video: Any, layer_path: Path) -> Any:
    """The ffmpeg-python stream ``video`` with the mask layer (a PNG from ``mask_layer`` or ``save_layer``, any
    size) scaled to the picture and laid over every frame.

    The one filter construction of every masked clip or stream (``mask_clip``, the live view). The layer is
    one image: ffmpeg scales it once (``scale2ref`` to ``video``'s size, nearest neighbour, after turning a
    palette into RGBA, whose alpha survives the scaling) and ``overlay`` repeats it on every frame.
    """
    layer = ffmpeg.input(str(layer_path)).video.filter("format", "rgba")
    scaled = ffmpeg.filter_multi_output([layer, video], "scale2ref", flags="neighbor")
    return ffmpeg.overlay(scaled.stream(1), scaled.stream(0), x=0, y=0, format="auto")


async def _run(command: list[str]) -> None:
    await run_quietly(command, lambda words: PrivacyMaskError(f"ffmpeg could not mask the clip: {words}"))


async def mask_clip(source: Path, dest: Path, masks: Sequence[str], *, fill: tuple[int, int, int] = DEFAULT_FILL,
                    crf: int = 23) -> Path:
    """Write ``source`` to ``dest`` (H.264 MP4) with every polygon blanked on every frame.

    Raises:
        PrivacyMaskError: the masks are malformed, or ffprobe/ffmpeg failed.
    """
    for mask in masks:
        parse_polygon(mask)
    try:
        info = await asyncio.to_thread(ffmpeg.probe, str(source), v="error")
    except ffmpeg.Error as exc:
        raise PrivacyMaskError(f"cannot read {source.name}: {(exc.stderr or b'').decode(errors='replace')[-200:]}") \
            from None
    video = next((s for s in info["streams"] if s.get("codec_type") == "video"), None)
    if video is None:
        raise PrivacyMaskError(f"{source.name} has no video stream")
    has_audio = any(s.get("codec_type") == "audio" for s in info["streams"])
    with tempfile.TemporaryDirectory(prefix="guarita-mask-") as scratch:
        layer_path = Path(scratch) / "mask.png"
        mask_layer((int(video["width"]), int(video["height"])), masks, fill).save(layer_path)
        clip = ffmpeg.input(str(source))
        picture = masked_video(clip.video, layer_path)
        streams = [picture, clip.audio] if has_audio else [picture]
        audio = {"acodec": "copy"} if has_audio else {}
        out = ffmpeg.output(*streams, str(dest), vcodec="libx264", pix_fmt="yuv420p", crf=crf, preset="veryfast",
                            movflags="+faststart", **audio).global_args("-nostdin", "-loglevel", "error")
        await _run(ffmpeg.compile(out, overwrite_output=True))
    log.info("masked %d area(s) in %s", len(masks), dest.name)
    return dest
