"""Copy one DVR file into its ``.part`` file, resuming where an earlier visit stopped.

The ``.part`` file is the only state of a transfer: its length is the resume offset. Its
bytes are hashed again on resume (a local read, far cheaper than the Wi-Fi), so the SHA-256
always covers the whole file. A transfer that breaks off leaves the ``.part`` file for the
next visit, flushed to disk.

Nothing a DVR sends is trusted to end: the ``.part`` file never grows past the size the
listing gave (a body that goes on is cut there and flagged ``overlong``, for the quarantine),
and a file must arrive within a time limit derived from its size and a minimum rate
(``fleet.min_transfer_mbps``), so a DVR that trickles bytes cannot hold a pass forever.

Covers: PB-06, DT-06, DT-10.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from guarita.adapters.dvr.rate import RateLimiter
from guarita.adapters.dvr.source import CHUNK_BYTES, DvrSource
from guarita.errors import DvrTransferError

__all__ = ["MIN_FILE_TIME_S", "FetchedFile", "fetch_to_part", "file_time_limit", "sync_file"]

log = logging.getLogger(__name__)

MIN_FILE_TIME_S = 30.0  # every file gets at least this long, however small


def file_time_limit(size: int, min_rate: float | None) -> float | None:
    """Seconds ``size`` bytes may take at ``min_rate`` bytes per second (None: no limit)."""
    return None if min_rate is None else MIN_FILE_TIME_S + size / min_rate


@dataclass(frozen=True)
class FetchedFile:
    """A complete ``.part`` file: its size, SHA-256 and how many bytes came over the network."""

    part: Path
    size: int
    sha256: str
    transferred: int
    resumed_from: int
    overlong: bool = False  # the DVR kept sending past the listed size; the rest was not written


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
    min_rate: float | None = None,
) -> FetchedFile:
    """Bring ``part`` up to ``expected_size`` bytes of the DVR's ``folder/name``, never past it.

    ``min_rate`` (bytes per second) sets the time limit of what is left to fetch
    (``file_time_limit``). A body longer than ``expected_size`` is cut there and the result
    says ``overlong``.

    Raises:
        DvrTransferError, DvrUnreachable: the transfer broke off or overran its time
            limit; ``part`` keeps what came.
    """
    part.parent.mkdir(parents=True, exist_ok=True)
    # Re-reading what an earlier visit fetched can be hundreds of MB: off the event loop.
    offset, digest = await asyncio.to_thread(_hash_prefix, part, expected_size)
    if offset:
        log.info("resuming %s/%s at byte %d of %d", folder, name, offset, expected_size)
    transferred = 0
    overlong = False
    remaining = expected_size - offset
    limit = file_time_limit(remaining, min_rate)
    with part.open("ab") as out:  # created even for an empty file: the caller stats it
        if remaining > 0:
            chunks = source.fetch(folder, name, offset)
            try:
                async with asyncio.timeout(limit):
                    async for chunk in chunks:
                        room = remaining - transferred
                        if len(chunk) > room:
                            overlong = True  # the listing said less: keep the listed bytes only
                            chunk = chunk[:room]
                        if chunk:
                            if limiter is not None:
                                await limiter.take(len(chunk))
                            out.write(chunk)
                            digest.update(chunk)
                            transferred += len(chunk)
                            if on_bytes is not None:
                                on_bytes(len(chunk))
                        if overlong:
                            break
            except TimeoutError:
                _keep(out)
                raise DvrTransferError(
                    f"{source.display}{folder}/{name}: not complete after {limit:.0f} s ({transferred} of "
                    f"{remaining} bytes came; fleet.min_transfer_mbps asks for at least "
                    f"{(min_rate or 0) * 8 / 1e6:g} Mbit/s); the next pass resumes it"
                ) from None
            except BaseException:
                # What came is kept for the next visit, even when the bus drives off now.
                _keep(out)
                raise
            finally:
                await _close(chunks)
    # A complete file is made durable by the caller (``sync_file``) before it is renamed,
    # off the event loop, while the next file is being fetched.
    size = part.stat().st_size
    if overlong:
        log.warning("%s/%s: the DVR sent more than the %d bytes it listed; cut there", folder, name, expected_size)
    return FetchedFile(part, size, digest.hexdigest(), transferred, offset, overlong)


def _keep(out: BinaryIO) -> None:
    out.flush()
    os.fsync(out.fileno())


async def _close(chunks: AsyncIterator[bytes]) -> None:
    """End a transfer left early (the connection is dropped, not read to its end)."""
    close = getattr(chunks, "aclose", None)
    if close is not None:
        await close()
