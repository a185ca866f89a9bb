"""A DVR's SD card or USB disk mounted on the garage server (``file:///mnt/sd``).

Nothing on the card is trusted: symlinks are listed as links (never as folders) and never
followed, a folder that is itself a link is refused, and files are opened with
``O_NOFOLLOW`` relative to their folder. Anything that is not a regular file or a folder
(a FIFO, a device node, a socket) is listed with what it is in ``special`` and never opened
(opening a FIFO would wait for a writer for ever; a device node reads without end); files
are opened ``O_NONBLOCK`` too, so one swapped in after the listing cannot block either. A
missing root means the card is not inserted (``DvrUnreachable``); a missing folder is
``DvrFolderMissing``. Blocking file I/O runs in ``asyncio.to_thread``, one call per chunk.

Covers: PB-06, DT-10.
"""

from __future__ import annotations

import asyncio
import errno
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import unquote, urlsplit

from guarita.adapters.dvr.source import CHUNK_BYTES, RemoteEntry
from guarita.errors import DvrFolderMissing, DvrTransferError, DvrUnreachable

__all__ = ["FolderDvrSource"]

_ROOT_FLAGS = os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0)  # the mount point may be a link
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


def special_kind(mode: int) -> str | None:
    """What a file of ``mode`` is when it is neither a regular file nor a folder."""
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device node"
    if stat.S_ISBLK(mode):
        return "a block device node"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if not stat.S_ISREG(mode):
        return "not a regular file"
    return None


def _scan(folder_fd: int) -> list[RemoteEntry]:
    entries: list[RemoteEntry] = []
    with os.scandir(folder_fd) as scan:
        for entry in scan:
            if entry.is_symlink():
                entries.append(RemoteEntry(name=entry.name, is_link=True))
            elif entry.is_dir(follow_symlinks=False):
                entries.append(RemoteEntry(name=entry.name, is_dir=True))
            else:
                info = entry.stat(follow_symlinks=False)
                special = special_kind(info.st_mode)
                size = None if special is not None else info.st_size
                entries.append(RemoteEntry(name=entry.name, size=size, special=special))
    return sorted(entries, key=lambda e: e.name)


class FolderDvrSource:
    """A DVR tree in a local folder (a mounted card); ``root`` holds one folder per camera."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._display = root.as_uri() if root.is_absolute() else str(root)

    @classmethod
    def from_url(cls, url: str) -> FolderDvrSource:
        """The source for a ``file:///mount/point`` URL."""
        parts = urlsplit(url)
        if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
            raise ValueError(f"not a local file URL: {url!r}; use file:///mount/point")
        return cls(Path(unquote(parts.path)))

    @property
    def display(self) -> str:
        """The source's URL, for logs and errors."""
        return self._display

    def __repr__(self) -> str:
        return f"FolderDvrSource({self._display!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    async def list_folder(self, folder: str) -> list[RemoteEntry]:
        """Entries of ``folder`` ("" is the root), symlinks and special files flagged.

        Raises ``DvrFolderMissing`` when the folder is not on the card.
        """
        return await asyncio.to_thread(self._list, folder)

    async def size(self, folder: str, name: str) -> int:
        """Exact size in bytes of one regular file."""
        fd = await asyncio.to_thread(self._open_file, folder, name)
        try:
            return os.fstat(fd).st_size
        finally:
            os.close(fd)

    async def fetch(self, folder: str, name: str, offset: int) -> AsyncIterator[bytes]:
        """The file's bytes from ``offset``, read in chunks of CHUNK_BYTES."""
        fd = await asyncio.to_thread(self._open_file, folder, name)
        try:
            expected = os.fstat(fd).st_size
            if offset > expected:
                raise DvrTransferError(
                    f"DVR card {self._display}: offset {offset} is past the end of {folder}/{name} ({expected} B)"
                )
            position = offset
            while True:
                try:
                    chunk = await asyncio.to_thread(os.pread, fd, CHUNK_BYTES, position)
                except OSError as exc:
                    raise self._error(exc, f"{folder}/{name}", f"reading at byte {position}") from exc
                if not chunk:
                    break
                position += len(chunk)
                yield chunk
            if position < expected:
                raise DvrTransferError(
                    f"DVR card {self._display}: {folder}/{name} ended at byte {position} of {expected} "
                    "(file shrank or card removed)"
                )
        finally:
            os.close(fd)

    def _open_folder(self, folder: str) -> int | None:
        """An fd of ``folder`` under the root, no link followed; None when it is missing."""
        try:
            fd = os.open(self._root, _ROOT_FLAGS)
        except OSError as exc:
            raise DvrUnreachable(
                f"DVR card {self._display} is not mounted ({exc.strerror}); is the card inserted?"
            ) from exc
        for part in [part for part in folder.split("/") if part]:
            try:
                inner = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                return None
            except OSError as exc:
                raise self._error(exc, folder, "opening the folder") from exc
            finally:
                os.close(fd)
            fd = inner
        return fd

    def _list(self, folder: str) -> list[RemoteEntry]:
        fd = self._open_folder(folder)
        if fd is None:
            raise DvrFolderMissing(f"DVR card {self._display}: folder {folder!r} is not on the card")
        try:
            return _scan(fd)
        except OSError as exc:
            raise self._error(exc, folder or "/", "listing") from exc
        finally:
            os.close(fd)

    def _open_file(self, folder: str, name: str) -> int:
        what = f"{folder}/{name}"
        if name in ("", ".", "..") or "/" in name or "\x00" in name:
            raise DvrTransferError(f"DVR card {self._display}: refusing to open {what!r}: not a plain file name")
        folder_fd = self._open_folder(folder)
        if folder_fd is None:
            raise DvrTransferError(f"DVR card {self._display}: folder {folder!r} is gone (reading {name})")
        try:
            fd = os.open(name, _FILE_FLAGS, dir_fd=folder_fd)
        except OSError as exc:
            raise self._error(exc, what, "opening") from exc
        finally:
            os.close(folder_fd)
        special = special_kind(os.fstat(fd).st_mode)
        if special is not None:
            os.close(fd)
            raise DvrTransferError(f"DVR card {self._display}: {what} is {special}; only regular files are read")
        return fd

    def _error(self, exc: OSError, what: str, doing: str) -> DvrUnreachable | DvrTransferError:
        if not self._root.is_dir():
            return DvrUnreachable(f"DVR card {self._display} was removed while {doing} {what}")
        if exc.errno == errno.ELOOP:
            return DvrTransferError(f"DVR card {self._display}: {what} is a symbolic link; links are never followed")
        if exc.errno == errno.ENOTDIR:
            return DvrTransferError(
                f"DVR card {self._display}: {what} is not a folder (a file, or a symbolic link: never followed)"
            )
        return DvrTransferError(f"DVR card {self._display}: {doing} {what} failed: {exc.strerror or exc}")
