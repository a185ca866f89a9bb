"""Draw the Home Assistant brand images of the integration (custom_components/guarita/brand/).

An original emblem: a sentry box ("guarita") under a pitched roof, with a camera lens for a
window, white on a deep teal rounded square. ``icon.png`` is 256×256; ``logo.png`` puts the
emblem beside the word "Guarita" (256 px tall). Run with the project's environment:

    .venv/bin/python scripts/draw_brand.py

Covers: PB-08.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

TEAL = (12, 92, 99, 255)
WHITE = (255, 255, 255, 255)
AMBER = (245, 166, 35, 255)
CLEAR = (0, 0, 0, 0)
BRAND = Path(__file__).resolve().parents[1] / "custom_components" / "guarita" / "brand"


def emblem(size: int) -> Image.Image:
    """The sentry box on a rounded square, ``size`` pixels wide and tall (drawn 4× and scaled down)."""
    big = size * 4
    image = Image.new("RGBA", (big, big), CLEAR)
    draw = ImageDraw.Draw(image)
    u = big / 64  # a 64-unit grid
    draw.rounded_rectangle((0, 0, big - 1, big - 1), radius=14 * u, fill=TEAL)
    draw.polygon([(12 * u, 26 * u), (32 * u, 11 * u), (52 * u, 26 * u)], fill=WHITE)  # roof
    draw.rectangle((17 * u, 26 * u, 47 * u, 53 * u), fill=WHITE)  # the box
    draw.rectangle((13 * u, 53 * u, 51 * u, 56 * u), fill=WHITE)  # its step
    draw.ellipse((24 * u, 30 * u, 40 * u, 46 * u), fill=TEAL)  # the lens
    draw.ellipse((28 * u, 34 * u, 36 * u, 42 * u), fill=AMBER)
    draw.ellipse((29.5 * u, 35.5 * u, 32 * u, 38 * u), fill=WHITE)  # a glint
    return image.resize((size, size), Image.Resampling.LANCZOS)


def logo(height: int) -> Image.Image:
    """The emblem and the word, ``height`` pixels tall, on a transparent background."""
    font = ImageFont.load_default(size=int(height * 0.55))
    text = "Guarita"
    left, top, right, bottom = font.getbbox(text)
    gap = height // 6
    image = Image.new("RGBA", (height + gap + (right - left) + gap, height), CLEAR)
    image.paste(emblem(height), (0, 0))
    draw = ImageDraw.Draw(image)
    draw.text((height + gap - left, (height - (bottom - top)) // 2 - top), text, font=font, fill=TEAL)
    return image


def main() -> None:
    BRAND.mkdir(parents=True, exist_ok=True)
    emblem(256).save(BRAND / "icon.png", optimize=True)
    emblem(512).save(BRAND / "icon@2x.png", optimize=True)
    logo(256).save(BRAND / "logo.png", optimize=True)


if __name__ == "__main__":
    main()
