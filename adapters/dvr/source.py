"""What a DVR source is: list a folder, fetch a file from an offset.

A new DVR protocol is one module with a class implementing ``DvrSource`` and one line in
``guarita.adapters.dvr.sources.open_source``. Sources return names exactly as the DVR
listed them; ``guarita.adapters.dvr.names`` decides which are safe to use as paths.

Covers: PB-06, DT-10.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self

__all__ = ["CHUNK_BYTES", "LISTING_MAX_BYTES", "DvrSource", "RemoteEntry"]

CHUNK_BYTES = 1 << 20  # transfers are read and hashed in chunks of this size
# A folder listing larger than this is refused: a day of 1-minute segments of one camera
# lists in about 150 KiB; a listing that goes on is a broken or hostile DVR, not footage.
LISTING_MAX_BYTES = 4 << 20


@dataclass(frozen=True)
class RemoteEntry:
    """One entry of a DVR folder listing, as the DVR gave it."""

    name: str
    is_dir: bool = False
    size: int | None = None  # None when the listing gives no exact byte count (Apache's "1.2M")
    is_link: bool = False  # symlinks are never followed
    special: str | None = None  # what a non-regular file is ("a FIFO (named pipe)"); never read


class DvrSource(Protocol):
    """A DVR reachable over some transport. Used as ``async with source: ...``.

    Every method raises ``DvrUnreachable`` when the DVR does not answer, ``DvrAuthError``
    when it refuses the credentials and ``DvrTransferError`` for anything else.
    """

    @property
    def display(self) -> str:
        """The source's URL without credentials, for logs and errors."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    async def list_folder(self, folder: str) -> list[RemoteEntry]:
        """Entries of ``folder`` (relative to the source root; "" is the root).

        Raises ``DvrFolderMissing`` when the folder does not exist, and ``DvrTransferError``
        when its listing is larger than ``LISTING_MAX_BYTES``.
        """
        ...

    async def size(self, folder: str, name: str) -> int:
        """Exact size in bytes of one file (for listings that give none)."""
        ...

    def fetch(self, folder: str, name: str, offset: int) -> AsyncIterator[bytes]:
        """The file's bytes from ``offset`` to its end, in chunks of at most ``CHUNK_BYTES``.

        The first chunk starts exactly at ``offset`` (resumed with HTTP Range, FTP REST or a
        seek). Raises ``DvrTransferError`` (or ``DvrUnreachable``) if the transfer breaks off.
        """
        ...
