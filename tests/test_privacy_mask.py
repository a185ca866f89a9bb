"""Privacy masks blank pixels: read back inside and outside the polygon, on a still, on a clip and on the live
view's layer, drawn once at 4K and scaled by ffmpeg to the picture."""

from __future__ import annotations

import asyncio
import io
import subprocess
from pathlib import Path

import pytest
import ffmpeg  # type: ignore[import-untyped]
from PIL import Image, ImageChops, ImageFilter

from guarita.privacy_mask import (PrivacyMaskError, mask_clip, mask_image, mask_jpeg, mask_layer, masked_video,
                                  parse_polygon, save_layer)

# A triangle on the left half and a quadrilateral in the bottom-right corner (Frigate's relative format).
MASKS = ["0.05,0.1,0.45,0.1,0.05,0.9", "0.6,0.6,0.95,0.55,0.95,0.95,0.65,0.95"]
WHITE = (255, 255, 255)
INSIDE = [(0.1, 0.2), (0.15, 0.7), (0.3, 0.2), (0.8, 0.8), (0.9, 0.9)]
OUTSIDE = [(0.4, 0.8), (0.5, 0.5), (0.9, 0.1), (0.7, 0.3), (0.02, 0.5)]


def at(image: Image.Image, x: float, y: float) -> tuple[int, ...]:
    rgb = image.convert("RGB")
    value = rgb.getpixel((int(x * (rgb.width - 1)), int(y * (rgb.height - 1))))
    assert isinstance(value, tuple)
    return value


def near(pixel: tuple[int, ...], colour: tuple[int, int, int], tolerance: int = 24) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=True))


# covers BH-07, BH-02
def test_a_still_is_blanked_inside_the_polygons_only() -> None:
    masked = mask_image(Image.new("RGB", (640, 360), WHITE), MASKS)
    assert all(at(masked, x, y) == (0, 0, 0) for x, y in INSIDE)
    assert all(at(masked, x, y) == WHITE for x, y in OUTSIDE)
    red = mask_image(Image.new("RGB", (64, 36), WHITE), MASKS, fill=(255, 0, 0))
    assert at(red, 0.1, 0.2) == (255, 0, 0)


# covers BH-07, BH-04
def test_a_jpeg_snapshot_is_blanked() -> None:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), WHITE).save(out, format="JPEG")
    with Image.open(io.BytesIO(mask_jpeg(out.getvalue(), MASKS))) as masked:
        assert masked.format == "JPEG" and masked.size == (320, 240)
        assert all(near(at(masked, x, y), (0, 0, 0)) for x, y in INSIDE)
        assert all(near(at(masked, x, y), WHITE) for x, y in OUTSIDE)
    with pytest.raises(PrivacyMaskError, match="cannot read the image"):
        mask_jpeg(b"not an image", MASKS)


# covers BH-07
@pytest.mark.parametrize(("mask", "message"), [
    ("0.1,0.1,0.2", "at least three"), ("0.1,0.1,0.2,0.2", "at least three"), ("a,b,c,d,e,f", "numbers"),
    ("0.1,0.1,1.5,0.1,0.1,0.9", "every value in 0-1"),
])
def test_malformed_masks_are_refused(mask: str, message: str) -> None:
    with pytest.raises(PrivacyMaskError, match=message):
        parse_polygon(mask)
    assert parse_polygon("0,0,1,0,1,1") == [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0)]


def frame_at(clip: Path, seconds: float, folder: Path) -> Image.Image:
    png = folder / f"frame-{seconds}.png"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-ss", str(seconds), "-i", str(clip),
                    "-frames:v", "1", str(png)], check=True, timeout=60)
    return Image.open(png)


# covers BH-07, BH-02
async def test_every_frame_of_a_clip_is_blanked_and_audio_kept(tmp_path: Path) -> None:
    source = tmp_path / "white.mp4"
    make = await asyncio.create_subprocess_exec(
        "ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "color=c=white:s=320x180:r=10:d=2",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000:duration=2", "-c:v", "libx264", "-pix_fmt",
        "yuv420p", "-c:a", "aac", "-shortest", str(source))
    assert await make.wait() == 0
    masked = await mask_clip(source, tmp_path / "masked.mp4", MASKS)
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_type,codec_name", "-of", "csv=p=0",
                            str(masked)], capture_output=True, text=True, check=True).stdout.split()
    assert sorted(probe) == ["aac,audio", "h264,video"]
    for seconds in (0.0, 1.5):
        with frame_at(masked, seconds, tmp_path) as frame:
            assert all(near(at(frame, x, y), (0, 0, 0)) for x, y in INSIDE)
            assert all(near(at(frame, x, y), WHITE) for x, y in OUTSIDE)
    with pytest.raises(PrivacyMaskError, match="cannot read"):
        await mask_clip(tmp_path / "missing.mp4", tmp_path / "out.mp4", MASKS)


# covers BH-07, BH-11
@pytest.mark.parametrize("size", [(640, 360), (1920, 1080), (352, 288)])
def test_the_live_layer_drawn_once_at_4k_is_scaled_by_ffmpeg_with_solid_edges(tmp_path: Path,
                                                                             size: tuple[int, int]) -> None:
    layer = save_layer(tmp_path / "mask.png", MASKS)
    with Image.open(layer) as drawn:
        assert drawn.size == (3840, 2160)
    width, height = size
    picture = ffmpeg.input(f"color=c=white:s={width}x{height}:d=0.2", f="lavfi").video
    out = ffmpeg.output(masked_video(picture, layer), str(tmp_path / "frame.png"), frames=1)
    subprocess.run(ffmpeg.compile(out.global_args("-nostdin", "-loglevel", "error"), overwrite_output=True),
                   check=True, timeout=60)
    with Image.open(tmp_path / "frame.png") as frame:
        luma = frame.convert("L")
    assert luma.size == size
    # Solid: every pixel black or white, no blended edge.
    values = [value for value, count in enumerate(luma.histogram()) if count]
    assert all(value <= 20 or value >= 235 for value in values), values
    blanked = luma.point(lambda value: 255 if value < 128 else 0)
    exact = mask_layer(size, MASKS).getchannel("A")  # drawn at the picture's own size
    # Only the polygons' boundary pixels may differ: all of the polygon but its edge is blanked, and
    # nothing beyond one pixel of it.
    inner, outer = exact.filter(ImageFilter.MinFilter(3)), exact.filter(ImageFilter.MaxFilter(3))
    assert ImageChops.subtract(inner, blanked).getbbox() is None
    assert ImageChops.subtract(blanked, outer).getbbox() is None
    assert abs(sum(blanked.histogram()[255:]) - sum(exact.histogram()[255:])) < 0.02 * sum(exact.histogram()[255:])
