"""Reading fragmented MP4 from ffmpeg's stdout, one box at a time.

ffmpeg (``command.FMP4_FLAGS``) writes ``ftyp`` and ``moov`` (the init segment a player needs
first), then at each keyframe a ``moof`` followed by its ``mdat``: a fragment that a new
viewer can start with. ``read_box`` gives one whole box; ``Fmp4Splitter`` groups boxes into
the init segment and the fragments.

Covers: BH-11.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from guarita.errors import GuaritaError

__all__ = ["MAX_BOX_BYTES", "Fmp4Error", "Fmp4Piece", "Fmp4Splitter", "read_box"]

MAX_BOX_BYTES = 64 * 1024 * 1024
"""A box larger than this is not a live fragment: the stream is refused as broken."""


class Fmp4Error(GuaritaError):
    """ffmpeg's output is not the fragmented MP4 expected."""


async def read_box(stream: asyncio.StreamReader) -> tuple[bytes, bytes] | None:
    """The next box as (type, its bytes with the header), or None at a clean end of stream.

    Raises:
        Fmp4Error: a box cut short, of size 0 (to end of file) or larger than ``MAX_BOX_BYTES``.
    """
    try:
        header = await stream.readexactly(8)
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            return None
        raise Fmp4Error(f"the stream ended inside a box header ({len(exc.partial)} of 8 bytes)") from None
    size = int.from_bytes(header[:4], "big")
    kind = header[4:8]
    extended = b""
    try:
        if size == 1:
            extended = await stream.readexactly(8)
            size = int.from_bytes(extended, "big")
        head = 8 + len(extended)
        if size < head or size > MAX_BOX_BYTES:
            raise Fmp4Error(f"box {kind!r} has an unusable size {size}")
        body = await stream.readexactly(size - head)
    except asyncio.IncompleteReadError as exc:
        raise Fmp4Error(f"the stream ended inside box {kind!r} ({len(exc.partial)} bytes read)") from None
    return kind, header + extended + body


@dataclass(frozen=True)
class Fmp4Piece:
    """The init segment (``init`` True) or one fragment (``moof`` … ``mdat``)."""

    init: bool
    data: bytes


class Fmp4Splitter:
    """Groups boxes: everything before the first ``moof`` is the init segment; each ``mdat`` closes a fragment."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._init_done = False

    def add(self, kind: bytes, box: bytes) -> Fmp4Piece | None:
        """Take one box; return the piece it completes, if any."""
        if kind == b"moof" and not self._init_done:
            if not self._parts:
                raise Fmp4Error("a fragment came before the init segment (no ftyp/moov)")
            init = b"".join(self._parts)
            self._parts = [box]
            self._init_done = True
            return Fmp4Piece(True, init)
        self._parts.append(box)
        if kind == b"mdat" and self._init_done:
            fragment = b"".join(self._parts)
            self._parts = []
            return Fmp4Piece(False, fragment)
        return None
