"""Copy one DVR file into its ``.part`` file, resuming where an earlier visit stopped.

The ``.part`` file is the only state of a transfer: its length is the resume offset. Its
bytes are hashed again on resume (a local read, far cheaper than the Wi-Fi), so the SHA-256
always covers the whole file. A transfer that breaks off leaves the ``.part`` file for the
next visit, flushed to disk.

Covers: PB-06, DT-06.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from guarita.adapters.dvr.rate import RateLimiter
from guarita.adapters.dvr.source import CHUNK_BYTES, DvrSource

__all__ = ["FetchedFile", "fetch_to_part", "sync_file"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FetchedFile:
    """A complete ``.part`` file: its size, SHA-256 and how many bytes came over the network."""

    part: Path
    size: int
    sha256: str
    transferred: int
    resumed_from: int


def sync_file(path: Path) -> None:
    """Flush ``path``'s data to disk (blocking: call it through ``asyncio.to_thread``)."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _hash_prefix(part: Path, expected: int) -> tuple[int, "hashlib._Hash"]:
    """Hash what an earlier visit fetched; start over when it is longer than the file."""
    digest = hashlib.sha256()
    if not part.exists():
        return 0, digest
    have = part.stat().st_size
    if have > expected:
        log.warning("%s holds %d bytes but the DVR file has %d: fetching it again", part, have, expected)
        part.unlink()
        return 0, digest
    with part.open("rb") as stream:
        while chunk := stream.read(CHUNK_BYTES):
            digest.update(chunk)
    return have, digest


async def fetch_to_part(
    source: DvrSource,
    folder: str,
    name: str,
    part: Path,
    expected_size: int,
    *,
    limiter: RateLimiter | None = None,
    on_bytes: Callable[[int], None] | None = None,
) -> FetchedFile:
    """Bring ``part`` up to ``expected_size`` bytes of the DVR's ``folder/name``.

    Raises:
        DvrTransferError, DvrUnreachable: the transfer broke off; ``part`` keeps what came.
    """
    part.parent.mkdir(parents=True, exist_ok=True)
    # Re-reading what an earlier visit fetched can be hundreds of MB: off the event loop.
    offset, digest = await asyncio.to_thread(_hash_prefix, part, expected_size)
    if offset:
        log.info("resuming %s/%s at byte %d of %d", folder, name, offset, expected_size)
    transferred = 0
    if offset < expected_size:
        with part.open("ab") as out:
            try:
                async for chunk in source.fetch(folder, name, offset):
                    if limiter is not None:
                        await limiter.take(len(chunk))
                    out.write(chunk)
                    digest.update(chunk)
                    transferred += len(chunk)
                    if on_bytes is not None:
                        on_bytes(len(chunk))
            except BaseException:
                # What came is kept for the next visit, even when the bus drives off now.
                out.flush()
                os.fsync(out.fileno())
                raise
    # A complete file is made durable by the caller (``sync_file``) before it is renamed,
    # off the event loop, while the next file is being fetched.
    size = part.stat().st_size
    return FetchedFile(part, size, digest.hexdigest(), transferred, offset)
