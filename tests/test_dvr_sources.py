"""DVR sources against real servers: the aiohttp stand-in (three listing formats), a real
pyftpdlib server in a subprocess, and a folder with symlinks; plus recorded hostile listings
served by a real aiohttp server.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from pydantic import SecretStr

from guarita.adapters.dvr.folder_source import FolderDvrSource
from guarita.adapters.dvr.ftp_source import FtpDvrSource
from guarita.adapters.dvr.http_source import HttpDvrSource
from guarita.adapters.dvr.names import unsafe_name_reason
from guarita.adapters.dvr.source import CHUNK_BYTES, DvrSource, RemoteEntry
from guarita.adapters.dvr.sources import open_source, redact_url
from guarita.config import DvrConfig
from guarita.errors import DvrAuthError, DvrError, DvrFolderMissing, DvrTransferError, DvrUnreachable
from guarita.standin.dvr_ftp import DvrFtpServer
from guarita.standin.dvr_http import DvrHttpServer, ListingFormat
from guarita.standin.mosquitto import free_port
from guarita.standin.tls import TestPki

BIG = "20240501100000.mp4"
SMALL = "20240501100100.mp4"
ODD = "odd name%#1.mp4"  # needs quoting in a URL
PASSWORD = "Sup3r-Secret-pw"
FORMATS: list[ListingFormat] = ["nginx-json", "nginx-html", "apache-html"]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A DVR root: camera folders 1 and 2, a 2.5 MiB file, small ones and a symlink."""
    root = tmp_path / "dvr"
    (root / "1").mkdir(parents=True)
    (root / "2").mkdir()
    (root / "1" / BIG).write_bytes(os.urandom(CHUNK_BYTES * 2 + CHUNK_BYTES // 2))
    (root / "1" / SMALL).write_bytes(os.urandom(700))
    (root / "1" / ODD).write_bytes(b"odd")
    (root / "1" / "link.mp4").symlink_to(SMALL)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text("not the DVR's")
    (root / "2" / "escape").symlink_to(tmp_path / "outside")
    return root


async def collect(iterator: AsyncIterator[bytes]) -> tuple[bytes, list[int]]:
    chunks = [chunk async for chunk in iterator]
    return b"".join(chunks), [len(chunk) for chunk in chunks]


async def collect_until_error(iterator: AsyncIterator[bytes]) -> tuple[bytes, DvrError]:
    got = bytearray()
    with pytest.raises(DvrError) as caught:
        async for chunk in iterator:
            got += chunk
    return bytes(got), caught.value


def by_name(entries: list[RemoteEntry]) -> dict[str, RemoteEntry]:
    return {entry.name: entry for entry in entries}


# covers PB-06, DT-10
@pytest.mark.parametrize("listing", FORMATS)
async def test_http_listings_in_every_format_give_names_folders_and_sizes(tree: Path, listing: ListingFormat) -> None:
    async with DvrHttpServer(tree, listing=listing) as server, HttpDvrSource(server.url) as source:
        root = by_name(await source.list_folder(""))
        assert {name: entry.is_dir for name, entry in root.items()} == {"1": True, "2": True}
        files = by_name(await source.list_folder("1"))
        assert set(files) == {BIG, SMALL, ODD, "link.mp4"}  # decoded from the href
        assert not any(entry.is_dir or entry.is_link for entry in files.values())  # web servers follow links
        big_size = (tree / "1" / BIG).stat().st_size
        assert files[SMALL].size == 700 and files[ODD].size == 3
        assert files[BIG].size == (None if listing == "apache-html" else big_size)  # Apache says "2.5M"
        assert await source.size("1", BIG) == big_size  # HEAD gives the exact size
        with pytest.raises(DvrFolderMissing, match="HTTP 404"):  # no such camera folder
            await source.list_folder("9")
        assert source.display == server.url


# covers PB-06, DT-10
async def test_http_range_resume_sends_only_the_bytes_after_the_offset(tree: Path) -> None:
    data = (tree / "1" / BIG).read_bytes()
    offset = CHUNK_BYTES + 12345
    async with DvrHttpServer(tree) as server, HttpDvrSource(server.url) as source:
        got, sizes = await collect(source.fetch("1", BIG, offset))
        assert got == data[offset:]
        assert max(sizes) <= CHUNK_BYTES
        assert server.bytes_sent == len(data) - offset  # the first offset bytes did not cross again
        assert server.requests[-1] == (f"/dvr/1/{BIG}", f"bytes={offset}-")
        odd, _ = await collect(source.fetch("1", ODD, 0))
        assert odd == b"odd" and server.requests[-1] == ("/dvr/1/" + ODD, None)
        assert await collect(source.fetch("1", BIG, len(data))) == (b"", [])  # already complete
        with pytest.raises(DvrTransferError, match="past the end"):
            await collect(source.fetch("1", BIG, len(data) + 1))


# covers PB-06
async def test_http_dvr_ignoring_range_still_yields_the_bytes_from_the_offset(
    tree: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = (tree / "1" / BIG).read_bytes()
    caplog.set_level(logging.INFO, logger="guarita.adapters.dvr")
    async with DvrHttpServer(tree) as server, HttpDvrSource(server.url) as source:
        server.ignore_range = True
        for offset in (1000, CHUNK_BYTES + 1):
            got, sizes = await collect(source.fetch("1", BIG, offset))
            assert got == data[offset:] and max(sizes) <= CHUNK_BYTES
        assert server.bytes_sent == 2 * len(data)
    notes = [r for r in caplog.records if "ignores HTTP Range" in r.getMessage()]
    assert len(notes) == 1 and notes[0].levelno == logging.INFO  # once per source, not per file


# covers PB-06
async def test_http_cut_transfer_raises_after_yielding_what_came_and_resumes(tree: Path) -> None:
    data = (tree / "1" / BIG).read_bytes()
    async with DvrHttpServer(tree) as server, HttpDvrSource(server.url) as source:
        server.cut_after_bytes = 700_000
        got, error = await collect_until_error(source.fetch("1", BIG, 0))
        assert isinstance(error, DvrTransferError)
        assert server.url in str(error) and BIG in str(error)
        assert 0 < len(got) <= 700_000 and data.startswith(got)
        rest, _ = await collect(source.fetch("1", BIG, len(got)))
        assert got + rest == data
        assert server.bytes_sent == 700_000 + len(data) - len(got)


# covers PB-06
async def test_http_stalled_read_is_a_transfer_error() -> None:
    release, finished = asyncio.Event(), asyncio.Event()

    async def stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nContent-Type: video/mp4\r\n\r\n" + b"x" * 10)
            await writer.drain()
            await release.wait()  # then nothing more: the DVR hangs mid-body
        finally:
            writer.close()
            finished.set()

    server = await asyncio.start_server(stall, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with HttpDvrSource(f"http://127.0.0.1:{port}/", read_timeout=0.3) as source:
            got, error = await collect_until_error(source.fetch("1", BIG, 0))
        assert isinstance(error, DvrTransferError) and "stalled" in str(error)
        assert got == b"x" * 10
    finally:
        release.set()
        await asyncio.wait_for(finished.wait(), 5)
        server.close()
        await server.wait_closed()


# covers PB-06
@pytest.mark.parametrize("scheme", ["http", "ftp", "dns"])
async def test_a_dvr_that_does_not_answer_is_unreachable(scheme: str, tmp_path: Path) -> None:
    port = free_port()
    source: DvrSource
    if scheme == "ftp":
        source = FtpDvrSource(f"ftp://dvr@127.0.0.1:{port}/", password=PASSWORD)
    else:
        host = "dvr-10234.invalid" if scheme == "dns" else f"127.0.0.1:{port}"
        source = HttpDvrSource(f"http://dvr@{host}/dvr/", password=PASSWORD, connect_timeout=3)
    with pytest.raises(DvrUnreachable) as caught:
        async with source:
            await source.list_folder("1")
    assert source.display in str(caught.value) and PASSWORD not in str(caught.value)


# covers PB-06
async def test_a_card_that_is_not_mounted_is_unreachable(tmp_path: Path) -> None:
    async with FolderDvrSource(tmp_path / "sd") as source:
        with pytest.raises(DvrUnreachable, match="inserted"):
            await source.list_folder("1")
        with pytest.raises(DvrUnreachable):
            await collect(source.fetch("1", BIG, 0))


# covers PB-06, DT-14
async def test_http_basic_auth_and_a_wrong_password_never_shows_the_password(
    tree: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with DvrHttpServer(tree, username="dvr", password=PASSWORD) as server:
        url = server.url.replace("http://", "http://dvr@")
        async with HttpDvrSource(url, password=PASSWORD) as source:
            assert {e.name for e in await source.list_folder("")} == {"1", "2"}
        async with HttpDvrSource(url, password="wrong-" + PASSWORD) as source:
            with pytest.raises(DvrAuthError) as caught:
                await source.list_folder("1")
            with pytest.raises(DvrAuthError):
                await collect(source.fetch("1", BIG, 0))
        leaky = server.url.replace("http://", f"http://dvr:{PASSWORD}@")  # a password in the URL is redacted
        async with HttpDvrSource(leaky) as source:
            assert PASSWORD not in source.display and PASSWORD not in repr(source)
            assert await source.size("1", SMALL) == 700
    assert "401" in str(caught.value) and "dvr@" in str(caught.value)
    assert PASSWORD not in str(caught.value) and PASSWORD not in caplog.text


# covers PB-06, DT-14
async def test_ftp_login_and_a_wrong_password_never_shows_the_password(
    tree: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # aioftp logs every command at DEBUG
    async with DvrFtpServer(tree, user="dvr", password=PASSWORD) as server:
        async with FtpDvrSource(server.url, password=PASSWORD) as source:
            assert {e.name for e in await source.list_folder("")} == {"1", "2"}
        with pytest.raises(DvrAuthError) as caught:
            async with FtpDvrSource(server.url, password="wrong-" + PASSWORD):
                pass
    assert "530" in str(caught.value) and server.url in str(caught.value)
    assert PASSWORD not in str(caught.value) and PASSWORD not in caplog.text


# covers PB-06, DT-10
@pytest.mark.parametrize("mlsd", [True, False], ids=["mlsd", "list-fallback"])
async def test_ftp_listing_gives_sizes_and_flags_symlinks(tree: Path, mlsd: bool) -> None:
    async with DvrFtpServer(tree, user="dvr", password=PASSWORD, mlsd=mlsd) as server:
        async with FtpDvrSource(server.url, password=PASSWORD) as source:
            files = by_name(await source.list_folder("1"))
            assert set(files) == {BIG, SMALL, ODD, "link.mp4"}
            assert files[BIG].size == (tree / "1" / BIG).stat().st_size and files[SMALL].size == 700
            assert files["link.mp4"].is_link and not files["link.mp4"].is_dir
            escape = by_name(await source.list_folder("2"))["escape"]
            assert escape.is_link and not escape.is_dir  # a link to a folder is not a folder
            with pytest.raises(DvrFolderMissing, match="'9' is not there"):
                await source.list_folder("9")
            assert await source.size("1", BIG) == files[BIG].size


# covers PB-06
async def test_ftp_rest_resume_and_a_cut_transfer(tree: Path) -> None:
    data = (tree / "1" / BIG).read_bytes()
    offset = CHUNK_BYTES + 777
    async with DvrFtpServer(tree, user="dvr", password=PASSWORD) as server:
        async with FtpDvrSource(server.url, password=PASSWORD) as source:
            got, sizes = await collect(source.fetch("1", BIG, offset))
            assert got == data[offset:] and max(sizes) <= CHUNK_BYTES
            assert server.bytes_sent == len(data) - offset  # REST: nothing before the offset again
            server.cut_next_transfer(600_000)
            partial, error = await collect_until_error(source.fetch("1", BIG, 0))
            assert isinstance(error, DvrTransferError) and BIG in str(error) and "426" in str(error)
            assert partial == data[:600_000]
            rest, _ = await collect(source.fetch("1", BIG, len(partial)))  # same session carries on
            assert partial + rest == data
            assert await collect(source.fetch("1", BIG, len(data))) == (b"", [])


# covers PB-06, DT-10
async def test_folder_source_flags_symlinks_and_never_follows_them(tree: Path) -> None:
    data = (tree / "1" / BIG).read_bytes()
    async with FolderDvrSource.from_url(tree.as_uri()) as source:
        assert source.display == tree.as_uri()
        files = by_name(await source.list_folder("1"))
        assert files["link.mp4"] == RemoteEntry("link.mp4", is_dir=False, size=None, is_link=True)
        assert files[BIG].size == len(data) and files[ODD].size == 3
        assert by_name(await source.list_folder("2"))["escape"] == RemoteEntry("escape", is_link=True)
        assert by_name(await source.list_folder(""))["1"].is_dir
        with pytest.raises(DvrFolderMissing, match="'9' is not on the card"):
            await source.list_folder("9")
        with pytest.raises(DvrTransferError, match="symbolic link"):
            await collect(source.fetch("1", "link.mp4", 0))
        with pytest.raises(DvrTransferError, match="never followed"):
            await source.list_folder("2/escape")
        got, sizes = await collect(source.fetch("1", BIG, 5))
        assert got == data[5:] and sizes[0] == CHUNK_BYTES
        assert await source.size("1", BIG) == len(data)


HOSTILE_JSON = '[{"name":"../../etc/passwd","type":"file","mtime":"x","size":1},{"name":"ok.mp4","type":"file"}]'
HOSTILE_NGINX = (
    "<html><head><title>Index of /dvr/1/</title></head><body><h1>Index of /dvr/1/</h1><hr><pre>"
    '<a href="../">../</a>\n<a href="..%2F..%2Fetc%2Fshadow">..&gt;</a>  01-May-2024 10:01  42\n'
    '<a href="/dvr/2/.hidden">.hidden</a>  01-May-2024 10:01  7\n</pre><hr></body></html>'
)


# covers PB-06, DT-10
async def test_path_traversal_names_in_a_listing_are_returned_verbatim_for_the_caller_to_refuse() -> None:
    async def json_listing(request: web.Request) -> web.Response:
        return web.Response(text=HOSTILE_JSON, content_type="application/json")

    async def html_listing(request: web.Request) -> web.Response:
        return web.Response(text=HOSTILE_NGINX, content_type="text/html")

    app = web.Application()
    app.router.add_get("/dvr/1/", json_listing)
    app.router.add_get("/dvr/2/", html_listing)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        async with HttpDvrSource(f"http://127.0.0.1:{runner.addresses[0][1]}/dvr/") as source:
            from_json = by_name(await source.list_folder("1"))
            from_html = by_name(await source.list_folder("2"))
    finally:
        await runner.cleanup()
    assert set(from_json) == {"../../etc/passwd", "ok.mp4"} and from_json["ok.mp4"].size is None
    assert set(from_html) == {"../../etc/shadow", ".hidden"} and from_html["../../etc/shadow"].size == 42
    for name in [*from_json, *from_html]:
        assert (unsafe_name_reason(name) is None) == (name == "ok.mp4")


# covers PB-06
async def test_answers_that_make_no_sense_are_transfer_errors_naming_the_dvr_and_file() -> None:
    pages = {
        "/dvr/login/": web.Response(
            text="<html><title>DVR login</title><a href='x.mp4'>x</a></html>", content_type="text/html"
        ),
        "/dvr/garbled/": web.Response(text='[{"name": 1}]', content_type="application/json"),
        "/dvr/binary/": web.Response(body=b"\x00\x01", content_type="application/octet-stream"),
        "/dvr/broken/": web.Response(status=500, text="oops"),
    }

    async def answer(request: web.Request) -> web.Response:
        return pages.get(request.path) or web.Response(status=404)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        async with HttpDvrSource(f"http://127.0.0.1:{runner.addresses[0][1]}/dvr") as source:
            for folder, why in [("login", "Index of"), ("garbled", "without a name"), ("binary", "not a directory"),
                                ("broken", "HTTP 500")]:
                with pytest.raises(DvrTransferError, match=why) as caught:
                    await source.list_folder(folder)
                assert source.display in str(caught.value) and folder in str(caught.value)
            with pytest.raises(DvrTransferError, match=f"HTTP 404.*1/{BIG}"):
                await collect(source.fetch("1", BIG, 0))
            with pytest.raises(DvrTransferError, match="HTTP 404"):
                await source.size("1", BIG)
    finally:
        await runner.cleanup()


# covers PB-06
async def test_the_http_standin_refuses_paths_climbing_out_of_its_root(tree: Path) -> None:
    async def status(port: int, path: str) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: dvr\r\nConnection: close\r\n\r\n".encode())
        answer = await reader.read()
        writer.close()
        await writer.wait_closed()
        return answer.split()[1]

    async with DvrHttpServer(tree) as server:
        for path in ("/dvr/../outside/secret.txt", "/dvr/%2e%2e/outside/secret.txt", "/dvr/1/..%2F..%2Fx"):
            assert await status(server.port, path) == b"400", path
        assert await status(server.port, "/dvr/2/escape/secret.txt") == b"404"  # a symlink out of root
        assert await status(server.port, f"/dvr/1/{SMALL}") == b"200"
        assert server.bytes_sent == 700


# covers PB-06
async def test_https_verifies_the_dvr_certificate_unless_told_not_to(tree: Path, pki: TestPki) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    async with DvrHttpServer(tree, ssl_context=context) as server:
        assert server.url.startswith("https://")
        async with HttpDvrSource(server.url) as source:  # the test CA is not trusted here
            with pytest.raises(DvrTransferError, match="verify_tls"):
                await source.list_folder("1")
        async with HttpDvrSource(server.url, verify_tls=False) as source:
            assert SMALL in by_name(await source.list_folder("1"))


def dvr_config(source: str, password: str | None) -> DvrConfig:
    dvr = DvrConfig(serial="DVR-1", source=source, cameras={1: "interior", 2: "front"}, password_env="DVR_PW")
    dvr._password = SecretStr(password) if password else None  # what the config loader does
    return dvr


# covers PB-06, DT-14
async def test_open_source_picks_the_transport_by_scheme_and_redacts(tree: Path) -> None:
    assert redact_url(f"ftp://dvr:{PASSWORD}@10.0.0.7:2121/rec/") == "ftp://dvr@10.0.0.7:2121/rec/"
    assert redact_url(f"http://:{PASSWORD}@10.0.0.7/") == "http://10.0.0.7/"
    assert redact_url("file:///mnt/sd") == "file:///mnt/sd"
    assert isinstance(open_source(dvr_config("https://dvr@10.0.0.7/dvr/", PASSWORD)), HttpDvrSource)
    assert isinstance(open_source(dvr_config("ftp://dvr@10.0.0.7/", PASSWORD)), FtpDvrSource)
    folder = open_source(dvr_config(tree.as_uri(), None))
    assert isinstance(folder, FolderDvrSource)
    async with folder:
        assert SMALL in by_name(await folder.list_folder("1"))
    with pytest.raises(DvrError, match="scheme") as caught:
        open_source(dvr_config(f"smb://dvr:{PASSWORD}@10.0.0.7/share", PASSWORD))
    assert PASSWORD not in str(caught.value)
    async with DvrHttpServer(tree, username="dvr", password=PASSWORD) as server:
        source = open_source(dvr_config(server.url.replace("http://", "http://dvr@"), PASSWORD))
        async with source:
            assert await source.size("1", SMALL) == 700
