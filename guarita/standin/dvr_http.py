"""A bus DVR's HTTP file server: a folder served the way nginx or Apache would serve it.

:class:`DvrHttpServer` serves ``root`` under ``/dvr/`` on a free 127.0.0.1 port, with
directory listings in one of three formats: nginx ``autoindex_format json``, nginx's HTML
autoindex (``<pre>`` lines, exact byte sizes) or Apache's ``mod_autoindex`` table (human
sizes such as ``1.2M``). Files support ``HEAD`` and single ``Range: bytes=`` requests (206
with ``Content-Range``, 416 past the end); a folder asked for without its trailing slash is
redirected (301), as nginx does. With ``username``/``password`` every request needs HTTP
Basic auth (401 otherwise).

Fault hooks for tests: ``cut_after_bytes`` makes the next file GET send that many body bytes
and drop the connection (the hook then resets); ``ignore_range`` answers every GET with the
whole file (200), like DVR firmware without Range support. ``bytes_sent`` counts file body
bytes actually written and ``requests`` records ``(path, Range header)`` of every request.

Hostile DVRs, for the bounds on what Guarita reads: ``extra_body[path]`` (``path`` relative
to ``root``, e.g. ``"1/20261120080000.mp4"``) appends that many bytes of zeros to the file's
GET body, or sends zeros without end when it is None (no Content-Length then), while the
listing still gives the file's real size; ``endless_listing`` makes every folder listing an
nginx JSON array that never ends; ``folder_status`` answers every folder listing with that
HTTP status (404: the camera folders are not there).
A path with an empty, ``.`` or ``..`` segment is refused (400, as nginx refuses a path
climbing above its root); one that resolves outside ``root`` through a symlink is not found
(404).

Covers: PB-06, DT-10.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import html
import json
import os
import stat
from datetime import UTC, datetime
from pathlib import Path
from ssl import SSLContext
from types import TracebackType
from typing import Literal, Self
from urllib.parse import quote, unquote

from aiohttp import web

__all__ = ["DvrHttpServer", "ListingFormat"]

ListingFormat = Literal["nginx-json", "nginx-html", "apache-html"]

_PREFIX = "/dvr/"
_CHUNK = 64 * 1024


def _read_at(path: Path, offset: int, count: int) -> bytes:
    with path.open("rb") as file:
        file.seek(offset)
        return file.read(count)


def _human_size(size: int) -> str:
    """Apache's ``apr_strfsize`` style: bytes below 973, else 1.2K, 12K, 1.2M ..."""
    if size < 973:
        return str(size)
    value = float(size)
    for unit in "KMGTP":
        value /= 1024
        if value < 973 or unit == "P":
            return f"{value:.1f}{unit}" if value < 9.95 else f"{round(value)}{unit}"
    raise AssertionError("unreachable")


class DvrHttpServer:
    """Serves ``root`` as a DVR's file tree at ``http://127.0.0.1:<port>/dvr/``.

    ``port`` 0 picks a free port at the first ``start()``; a restart reuses it, so a bus
    that leaves and comes back is at the same URL. With ``ssl_context`` it serves https.
    """

    def __init__(
        self,
        root: Path,
        *,
        listing: ListingFormat = "nginx-json",
        username: str | None = None,
        password: str | None = None,
        port: int = 0,
        ssl_context: SSLContext | None = None,
    ) -> None:
        self.root = root.resolve()
        self.port = port  # 0: a free port, chosen at the first start and kept for restarts
        self.listing: ListingFormat = listing
        self.cut_after_bytes: int | None = None
        self.ignore_range = False
        self.bytes_sent = 0
        self.requests: list[tuple[str, str | None]] = []
        self.extra_body: dict[str, int | None] = {}
        self.endless_listing = False
        self.folder_status: int | None = None
        self._credentials = (username, password) if username is not None else None
        self._ssl = ssl_context
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """The base URL (``http://127.0.0.1:<port>/dvr/``); empty until a port is known."""
        scheme = "https" if self._ssl is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}{_PREFIX}" if self.port else ""

    async def start(self) -> str:
        """Listen on 127.0.0.1 (``port``, or a free one) and return the base URL."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", self.port, ssl_context=self._ssl).start()
            self.port = int(runner.addresses[0][1])
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        return self.url

    async def stop(self) -> None:
        """Close the listener and every open connection."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def _authorised(self, request: web.Request) -> bool:
        if self._credentials is None:
            return True
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            given = base64.b64decode(encoded, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, _, password = given.partition(":")
        return hmac.compare_digest(f"{user}:{password}", f"{self._credentials[0]}:{self._credentials[1]}")

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((request.path, request.headers.get("Range")))
        if not self._authorised(request):
            return web.Response(
                status=401, text="401 Authorization Required", headers={"WWW-Authenticate": 'Basic realm="DVR"'}
            )
        if request.method not in ("GET", "HEAD"):
            return web.Response(status=405, text="405 Not Allowed")
        segments = _segments(request.raw_path)
        if segments is None:
            return web.Response(status=400, text="400 Bad Request")
        target = self.root.joinpath(*segments)
        if not target.resolve().is_relative_to(self.root) or not target.exists():
            return web.Response(status=404, text="404 Not Found")
        if target.is_dir():
            if not request.raw_path.partition("?")[0].endswith("/"):
                raise web.HTTPMovedPermanently(location=request.raw_path.partition("?")[0] + "/")
            if self.folder_status is not None:
                return web.Response(status=self.folder_status, text=f"{self.folder_status} DVR says no")
            if self.endless_listing:
                return await self._endless_listing(request)
            return self._listing(target, "".join(f"/{s}" for s in segments))
        relative = "/".join(segments)
        if relative in self.extra_body:
            return await self._overlong(request, target, self.extra_body[relative])
        return await self._file(request, target)

    async def _endless_listing(self, request: web.Request) -> web.StreamResponse:
        """An nginx JSON listing that never ends (chunked, no Content-Length)."""
        response = web.StreamResponse()
        response.content_type = "application/json"
        await response.prepare(request)
        entry = b'{ "name":"20261120080000.mp4", "type":"file", "mtime":"Fri, 20 Nov 2026 11:00:00 GMT", "size":1 },\n'
        block = b"[\n" + entry * (_CHUNK // len(entry))
        try:
            while True:
                await response.write(block)
                self.bytes_sent += len(block)
                block = entry * (_CHUNK // len(entry))
        except (ConnectionResetError, ConnectionError):
            return response

    async def _overlong(self, request: web.Request, path: Path, extra: int | None) -> web.StreamResponse:
        """The file's bytes, then ``extra`` zeros (None: zeros without end); Range is ignored."""
        data = await asyncio.to_thread(path.read_bytes)
        response = web.StreamResponse()
        response.content_type = "application/octet-stream"
        if extra is not None:
            response.content_length = len(data) + extra
        await response.prepare(request)
        if request.method == "HEAD":
            return response
        zeros = bytes(_CHUNK)
        left = extra
        try:
            await response.write(data)
            self.bytes_sent += len(data)
            while left is None or left > 0:
                block = zeros if left is None else zeros[: min(left, _CHUNK)]
                await response.write(block)
                self.bytes_sent += len(block)
                if left is not None:
                    left -= len(block)
        except (ConnectionResetError, ConnectionError):
            return response
        await response.write_eof()
        return response

    def _listing(self, folder: Path, shown: str) -> web.Response:
        entries: list[tuple[str, bool, os.stat_result]] = []
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            try:
                info = entry.stat()  # nginx and Apache follow symlinks
            except OSError:
                continue
            entries.append((entry.name, stat.S_ISDIR(info.st_mode), info))
        title = f"{_PREFIX.rstrip('/')}{shown}/"
        if self.listing == "nginx-json":
            return web.Response(text=_nginx_json(entries), content_type="application/json")
        body = _nginx_html(title, entries) if self.listing == "nginx-html" else _apache_html(title, entries)
        return web.Response(text=body, content_type="text/html")

    async def _file(self, request: web.Request, path: Path) -> web.StreamResponse:
        size = path.stat().st_size
        start, end, status = 0, size, 200
        range_header = request.headers.get("Range")
        if range_header and not self.ignore_range:
            wanted = _parse_range(range_header, size)
            if wanted == "unsatisfiable":
                return web.Response(status=416, headers={"Content-Range": f"bytes */{size}"})
            if wanted is not None:
                start, end, status = wanted[0], wanted[1], 206
        response = web.StreamResponse(status=status)
        response.content_type = "video/mp4" if path.suffix == ".mp4" else "application/octet-stream"
        response.content_length = end - start
        response.last_modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        if not self.ignore_range:
            response.headers["Accept-Ranges"] = "bytes"
        if status == 206:
            response.headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
        await response.prepare(request)
        if request.method == "HEAD":
            return response
        cut, self.cut_after_bytes = self.cut_after_bytes, None
        position = start
        while position < end:
            count = min(_CHUNK, end - position)
            if cut is not None:
                count = min(count, cut - (position - start))
            if count > 0:
                data = await asyncio.to_thread(_read_at, path, position, count)
                try:
                    await response.write(data)
                except ConnectionResetError:
                    return response  # the client left mid-file
                self.bytes_sent += len(data)
                position += len(data)
            if cut is not None and position - start >= cut:
                assert request.transport is not None
                request.transport.abort()  # the Wi-Fi drops: no more bytes, no clean end
                return response
        await response.write_eof()
        return response


def _segments(raw_path: str) -> list[str] | None:
    """The decoded segments of a path under ``/dvr/``; None for anything climbing out."""
    path = raw_path.partition("?")[0]
    if not path.startswith(_PREFIX):
        return None
    segments = [unquote(part) for part in path[len(_PREFIX) :].split("/")]
    if segments[-1] == "":
        segments.pop()  # a folder's trailing slash
    if any(part in ("", ".", "..") or "/" in part or "\x00" in part for part in segments):
        return None
    return segments


def _parse_range(header: str, size: int) -> tuple[int, int] | Literal["unsatisfiable"] | None:
    """``(start, end_exclusive)`` of a single ``bytes=`` range; None to ignore the header."""
    unit, _, spec = header.partition("=")
    if unit.strip() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash or not (first.isdigit() or last.isdigit()):
        return None
    if not first:  # suffix: the last N bytes
        length = int(last)
        return (max(size - length, 0), size) if length else "unsatisfiable"
    start = int(first)
    if start >= size:
        return "unsatisfiable"
    end = min(int(last) + 1, size) if last.isdigit() else size
    return (start, end) if end > start else None


def _nginx_json(entries: list[tuple[str, bool, os.stat_result]]) -> str:
    lines = []
    for name, is_dir, info in entries:
        mtime = datetime.fromtimestamp(info.st_mtime, UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
        kind = "directory" if is_dir else "file"
        size = "" if is_dir else f', "size":{info.st_size}'
        lines.append(f'{{ "name":{json.dumps(name)}, "type":"{kind}", "mtime":"{mtime}"{size} }}')
    return "[\n" + ",\n".join(lines) + "\n]\n"


def _nginx_html(title: str, entries: list[tuple[str, bool, os.stat_result]]) -> str:
    rows = ['<a href="../">../</a>'] if title != _PREFIX else []
    for name, is_dir, info in entries:
        shown = name + ("/" if is_dir else "")
        text = shown if len(shown) <= 50 else shown[:47] + "..>"
        size = "-" if is_dir else str(info.st_size)
        date = datetime.fromtimestamp(info.st_mtime, UTC).strftime("%d-%b-%Y %H:%M")
        href = quote(shown)
        rows.append(f'<a href="{href}">{html.escape(text)}</a>{" " * (51 - len(text))}{date} {size:>19}')
    return (
        f"<html>\r\n<head><title>Index of {html.escape(title)}</title></head>\r\n<body>\r\n"
        f"<h1>Index of {html.escape(title)}</h1><hr><pre>" + "\r\n".join(rows) + "\r\n</pre><hr></body>\r\n</html>\r\n"
    )


def _apache_html(title: str, entries: list[tuple[str, bool, os.stat_result]]) -> str:
    shown_title = html.escape(title.rstrip("/") or "/")
    rows = [
        '<tr><th valign="top"><img src="/icons/blank.gif" alt="[ICO]"></th><th><a href="?C=N;O=D">Name</a></th>'
        '<th><a href="?C=M;O=A">Last modified</a></th><th><a href="?C=S;O=A">Size</a></th>'
        '<th><a href="?C=D;O=A">Description</a></th></tr>',
        '<tr><th colspan="5"><hr></th></tr>',
    ]
    if title != _PREFIX:
        parent = quote(title.rstrip("/").rpartition("/")[0] + "/")
        rows.append(
            '<tr><td valign="top"><img src="/icons/back.gif" alt="[PARENTDIR]"></td>'
            f'<td><a href="{parent}">Parent Directory</a></td><td>&nbsp;</td><td align="right">  - </td>'
            "<td>&nbsp;</td></tr>"
        )
    for name, is_dir, info in entries:
        shown = name + ("/" if is_dir else "")
        icon, alt = ("folder.gif", "[DIR]") if is_dir else ("movie.gif", "[VID]")
        size = "  - " if is_dir else _human_size(info.st_size)
        date = datetime.fromtimestamp(info.st_mtime).strftime("%Y-%m-%d %H:%M")
        rows.append(
            f'<tr><td valign="top"><img src="/icons/{icon}" alt="{alt}"></td>'
            f'<td><a href="{quote(shown)}">{html.escape(shown)}</a></td>'
            f'<td align="right">{date}  </td><td align="right">{size}</td><td>&nbsp;</td></tr>'
        )
    rows.append('<tr><th colspan="5"><hr></th></tr>')
    return (
        '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">\n<html>\n <head>\n'
        f"  <title>Index of {shown_title}</title>\n </head>\n <body>\n<h1>Index of {shown_title}</h1>\n"
        "  <table>\n   " + "\n".join(rows) + "\n</table>\n"
        "<address>Apache/2.4.62 (Debian) Server at 127.0.0.1 Port 80</address>\n</body></html>\n"
    )
