"""A DVR whose files are served over FTP (``ftp://user@host[:port]/path``), via aioftp.

Folders are listed with MLSD (``LIST`` when the server has no MLSD); names are taken
verbatim from the listing lines, sizes from the ``size`` fact, and a symlink (ProFTPD's
``type=OS.unix=slink:...`` / ``OS.unix=symlink``, or an ``l`` line in LIST) is flagged
``is_link``. Files are resumed with ``REST <offset>`` before ``RETR``; ``SIZE`` is asked
first so a transfer that ends early is caught even when the server reports success.

Errors are translated here: no answer (refused, DNS, connect timeout, 421) is
``DvrUnreachable``; 530 at login is ``DvrAuthError``; a folder that is not there (450/550)
is ``DvrFolderMissing``; anything else, including a 426 abort, a listing larger than
``LISTING_MAX_BYTES`` and a data connection silent for ``read_timeout``, is
``DvrTransferError``. A transfer left early drops the control connection (the next call
logs in afresh), so it never answers out of step. The password is
never logged (aioftp masks ``PASS``) nor put in a message.

Covers: PB-06, DT-10.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import PurePosixPath
from types import TracebackType
from typing import Literal, Self
from urllib.parse import unquote, urlsplit

import aioftp

from guarita.adapters.dvr.source import CHUNK_BYTES, LISTING_MAX_BYTES, RemoteEntry
from guarita.adapters.dvr.sources import redact_url
from guarita.errors import DvrAuthError, DvrError, DvrFolderMissing, DvrTransferError, DvrUnreachable

__all__ = ["FtpDvrSource"]

_LOGGER = logging.getLogger(__name__)
_FTP_ERRORS = (aioftp.AIOFTPException, OSError, EOFError, TimeoutError, ValueError)
_MISSING = ("450", "501", "550")  # MLSD/LIST of a folder that is not there
_NOT_IMPLEMENTED = ("500", "502", "504")
_Outcome = Literal["listed", "missing", "unsupported"]


class FtpDvrSource:
    """A DVR reached over FTP; one control connection, one transfer at a time."""

    def __init__(
        self, url: str, *, password: str | None = None, connect_timeout: float = 5.0, read_timeout: float = 30.0
    ) -> None:
        """Prepare the source; ``async with`` connects and logs in.

        Args:
            url: ``ftp://user@host[:port]/path``; a password in it is used only when
                ``password`` is None (the config never puts one there).
            password: The FTP user's password.
            connect_timeout: Seconds to connect and get the greeting before ``DvrUnreachable``.
            read_timeout: Seconds without an answer or a byte before ``DvrTransferError``.
        """
        parts = urlsplit(url)
        if parts.scheme != "ftp" or not parts.hostname:
            raise ValueError(f"not an ftp:// URL with a host: {redact_url(url)}")
        self._display = redact_url(url)
        self._host = parts.hostname
        self._port = parts.port or aioftp.DEFAULT_PORT
        self._user = unquote(parts.username) if parts.username else "anonymous"
        self._password = password if password is not None else unquote(parts.password or "")
        self._root = PurePosixPath(unquote(parts.path) or "/")
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._client: aioftp.Client | None = None
        self._lock = asyncio.Lock()

    @property
    def display(self) -> str:
        """The source's URL without credentials, for logs and errors."""
        return self._display

    def __repr__(self) -> str:
        return f"FtpDvrSource({self._display!r})"

    async def __aenter__(self) -> Self:
        async with self._lock:
            await self._connected()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        try:
            await asyncio.wait_for(client.quit(), self._connect_timeout)
        except (*_FTP_ERRORS, asyncio.CancelledError):
            _LOGGER.debug("DVR %s: QUIT not answered", self._display)
        finally:
            client.close()

    async def list_folder(self, folder: str) -> list[RemoteEntry]:
        """Entries of ``folder`` ("" is the root); ``DvrFolderMissing`` when it is not there."""
        path = self._path(folder)
        what = f"folder {folder or '/'!r}"
        async with self._lock:
            client = await self._connected()
            try:
                outcome, lines = await self._listing(client, f"MLSD {path}")
                if outcome == "listed":
                    entries = [_mlsd_entry(line, client.encoding) for line in lines if line.strip()]
                    return sorted((entry for entry in entries if entry is not None), key=lambda e: e.name)
                if outcome == "unsupported":
                    outcome, lines = await self._listing(client, f"LIST {path}")
                if outcome == "listed":
                    return sorted(_list_entries(client, lines), key=lambda e: e.name)
            except _FTP_ERRORS as exc:
                raise self._translate(exc, what) from exc
            except asyncio.CancelledError:
                self._drop()  # a listing given up on (its time limit) leaves the connection mid-command
                raise
        raise DvrFolderMissing(f"DVR {self._display}: {what} is not there")

    async def size(self, folder: str, name: str) -> int:
        """Exact size in bytes of one file (``SIZE``)."""
        what = f"file {folder}/{name}"
        async with self._lock:
            client = await self._connected()
            try:
                _, info = await client.command(f"SIZE {self._path(folder) / name}", "213")
                return int(info[-1].strip())
            except _FTP_ERRORS as exc:
                raise self._translate(exc, what) from exc

    async def fetch(self, folder: str, name: str, offset: int) -> AsyncIterator[bytes]:
        """The file's bytes from ``offset`` (``REST`` then ``RETR``), chunks of at most CHUNK_BYTES."""
        path = self._path(folder) / name
        what = f"file {folder}/{name}"
        async with self._lock:
            client = await self._connected()
            try:
                total = await self._size_or_none(client, path)
                if total is not None and offset >= total:
                    if offset > total:
                        raise DvrTransferError(f"DVR {self._display}: offset {offset} is past the end of {what}")
                    return
                stream = await self._open_data(client, f"RETR {path}", offset)
                received = 0
                try:
                    while chunk := await stream.read(CHUNK_BYTES):
                        received += len(chunk)
                        yield chunk
                except BaseException:
                    stream.close()
                    self._drop()  # the control connection is mid-transfer: start afresh next time
                    raise
                await stream.finish()  # 226, or 426 when the server aborted it
                if total is not None and offset + received < total:
                    raise DvrTransferError(
                        f"DVR {self._display}: {what} ended at byte {offset + received} of {total}"
                    )
            except _FTP_ERRORS as exc:
                raise self._translate(exc, what) from exc

    def _path(self, folder: str) -> PurePosixPath:
        return self._root.joinpath(*[part for part in folder.split("/") if part])

    def _drop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    async def _connected(self) -> aioftp.Client:
        if self._client is not None:
            return self._client
        client = aioftp.Client(socket_timeout=self._read_timeout, connection_timeout=self._connect_timeout)
        try:
            await asyncio.wait_for(client.connect(self._host, self._port), self._connect_timeout)
            await client.login(self._user, self._password)
            await client.command("TYPE I", "200")  # binary: SIZE is refused in ASCII mode
        except aioftp.StatusCodeError as exc:
            client.close()
            raise self._translate(exc, "login") from exc
        except _FTP_ERRORS as exc:
            client.close()
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
            raise DvrUnreachable(f"DVR {self._display} does not answer ({reason})") from exc
        self._client = client
        return client

    async def _open_data(
        self, client: aioftp.Client, command: str, offset: int = 0
    ) -> aioftp.DataConnectionThrottleStreamIO:
        """Open a passive data connection and send ``command``; the connection is closed if it fails."""
        reader, writer = await client.get_passive_connection("I")
        try:
            if offset:
                await client.command(f"REST {offset}", "350")
            await client.command(command, "1xx")
        except BaseException:
            writer.close()
            raise
        return aioftp.DataConnectionThrottleStreamIO(
            client, reader, writer, throttles={"_": client.throttle}, timeout=client.socket_timeout
        )

    async def _listing(self, client: aioftp.Client, command: str) -> tuple[_Outcome, list[bytes]]:
        """The lines a listing command sends, or why there are none (folder missing, command unknown)."""
        try:
            stream = await self._open_data(client, command)
        except aioftp.StatusCodeError as exc:
            code = exc.received_codes[-1]
            if any(code.matches(missing) for missing in _MISSING):
                return "missing", []
            if any(code.matches(absent) for absent in _NOT_IMPLEMENTED):
                return "unsupported", []
            raise
        lines: list[bytes] = []
        received = 0
        try:
            async with stream:
                while line := await stream.readline():
                    received += len(line)
                    if received > LISTING_MAX_BYTES:
                        raise DvrTransferError(
                            f"DVR {self._display}: the answer to {command.partition(' ')[0]} of "
                            f"{command.partition(' ')[2]} is larger than {LISTING_MAX_BYTES} bytes; refused "
                            "(a DVR folder listing is far smaller: check the DVR's FTP server)"
                        )
                    lines.append(line)
        except BaseException:
            self._drop()  # the control connection is mid-transfer: start afresh next time
            raise
        return "listed", lines

    async def _size_or_none(self, client: aioftp.Client, path: PurePosixPath) -> int | None:
        try:
            _, info = await client.command(f"SIZE {path}", "213")
        except aioftp.StatusCodeError as exc:
            if any(exc.received_codes[-1].matches(absent) for absent in _NOT_IMPLEMENTED):
                return None
            raise
        return int(info[-1].strip())

    def _translate(self, exc: BaseException, what: str) -> DvrError:
        if isinstance(exc, aioftp.StatusCodeError):
            code = str(exc.received_codes[-1])
            message = " ".join(str(line).strip() for line in exc.info) if isinstance(exc.info, list) else str(exc.info)
            if code == "530":
                return DvrAuthError(
                    f"DVR {self._display} refused the login (FTP 530 {message}); check the user in the "
                    "source URL and password_file/password_env"
                )
            if code == "421":
                return DvrUnreachable(f"DVR {self._display} is not serving now (FTP 421 {message}) for {what}")
            return DvrTransferError(f"DVR {self._display}: {what} failed: FTP {code} {message}")
        self._drop()
        if isinstance(exc, TimeoutError):
            return DvrTransferError(f"DVR {self._display}: {what} stalled ({self._read_timeout:g} s without an answer)")
        reason = (exc.strerror if isinstance(exc, OSError) else None) or str(exc) or type(exc).__name__
        return DvrTransferError(f"DVR {self._display}: {what} broke off: {reason}")


def _mlsd_entry(line: bytes, encoding: str) -> RemoteEntry | None:
    """One MLSD line, ``fact=value;fact=value; name``; the name is everything after the first space."""
    text = line.decode(encoding, errors="replace").rstrip("\r\n")
    facts_text, _, name = text.partition(" ")
    facts = {key.lower(): value for key, _, value in (fact.partition("=") for fact in facts_text.split(";") if fact)}
    kind = facts.get("type", "").lower()
    if kind in ("cdir", "pdir"):
        return None  # the folder itself and its parent
    size = facts.get("size", "")
    is_link = kind.startswith(("os.unix=slink", "os.unix=symlink"))
    is_dir = kind == "dir"
    exact = int(size) if size.isdigit() and not is_dir and not is_link else None
    return RemoteEntry(name=name, is_dir=is_dir, size=exact, is_link=is_link)


def _list_entries(client: aioftp.Client, lines: list[bytes]) -> list[RemoteEntry]:
    entries: list[RemoteEntry] = []
    for line in lines:
        if not line.strip() or line.startswith(b"total "):
            continue
        path, info = client.parse_list_line(line)
        is_link = "link_dst" in info
        is_dir = info["type"] == "dir" and not is_link
        size = info.get("size", "")
        exact = int(size) if isinstance(size, str) and size.isdigit() and not is_dir and not is_link else None
        entries.append(RemoteEntry(name=str(path), is_dir=is_dir, size=exact, is_link=is_link))
    return entries
