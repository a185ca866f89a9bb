"""A DVR whose files are served over HTTP(S) with directory listings.

Listings may be nginx ``autoindex`` (JSON or HTML) or Apache ``mod_autoindex`` (see
``_http_listing``). Files are resumed with ``Range: bytes=<offset>-``; a DVR that ignores
Range and answers 200 is still read correctly (the first ``offset`` bytes are skipped, and
that is logged once). The user name comes from the URL, the password is given separately,
and neither ever appears in a log line or an error (``display`` is the redacted URL).

Every aiohttp error is translated here: no answer (refused, DNS, connect timeout) is
``DvrUnreachable``; 401/403 is ``DvrAuthError``; a folder answering 404 is
``DvrFolderMissing``; any other status, a body shorter than its Content-Length, a listing
larger than ``LISTING_MAX_BYTES`` or a read stalled longer than ``read_timeout`` is
``DvrTransferError``. A listing is read in chunks and abandoned at the cap, never whole.

Covers: PB-06, DT-10.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Self
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import aiohttp
from yarl import URL

from guarita.adapters.dvr._http_listing import parse_listing
from guarita.adapters.dvr.source import CHUNK_BYTES, LISTING_MAX_BYTES, RemoteEntry
from guarita.adapters.dvr.sources import redact_url
from guarita.errors import DvrAuthError, DvrError, DvrFolderMissing, DvrTransferError, DvrUnreachable

__all__ = ["HttpDvrSource"]

_LOGGER = logging.getLogger(__name__)


class HttpDvrSource:
    """A DVR reached at an ``http(s)://[user@]host[:port]/path/`` base URL."""

    def __init__(
        self,
        url: str,
        *,
        password: str | None = None,
        verify_tls: bool = True,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        """Prepare the source; nothing is contacted until a method is called.

        Args:
            url: Base URL of the DVR's file tree; a password in it is used only when
                ``password`` is None (the config never puts one there).
            password: HTTP Basic password for the URL's user.
            verify_tls: https only: False accepts a self-signed certificate.
            connect_timeout: Seconds to resolve and connect before ``DvrUnreachable``.
            read_timeout: Seconds without a byte before ``DvrTransferError``.
            session: A session to share; by default one is opened by ``async with``.
        """
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"not an http(s) URL: {redact_url(url)}")
        self._display = redact_url(url)
        user = unquote(parts.username) if parts.username else ""
        if password is None and parts.password:
            password = unquote(parts.password)
        credentials = f"{user}:{password or ''}".encode()
        self._authorization = f"Basic {base64.b64encode(credentials).decode()}" if user or password else None
        path = parts.path if parts.path.endswith("/") else parts.path + "/"
        self._root_path = path
        self._base = urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], path, "", ""))
        self._ssl = verify_tls
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=connect_timeout, sock_connect=connect_timeout, sock_read=read_timeout
        )
        self._read_timeout = read_timeout
        self._given_session = session
        self._session: aiohttp.ClientSession | None = session
        self._range_warned = False

    @property
    def display(self) -> str:
        """The source's URL without credentials, for logs and errors."""
        return self._display

    def __repr__(self) -> str:
        return f"HttpDvrSource({self._display!r})"

    async def __aenter__(self) -> Self:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None and self._given_session is None:
            await self._session.close()
            self._session = None

    async def list_folder(self, folder: str) -> list[RemoteEntry]:
        """Entries of ``folder`` ("" is the root); ``DvrFolderMissing`` when it answers 404."""
        path = self._root_path + _quote_folder(folder)
        what = f"folder {folder or '/'!r}"
        try:
            async with self._request("GET", path) as response:
                if response.status == 404:
                    raise DvrFolderMissing(f"DVR {self._display}: {what} is not there (HTTP 404)")
                self._check(response, what)
                body = await self._capped_body(response, what)
                content_type = response.content_type
        except aiohttp.ClientError as exc:
            raise self._translate(exc, what) from exc
        try:
            return parse_listing(body, content_type, path)
        except ValueError as exc:
            raise DvrTransferError(f"DVR {self._display}: cannot read the listing of {what}: {exc}") from exc

    async def _capped_body(self, response: aiohttp.ClientResponse, what: str) -> bytes:
        """A listing's body, refused as soon as it passes ``LISTING_MAX_BYTES``."""
        too_big = DvrTransferError(
            f"DVR {self._display}: the listing of {what} is larger than {LISTING_MAX_BYTES} bytes; refused "
            "(a DVR folder listing is far smaller: check the DVR's web server)"
        )
        if response.content_length is not None and response.content_length > LISTING_MAX_BYTES:
            raise too_big
        body = bytearray()
        async for chunk in response.content.iter_chunked(CHUNK_BYTES):
            body += chunk
            if len(body) > LISTING_MAX_BYTES:
                raise too_big
        return bytes(body)

    async def size(self, folder: str, name: str) -> int:
        """Exact size in bytes of one file, from a HEAD request's Content-Length."""
        what = f"file {folder}/{name}"
        try:
            async with self._request("HEAD", self._file_path(folder, name)) as response:
                self._check(response, what)
                length = response.content_length
        except aiohttp.ClientError as exc:
            raise self._translate(exc, what) from exc
        if length is None:
            raise DvrTransferError(f"DVR {self._display}: no Content-Length for {what}")
        return length

    async def fetch(self, folder: str, name: str, offset: int) -> AsyncIterator[bytes]:
        """The file's bytes from ``offset`` (resumed with Range), in chunks of at most CHUNK_BYTES."""
        what = f"file {folder}/{name}"
        headers = {"Accept-Encoding": "identity"}
        if offset > 0:
            headers["Range"] = f"bytes={offset}-"
        try:
            async with self._request("GET", self._file_path(folder, name), headers) as response:
                if response.status == 416 and offset > 0:
                    total = response.headers.get("Content-Range", "").rpartition("/")[2]
                    if total == str(offset):
                        return  # nothing left after offset
                    raise DvrTransferError(
                        f"DVR {self._display}: offset {offset} is past the end of {what} ({total} B)"
                    )
                self._check(response, what)
                skip = self._skip_for(response, offset, what)
                expected = response.content_length
                received = 0
                async for chunk in response.content.iter_chunked(CHUNK_BYTES):
                    received += len(chunk)
                    if skip:
                        dropped = min(skip, len(chunk))
                        chunk, skip = chunk[dropped:], skip - dropped
                    if chunk:
                        yield chunk
                if expected is not None and received < expected:
                    raise DvrTransferError(
                        f"DVR {self._display}: {what} ended after {received} of {expected} bytes"
                    )
                if skip:
                    raise DvrTransferError(f"DVR {self._display}: {what} is shorter than the offset {offset}")
        except aiohttp.ClientError as exc:
            raise self._translate(exc, what) from exc

    def _skip_for(self, response: aiohttp.ClientResponse, offset: int, what: str) -> int:
        """How many leading body bytes to drop so the first yielded byte is at ``offset``."""
        if offset == 0:
            return 0
        if response.status == 206:
            content_range = response.headers.get("Content-Range", "")
            if not content_range.startswith(f"bytes {offset}-"):
                raise DvrTransferError(
                    f"DVR {self._display}: asked {what} from byte {offset}, got range {content_range!r}"
                )
            return 0
        if not self._range_warned:
            self._range_warned = True
            _LOGGER.info("DVR %s ignores HTTP Range; resuming downloads re-reads them from the start", self._display)
        return offset

    @asynccontextmanager
    async def _request(
        self, method: str, path: str, headers: dict[str, str] | None = None
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        if self._session is None:
            raise RuntimeError("use the source as 'async with source:' first")
        url = URL(self._base, encoded=True).with_path(path, encoded=True)
        headers = dict(headers or {})
        if self._authorization is not None:
            headers["Authorization"] = self._authorization  # HTTP Basic, UTF-8 (RFC 7617)
        async with self._session.request(
            method, url, headers=headers, timeout=self._timeout, ssl=self._ssl
        ) as response:
            yield response

    def _file_path(self, folder: str, name: str) -> str:
        return self._root_path + _quote_folder(folder) + quote(name, safe="")

    def _check(self, response: aiohttp.ClientResponse, what: str) -> None:
        if response.status in (401, 403):
            raise DvrAuthError(
                f"DVR {self._display} refused the credentials (HTTP {response.status}) for {what}; "
                "check the user in the source URL and password_file/password_env"
            )
        if not 200 <= response.status < 300:
            raise DvrTransferError(f"DVR {self._display}: HTTP {response.status} {response.reason or ''} for {what}")

    def _translate(self, exc: aiohttp.ClientError, what: str) -> DvrError:
        if isinstance(exc, aiohttp.ClientSSLError):
            return DvrTransferError(
                f"DVR {self._display}: TLS failed for {what} ({exc.os_error}); "
                "for a self-signed DVR certificate set verify_tls: false"
            )
        if isinstance(exc, aiohttp.ClientConnectorError):
            return DvrUnreachable(f"DVR {self._display} does not answer ({exc.os_error}) for {what}")
        if isinstance(exc, aiohttp.ConnectionTimeoutError):
            return DvrUnreachable(f"DVR {self._display} does not answer within the connect timeout for {what}")
        if isinstance(exc, aiohttp.SocketTimeoutError):
            return DvrTransferError(f"DVR {self._display}: {what} stalled ({self._read_timeout:g} s without data)")
        reason = str(exc) or type(exc).__name__
        return DvrTransferError(f"DVR {self._display}: {what} broke off: {reason}")


def _quote_folder(folder: str) -> str:
    """``folder`` as a URL path ending in ``/`` ("" for the root), each segment quoted."""
    segments = [segment for segment in folder.split("/") if segment]
    return "".join(quote(segment, safe="") + "/" for segment in segments)
